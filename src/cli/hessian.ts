// `losscape hessian`: the top eigenvalues (with residuals), trace, eigenvalue density and per-layer
// tables of a checkpoint's Hessian over a data split; `losscape sharpness`: SAM / ASAM sharpness,
// Keskar's ε-sharpness, and basin widths of a surface file. Both write JSON with each quantity's
// definition. Every option is checked before any work starts.
import { writeFileSync } from 'node:fs';
import { Command, InvalidArgumentError, Option } from 'commander';
import { take } from '../nn/data.js';
import { FlatParameters } from '../nn/flat.js';
import { createModel } from '../nn/models.js';
import { prepareEvalSet } from '../landscape/evaluate.js';
import type { SurfaceFile } from '../landscape/surface.js';
import { loadWeights, readSidecar } from '../node/checkpoint.js';
import { imageDataset } from '../node/data.js';
import { saveDirection } from '../node/directions.js';
import { sha256File } from '../node/files.js';
import { readSurfaceFile } from '../node/render.js';
import { basinWidths } from '../sharpness/basin.js';
import { groupDimension, parameterGroups, selectParameters } from '../sharpness/groups.js';
import { HessianOperator, type HvpMethod } from '../sharpness/hvp.js';
import { groupTable } from '../sharpness/layers.js';
import { spectralDensity, topEigen } from '../sharpness/lanczos.js';
import { epsilonSharpness, samSharpness } from '../sharpness/metrics.js';
import { hutchinsonTrace } from '../sharpness/trace.js';

import { initTuned } from '../node/tune.js';
import { integer, list, real } from './options.js';

