// Synthetic surfaces for the renderer's tests, reading pixels back from PNGs, and the browser the
// page tests run in.
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { expect } from 'vitest';
import { PNG } from 'pngjs';
import type { SurfaceFile } from '../src/landscape/surface.js';
import type { Rgb } from '../src/render/colormap.js';
import type { Figure } from '../src/render/figure.js';

/** n evenly spaced values over [lo, hi] (n odd puts a grid point at the middle). */
export const axis = (n: number, lo = -1, hi = 1) => Array.from({ length: n }, (_, i) => (i === n - 1 ? hi : lo + ((hi - lo) * i) / (n - 1)));

/** A surface file with loss f(x, y) (null: non-finite) and accuracy 1 − loss/10. */
export function gridSurface(x: number[], y: number[] | null, f: (a: number, b: number) => number | null, provenance: Record<string, unknown> = { plan: { kind: 'plane', seed: 0, normalization: 'filter', oneD: 'ignore' } }): SurfaceFile {
  const ys = y ?? [0];
  const loss = ys.map((b) => x.map((a) => f(a, b)));
  const nonFinite: Array<[number, number]> = [];
  loss.forEach((row, iy) => row.forEach((v, ix) => v === null && nonFinite.push([iy, ix])));
  return { format: 'losscape-surface/1', x, y, loss, accuracy: loss.map((row) => row.map((v) => (v === null ? null : 1 - v / 10))), nonFinite, provenance };
}

export const paraboloid = (n = 41) => gridSurface(axis(n), axis(n), (a, b) => 0.5 + a * a + b * b);
export const saddle = (n = 41) => gridSurface(axis(n), axis(n), (a, b) => 1.5 + a * a - b * b);

export interface Image {
  width: number;
  height: number;
  at(x: number, y: number): Rgb;
}

export function readPng(bytes: Uint8Array): Image {
  const png = PNG.sync.read(Buffer.from(bytes));
  return {
    width: png.width,
    height: png.height,
    at(x, y) {
      const i = 4 * (Math.floor(y) * png.width + Math.floor(x));
      return [png.data[i]!, png.data[i + 1]!, png.data[i + 2]!];
    },
  };
}

export const scaled = (c: Rgb, k: number): Rgb => c.map((v) => v * k) as Rgb;
export const luminance = (c: Rgb) => 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];

/** Every channel within tol of the expected colour. */
export function expectColor(actual: Rgb, expected: Rgb, tol: number, what: string): void {
  const diff = Math.max(...actual.map((v, i) => Math.abs(v - expected[i]!)));
  expect(diff, `${what}: got rgb(${actual}), expected rgb(${expected.map((v) => Math.round(v))}) within ${tol}`).toBeLessThanOrEqual(tol);
}

/**
 * The grid point of a panel farthest from its contour lines (the loss's distance to the nearest
 * level over the gradient's length), among ix, iy in the given ranges: a pixel to read a colour at.
 */
export function clearPoint(fig: Figure, panel: number, xs: [number, number], ys: [number, number]): [number, number] {
  const p = fig.panels[panel]!;
  const { x, y, loss } = p.surface;
  const levels = p.contours.map((c) => c.level);
  const clearance = (i: number, j: number) => {
    const gx = (loss[j]![i + 1]! - loss[j]![i - 1]!) / (x[i + 1]! - x[i - 1]!);
    const gy = (loss[j + 1]![i]! - loss[j - 1]![i]!) / (y![j + 1]! - y![j - 1]!);
    return Math.min(Infinity, ...levels.map((l) => Math.abs(loss[j]![i]! - l))) / (Math.hypot(gx, gy) + 1e-9);
  };
  let best: [number, number] = [xs[0], ys[0]];
  for (let i = xs[0]; i <= xs[1]; i++) for (let j = ys[0]; j <= ys[1]; j++) if (clearance(i, j) > clearance(...best)) best = [i, j];
  return best;
}

/** Debian's Chromium, headless, in a fresh profile, with WebGPU and WebGL on SwiftShader. */
export function launchChromium(viewport: { width: number; height: number }): Promise<BrowserContext> {
  return chromium.launchPersistentContext(mkdtempSync(path.join(tmpdir(), 'losscape-chromium-')), {
    executablePath: '/usr/bin/chromium',
    headless: true,
    viewport,
    args: ['--enable-unsafe-webgpu', '--enable-unsafe-swiftshader', '--use-angle=swiftshader'],
  });
}
