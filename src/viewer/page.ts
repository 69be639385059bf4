// The pages' HTML (the viewer's, the live page's): the page's style, the mount point, the script
// (an address or inline), and optionally the surfaces and options embedded as JSON, for a
// self-contained file. The components bring their own styles (mountViewer, mountLive).
import type { FigureOptions } from '../render/figure.js';
import type { NamedSurface } from '../render/surface-check.js';

const STYLE = `
body { margin: 0; font: 14px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #222; background: #fff; }
`;

/** JSON that is safe inside a <script> element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

export interface ViewerPageOptions {
  /** the viewer bundle: its address, or its text to inline */
  script: { src: string } | { inline: string };
  /** surfaces (and figure options) to show without fetching anything */
  data?: { surfaces: NamedSurface[]; options?: FigureOptions };
  title?: string;
  /** the id of the element the script mounts into (default losscape-viewer) */
  mount?: string;
}

export function viewerPage(o: ViewerPageOptions): string {
  const title = (o.title ?? 'losscape viewer').replace(/[<&]/g, (c) => (c === '<' ? '&lt;' : '&amp;'));
  const data = o.data ? `<script type="application/json" id="losscape-data">${scriptJson(o.data)}</script>\n` : '';
  const script = 'src' in o.script ? `<script type="module" src="${o.script.src}"></script>` : `<script type="module">${o.script.inline.replace(/<\/script/gi, '<\\/script')}</script>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title}</title>
<style>${STYLE}</style>
</head>
<body>
<div id="${o.mount ?? 'losscape-viewer'}"></div>
${data}${script}
</body>
</html>
`;
}
