// The viewer's HTML page: styles, the mount point, the script (an address or inline), and
// optionally the surfaces and options embedded as JSON, for a self-contained file.
import type { FigureOptions } from '../render/figure.js';
import type { NamedSurface } from '../render/surface-check.js';

const STYLE = `
body { margin: 0; font: 14px/1.4 "DejaVu Sans", "Liberation Sans", Arial, sans-serif; color: #222; background: #fff; }
.lc-viewer { padding: 8px 12px; }
.lc-toolbar { display: flex; flex-wrap: wrap; gap: 6px 16px; align-items: center; margin-bottom: 6px; }
.lc-toolbar label { display: inline-flex; gap: 4px; align-items: center; }
.lc-open input { max-width: 220px; }
.lc-viewer:not(.lc-many) .lc-scale { display: none; }
.lc-readout { display: block; min-height: 1.4em; font-variant-numeric: tabular-nums; margin-bottom: 4px; }
.lc-figure { position: relative; user-select: none; touch-action: none; }
.lc-figure canvas, .lc-overlay { position: absolute; left: 0; top: 0; }
.lc-overlay { pointer-events: none; }
.lc-marker { position: absolute; left: -5px; top: -5px; width: 8px; height: 8px; border: 1px solid #fff; border-radius: 50%; background: #000; pointer-events: none; }
.lc-messages { margin: 4px 0; padding-left: 18px; color: #555; }
.lc-messages .lc-error { color: #b00020; }
`;

/** JSON that is safe inside a <script> element. */
const scriptJson = (v: unknown) => JSON.stringify(v).replace(/</g, '\\u003c');

export interface ViewerPageOptions {
  /** the viewer bundle: its address, or its text to inline */
  script: { src: string } | { inline: string };
  /** surfaces (and figure options) to show without fetching anything */
  data?: { surfaces: NamedSurface[]; options?: FigureOptions };
  title?: string;
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
<div id="losscape-viewer"></div>
${data}${script}
</body>
</html>
`;
}
