// `losscape render`: surface files to a PNG figure, a thin shell over renderFigureFiles.
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import { renderFigureFiles } from '../node/render.js';

interface RenderCliOptions {
  out: string;
  view: '3d' | 'contour';
  scale: 'shared' | 'own';
  log: boolean;
  zmax?: number;
  colormap: string;
  width?: number;
  height?: number;
  wireframe: boolean;
  azimuth?: number;
  elevation?: number;
  path: boolean;
}

/** commander parser for a finite number, so that a bad value is named before any work starts. */
export function finiteNumber(text: string): number {
  const v = Number(text);
  if (text.trim() === '' || !Number.isFinite(v)) throw new InvalidArgumentError(`expected a number, got "${text}"`);
  return v;
}

export function renderCommand(): Command {
  return new Command('render')
    .description('draw surface files (from losscape landscape) as a PNG figure: one panel each, side by side, on one shared scale')
    .argument('<files...>', 'surface files (.json)')
    .requiredOption('-o, --out <file>', 'the PNG to write')
    .addOption(new Option('--view <kind>', '3d: a lit surface; contour: a heatmap with contour lines (lines are always line plots)').choices(['3d', 'contour']).default('3d'))
    .addOption(new Option('--scale <mode>', 'shared: one colour and height scale for every panel; own: each its own').choices(['shared', 'own']).default('shared'))
    .option('--log', 'log scale for the loss', false)
    .option('--zmax <value>', 'clip losses above this value', finiteNumber)
    .option('--colormap <name>', 'a d3-scale-chromatic colormap: viridis, magma, inferno, plasma, cividis, turbo, ...', 'viridis')
    .option('--width <px>', 'figure width in pixels (default: about 480 per panel)', finiteNumber)
    .option('--height <px>', 'figure height in pixels', finiteNumber)
    .option('--wireframe', 'grid lines over the 3-D surface', false)
    .option('--azimuth <degrees>', '3-D camera azimuth (default -60)', finiteNumber)
    .option('--elevation <degrees>', '3-D camera elevation (default 30)', finiteNumber)
    .option('--no-path', 'leave out the training path / plane3 points')
    .action(async (files: string[], o: RenderCliOptions) => {
      const dir = path.dirname(path.resolve(o.out));
      if (!existsSync(dir)) throw new Error(`--out ${o.out}: the folder ${dir} does not exist`);
      const warnings: string[] = [];
      const png = await renderFigureFiles(files, {
        view: o.view, scale: o.scale, log: o.log, zmax: o.zmax, colormap: o.colormap, width: o.width, height: o.height,
        wireframe: o.wireframe, azimuth: o.azimuth, elevation: o.elevation, path: o.path,
        warn: (m) => {
          warnings.push(m);
          console.error(`losscape render: warning: ${m}`);
        },
      });
      writeFileSync(o.out, png);
      console.log(JSON.stringify({ out: o.out, panels: files.length, view: o.view, scale: o.scale, log: o.log, zmax: o.zmax ?? null, warnings }));
    });
}
