// Where the viewer's surfaces come from: files named in the address (?file=a.json,
// ?files=a.json,b.json, fetched relative to the page), files picked by the user, or surfaces
// embedded in the page itself. Every one is checked before it is shown.
import type { FigureOptions } from '../render/figure.js';
import { checkSurface, parseSurface, type NamedSurface } from '../render/surface-check.js';

const baseName = (p: string) => decodeURIComponent(p.split('/').pop() || p);

/** The file addresses in ?file= and ?files= (comma-separated), in order. */
export function fileParams(search: string): string[] {
  const q = new URLSearchParams(search);
  return [...q.getAll('file'), ...q.getAll('files').flatMap((v) => v.split(','))].map((s) => s.trim()).filter(Boolean);
}

/** Figure options in the address: ?view=contour&log=1&scale=own&colormap=magma&zmax=3&wireframe=1. */
export function optionsFromParams(search: string): FigureOptions {
  const q = new URLSearchParams(search);
  const flag = (k: string) => (q.has(k) ? ['1', 'true', ''].includes(q.get(k)!) : undefined);
  const out: FigureOptions = {};
  if (q.has('view')) out.view = q.get('view') as FigureOptions['view'];
  if (q.has('scale')) out.scale = q.get('scale') as FigureOptions['scale'];
  if (q.has('colormap')) out.colormap = q.get('colormap')!;
  if (q.has('zmax')) out.zmax = Number(q.get('zmax'));
  if (flag('log') !== undefined) out.log = flag('log');
  if (flag('wireframe') !== undefined) out.wireframe = flag('wireframe');
  return out;
}

export async function fetchSurfaces(addresses: string[], base: string): Promise<NamedSurface[]> {
  return Promise.all(
    addresses.map(async (a) => {
      const url = new URL(a, base);
      let res: Response;
      try {
        res = await fetch(url);
      } catch (e) {
        throw new Error(`${a}: cannot fetch (${(e as Error).message})`);
      }
      if (!res.ok) throw new Error(`${a}: HTTP ${res.status} ${res.statusText}`);
      return { name: baseName(url.pathname), surface: parseSurface(await res.text(), a) };
    }),
  );
}

export async function readPickedFiles(files: Iterable<File>): Promise<NamedSurface[]> {
  return Promise.all([...files].map(async (f) => ({ name: f.name, surface: parseSurface(await f.text(), f.name) })));
}

/** Surfaces embedded as JSON ([{name, surface}]), checked. */
export function embeddedSurfaces(list: Array<{ name: string; surface: unknown }>): NamedSurface[] {
  return list.map((s) => ({ name: s.name, surface: checkSurface(s.surface, s.name) }));
}