const positive = real({ above: 0 });
const radii = list(real({ atLeast: 0 }));
const pattern = (v: string) => {
  try {
    return new RegExp(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
};

interface DataOptions {
  checkpoint?: string;
  dataset: 'mnist' | 'fashion-mnist';
  split: 'train' | 'test';
  samples: number;
  batchSize: number;
  only?: RegExp;
  out: string;
}

function dataOptions(cmd: Command, out: string): Command {
  return cmd
    .addOption(new Option('--dataset <name>', 'data').choices(['mnist', 'fashion-mnist']).default('mnist'))
    .addOption(new Option('--split <split>', 'the loss of which split').choices(['train', 'test']).default('train'))
    .option('--samples <n>', 'samples of the split (the first n; every one is used)', integer(1), 1000)
    .option('--batch-size <n>', 'batch size of each pass', integer(1), 250)
    .option('--only <regex>', 'restrict to the parameters whose names match', pattern)
    .option('--out <file>', 'output JSON file', out);
}

/**
 * The one place that reads files: a checkpoint (weights and sidecar) into a model and its flat
 * parameters, restricted by --only; then, once the options are known to fit, the data split.
 */
function loadModel(o: DataOptions & { checkpoint: string }) {
  const side = readSidecar(o.checkpoint);
  let model: ReturnType<typeof createModel>;
  try {
    model = createModel(side.config, 0);
  } catch (e) {
    throw new Error(`${o.checkpoint}.json: ${(e as Error).message}`);
  }
  loadWeights(model, o.checkpoint);
  const flat = FlatParameters.of(model);
  const group = selectParameters(flat, o.only);
  const dimension = groupDimension(flat, group);
  const loadData = () => {
    const set = prepareEvalSet(take(imageDataset(o.dataset, o.split), o.samples), o.batchSize);
    const provenance = {
      checkpoint: { file: o.checkpoint, sha256: sha256File(o.checkpoint) }, model: side.config,
      data: { dataset: o.dataset, split: o.split, samples: set.samples, batchSize: o.batchSize, loss: 'cross-entropy (mean)', mode: 'eval' },
      parameters: { only: o.only?.source ?? null, count: dimension },
    };
    return { set, provenance };
  };
  return { model, flat, group, dimension, loadData };
}

const log = (what: string, t0: number) => console.error(`losscape: ${what} (${((performance.now() - t0) / 1e3).toFixed(1)} s)`);

interface HessianCliOptions extends DataOptions {
  checkpoint: string;
  topK: number;
  trace: boolean;
  density: boolean;
  perLayer: boolean;
  groupBy: 'module' | 'parameter';
  traceSamples: number;
  densitySteps: number;
  densityRuns: number;
  bins: number;
  maxSteps: number;
  tol: number;
  method: 'auto' | HvpMethod;
  seed: number;
  allowUnconverged: boolean;
  saveDirections?: string;
}

export function hessianCommand(): Command {
  return dataOptions(new Command('hessian'), 'hessian.json')
    .description('the Hessian of a checkpoint\'s loss: top eigenvalues with residuals, trace, eigenvalue density, per-layer tables (JSON)')
    .requiredOption('--checkpoint <file>', 'checkpoint (with its .json sidecar)')
    .option('--top-k <n>', 'largest eigenvalues to find (0: none)', integer(0), 1)
    .option('--trace', 'the trace (Hutchinson, with its standard error)', false)
    .option('--density', 'the eigenvalue density (stochastic Lanczos quadrature)', false)
    .option('--per-layer', 'a table per layer: the top eigenvalue and trace of each diagonal block', false)
    .addOption(new Option('--group-by <kind>', 'what a --per-layer row is').choices(['module', 'parameter']).default('module'))
    .option('--trace-samples <n>', 'Rademacher vectors of the trace', integer(2), 100)
    .option('--density-steps <n>', 'Lanczos steps of each density run', integer(1), 90)
    .option('--density-runs <n>', 'density runs, averaged', integer(1), 1)
    .option('--bins <n>', 'points of the density grid', integer(2), 1000)
    .option('--max-steps <n>', 'Lanczos steps at most for the top eigenvalues', integer(1), 100)
    .option('--tol <x>', 'converged when ‖Hv − λv‖ ≤ tol·max|λ|', positive, 1e-3)
    .addOption(new Option('--method <kind>', 'Hessian-vector products: exact (double backward), central differences of gradients, or auto').choices(['auto', 'exact', 'finite-difference']).default('auto'))
    .option('--seed <n>', 'seed of the random vectors', integer(0), 0)
    .option('--allow-unconverged', 'write eigenvalues that missed the tolerance, flagged, instead of failing', false)
    .option('--save-directions <prefix>', 'write the two sharpest directions as PREFIX.d1.safetensors and PREFIX.d2.safetensors (landscape --directions)')
    .action(async (o: HessianCliOptions) => {
      if (o.saveDirections && o.topK < 2) throw new Error('--save-directions needs --top-k 2 or more');
      if (!o.topK && !o.trace && !o.density && !o.perLayer) throw new Error('nothing to compute: give --top-k N, --trace, --density or --per-layer');
      const engine = await initTuned();
      const t0 = performance.now();
      const { model, flat, group, dimension, loadData } = loadModel(o);
      if (o.topK > dimension) throw new Error(`--top-k ${o.topK}: the Hessian has only ${dimension} parameters${o.only ? ` matching --only ${o.only.source}` : ''}`);
      const { set, provenance } = loadData();
      const op = new HessianOperator(model, flat, set, { group, method: o.method });
      const out: Record<string, unknown> = { format: 'losscape-hessian/1', ...provenance, adapter: engine.adapter.description };
      if (o.topK > 0) {
        const top = await topEigen(op, { k: o.topK, maxSteps: o.maxSteps, tol: o.tol, seed: o.seed, allowUnconverged: o.allowUnconverged });
        if (o.saveDirections) {
          await saveDirection(`${o.saveDirections}.d1.safetensors`, flat, top.vectors[0]!);
          await saveDirection(`${o.saveDirections}.d2.safetensors`, flat, top.vectors[1]!);
        }
        top.vectors.forEach((v) => v.dispose());
        top.converged.forEach((c, i) => c || console.error(`losscape hessian: λ${i + 1} = ${top.values[i]} did not converge: residual ‖Hv − λv‖ = ${top.residuals[i]} (written flagged, --allow-unconverged)`));
        const { vectors: _, ...rest } = top;
        out.topEigenvalues = rest;
        log(`top ${o.topK} eigenvalue(s) in ${top.steps} Lanczos steps`, t0);
      }
      if (o.trace) {
        out.trace = await hutchinsonTrace(op, { samples: o.traceSamples, seed: o.seed });
        log('trace', t0);
      }
      if (o.density) {
        out.density = await spectralDensity(op, { steps: o.densitySteps, runs: o.densityRuns, bins: o.bins, seed: o.seed });
        log('density', t0);
      }
      if (o.perLayer) {
        const groups = parameterGroups(flat, o.groupBy, group);
        out.perLayer = await groupTable(model, flat, set, { groups, method: o.method, eigen: { maxSteps: o.maxSteps, tol: o.tol }, traceSamples: o.traceSamples, seed: o.seed });
        log(`per-layer table of ${groups.length} groups`, t0);
      }
      out.hvp = { method: op.method, note: op.note, products: op.products };
      out.seconds = (performance.now() - t0) / 1e3;
      writeFileSync(o.out, `${JSON.stringify(out, null, 2)}\n`);
      if (op.note) console.error(`losscape hessian: ${op.note}`);
      console.log(JSON.stringify({ out: o.out, method: op.method, seconds: out.seconds }));
    });
}

interface SharpnessCliOptions extends DataOptions {
  rho: number[];
  adaptive: boolean;
  epsilon: number;
  ascentSteps: number;
  stepSize: number;
  surface?: string;
  delta: number;
  relative: boolean;
}

export function sharpnessCommand(): Command {
  return dataOptions(new Command('sharpness'), 'sharpness.json')
    .description('sharpness of a checkpoint (SAM / ASAM for a list of ρ, Keskar\'s ε-sharpness) and basin widths of a surface file (JSON)')
    .option('--checkpoint <file>', 'checkpoint (with its .json sidecar)')
    .option('--rho <list>', 'SAM radii ρ, comma-separated', radii, [0.01, 0.05])
    .option('--adaptive', 'ASAM\'s step ρ·T²g/‖Tg‖, T = |θ|', false)
    .option('--epsilon <x>', 'ε of Keskar\'s box |δᵢ| ≤ ε(|θᵢ| + 1)', positive, 1e-3)
    .option('--ascent-steps <n>', 'projected gradient ascent steps of ε-sharpness', integer(1), 20)
    .option('--step-size <x>', 'each ascent step, as a fraction of the box half-width', positive, 0.1)
    .option('--surface <file>', 'basin widths of this surface JSON (losscape landscape --out)')
    .option('--delta <x>', 'basin width: the loss rise Δ', positive, 0.1)
    .option('--relative', 'Δ relative to the centre\'s loss', false)
    .action(async (o: SharpnessCliOptions) => {
      if (!o.checkpoint && !o.surface) throw new Error('give --checkpoint (SAM and ε-sharpness) and/or --surface (basin widths)');
      if (o.stepSize > 2) throw new Error(`--step-size ${o.stepSize}: at most 2 (a step across the whole box)`);
      const surface = o.surface ? readSurface(o.surface) : null;
      const out: Record<string, unknown> = { format: 'losscape-sharpness/1' };
      if (surface) out.basin = { surface: { file: o.surface, sha256: sha256File(o.surface!) }, ...basinWidths(surface, { delta: o.delta, relative: o.relative }) };
      if (o.checkpoint) {
        const engine = await initTuned();
        const t0 = performance.now();
        const { model, flat, group, loadData } = loadModel({ ...o, checkpoint: o.checkpoint });
        const { set, provenance } = loadData();
        Object.assign(out, provenance, { adapter: engine.adapter.description });
        out.sam = await samSharpness(model, flat, set, { rho: o.rho, adaptive: o.adaptive, group });
        log('SAM sharpness', t0);
        out.epsilonSharpness = await epsilonSharpness(model, flat, set, { epsilon: o.epsilon, steps: o.ascentSteps, stepSize: o.stepSize, group });
        log('ε-sharpness', t0);
        out.seconds = (performance.now() - t0) / 1e3;
      }
      writeFileSync(o.out, `${JSON.stringify(out, null, 2)}\n`);
      console.log(JSON.stringify({ out: o.out }));
    });
}

/** A surface file, checked (the renderer's reader): a file that is not a surface is named with what is wrong. */
function readSurface(file: string): SurfaceFile {
  return readSurfaceFile(file).surface;
}
