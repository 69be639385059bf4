// Mutation check: does the suite catch deliberate bugs? Each mutation below is a text replacement in
// one file, applied alone to a scratch copy of the tree (node_modules linked, not copied); only the
// test files that should catch it run, with a timeout. A mutation is caught when they fail; each
// (files, filter) set first runs unmutated, so a failure is the mutation's. Prints a Markdown table
// (docs/TESTING.md keeps the last one) and exits non-zero if any mutation survives.
//   node scripts/mutate.mjs [--only SUBSTRING] [--keep]     (npm run mutate; not part of CI)
import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const TIMEOUT_S = 300;

/**
 * name, file, find (must occur exactly once), replace, the test files that must catch it, an
 * optional -t filter, and `pending` for a known gap: reported, not counted against the suite.
 */
const MUTATIONS = [
  {
    name: 'sigmoid gives 0 below x = −20', file: 'kernels/unary.wgsl',
    find: 'case 7u: { return 1.0 / (1.0 + exp(-v)); }', replace: 'case 7u: { return select(1.0 / (1.0 + exp(-v)), 0.0, v < -20.0); }',
    tests: ['test/elementwise.test.ts'], filter: 'sigmoid',
  },
  {
    name: 'exp returns 0 below −4', file: 'kernels/unary.wgsl',
    find: 'case 2u: { return exp(v); }\n    case 3u: { return log_f32(v); }', replace: 'case 2u: { return select(exp(v), 0.0, v < -4.0); }\n    case 3u: { return log_f32(v); }',
    tests: ['test/elementwise.test.ts'], filter: 'exp',
  },
  {
    name: 'tanh by the builtin (hundreds of ulp off near 0 on llvmpipe)', file: 'kernels/unary.wgsl',
    find: 'case 6u: { return tanh_f32(v); }', replace: 'case 6u: { return tanh(clamp(v, -10.0, 10.0)); }',
    tests: ['test/elementwise.test.ts'], filter: 'tanh',
  },
  {
    name: 'log by the builtin (2% off just below 1 on llvmpipe)', file: 'kernels/unary.wgsl',
    find: 'case 3u: { return log_f32(v); }', replace: 'case 3u: { return log(v); }',
    tests: ['test/elementwise.test.ts'], filter: 'log near 1',
  },
  {
    name: 'round: halves away from zero instead of to even', file: 'kernels/unary.wgsl',
    find: 'case 19u: { return round(v); }', replace: 'case 19u: { return sign(v) * floor(abs(v) + 0.5); }',
    tests: ['test/elementwise.test.ts'], filter: 'round',
  },
  {
    name: 'off-by-one in a bounds check: the unary kernel skips the tail vec4', file: 'kernels/unary.wgsl',
    find: 'return select(0xffffffffu, i, i < (P.n + 3u) / 4u);', replace: 'return select(0xffffffffu, i, i < P.n / 4u);',
    tests: ['test/elementwise.test.ts'], filter: 'neg',
  },
  {
    name: 'swapped transposes in matmul', file: 'src/tensor/matmul.ts',
    find: 'constants: { TA: transA ? 1 : 0, TB: transB ? 1 : 0,', replace: 'constants: { TA: transB ? 1 : 0, TB: transA ? 1 : 0,',
    tests: ['test/matmul.test.ts'], filter: 'v6: every transpose',
  },
  {
    name: "matmul's A gradient without B's transpose", file: 'src/tensor/matmul.ts',
    find: 'matmul(g2, b2, { transB: !transB })', replace: 'matmul(g2, b2, { transB: transB })',
    tests: ['test/autograd.test.ts'], filter: 'matmul',
  },
  {
    name: 'dropped bias gradient (matmul epilogue)', file: 'src/tensor/matmul.ts',
    find: 'if (bias) grads.push(needs[2] ?', replace: 'if (bias) grads.push(false ?',
    tests: ['test/autograd.test.ts'], filter: 'epilogue',
  },
  {
    name: "Adam's second bias correction with β₁", file: 'src/nn/optim.ts',
    find: 'eps, 1 - b1 ** t, 1 - b2 ** t)', replace: 'eps, 1 - b1 ** t, 1 - b1 ** t)',
    tests: ['test/optim.test.ts'], filter: 'AdamW',
  },
  {
    name: 'causal attention masks the diagonal too (forward)', file: 'kernels/attention.wgsl',
    find: 'let j = j0 + t;\n      let ok = vec4<bool>(j < P.sk) & (vec4<bool>(P.causal == 0u) | (vec4u(j) <= rows));',
    replace: 'let j = j0 + t;\n      let ok = vec4<bool>(j < P.sk) & (vec4<bool>(P.causal == 0u) | (vec4u(j) < rows));',
    tests: ['test/attention.test.ts'], filter: 'causal masking',
  },
  {
    name: 'layer norm with the unbiased variance (torch uses the biased one)', file: 'kernels/layernorm.wgsl',
    find: 'let rstd = inverseSqrt(q / n + P.eps);', replace: 'let rstd = inverseSqrt(q / max(n - 1.0, 1.0) + P.eps);',
    tests: ['test/autograd.test.ts'], filter: 'layer norm',
  },
  {
    name: 'SAM perturbs against the gradient', file: 'kernels/optim.wgsl',
    find: 'p[i] += e;', replace: 'p[i] -= e;',
    tests: ['test/torch.test.ts'], filter: 'SAM',
  },
  {
    name: 'BatchNorm running variance biased (PyTorch keeps it unbiased)', file: 'src/tensor/batchnorm.ts',
    find: '(momentum * count) / (count - 1)', replace: 'momentum',
    tests: ['test/torch.test.ts'], filter: 'logits',
  },
  {
    name: 'filter normalization by whole layer', file: 'src/landscape/directions.ts',
    find: 'const scale = div(sqrt(sum(square(t2), 1, true)), add(sqrt(sum(square(d2), 1, true)), NORM_EPS));',
    replace: 'const scale = div(sqrt(sum(square(t2))), add(sqrt(sum(square(d2))), NORM_EPS));',
    tests: ['test/torch.test.ts'], filter: 'surface',
  },
  {
    name: 'cosine schedule over all 100 steps instead of the 96 after warm-up', file: 'src/nn/schedule.ts',
    find: 'const span = Math.max(1, schedule.totalSteps - warmupSteps);', replace: 'const span = Math.max(1, schedule.totalSteps);',
    tests: ['test/optim.test.ts'], filter: 'schedule',
  },
  {
    name: 'max-pool ties: the last maximum takes the gradient', file: 'kernels/pool2d.wgsl',
    find: 'if (at < 0 || v > best ||', replace: 'if (at < 0 || v >= best ||',
    tests: ['test/pool.test.ts'], filter: 'ties',
  },
  {
    name: "landscape combine's scalar branch reads the wrong bias", file: 'kernels/landscape.wgsl',
    find: 'let bi = k * P.f + i % P.f;', replace: 'let bi = k * P.f + (i + 1u) % P.f;',
    tests: ['test/landscape.test.ts'], filter: 'not 4-wide',
  },
  {
    name: 'landscape combine_points scales the bias by 1.0001', file: 'kernels/landscape.wgsl',
    find: 'v += bias4[(k * P.f + f) / 4u];', replace: 'v += 1.0001 * bias4[(k * P.f + f) / 4u];',
    tests: ['test/landscape.test.ts'], filter: 'combineDense',
  },
  {
    name: 'VTK DIMENSIONS written ny nx', file: 'src/landscape/surface.ts',
    find: '`DIMENSIONS ${nx} ${ny} 1`', replace: '`DIMENSIONS ${ny} ${nx} 1`',
    tests: ['test/surface.test.ts'],
  },
  {
    name: 'VTK points written y fastest', file: 'src/landscape/surface.ts',
    find: 'ys.forEach((yv, iy) => s.x.forEach((xv, ix) => lines.push(`${xv} ${yv} ${val(s.loss[iy]![ix]!)}`)));',
    replace: 's.x.forEach((xv, ix) => ys.forEach((yv, iy) => lines.push(`${xv} ${yv} ${val(s.loss[iy]![ix]!)}`)));',
    tests: ['test/surface.test.ts'],
  },
  {
    name: 'Philox with 9 rounds', file: 'kernels/random.wgsl',
    find: 'for (var r = 0u; r < 10u; r++) {', replace: 'for (var r = 0u; r < 9u; r++) {',
    tests: ['test/random.test.ts'], filter: 'bit for bit',
  },
  {
    name: 'resume disabled', file: 'src/nn/train.ts',
    find: 'const saved = o.resume && o.store ? await o.store.load() : null;', replace: 'const saved = false && o.resume && o.store ? await o.store.load() : null;',
    tests: ['test/train.test.ts'], filter: 'resumes',
  },
  {
    name: 'resume without the optimizer state', file: 'src/nn/train.ts',
    find: '      assign(t, saved);', replace: '      void saved;',
    tests: ['test/train.test.ts'], filter: 'resumes',
  },
];

function parseArgs(argv) {
  const only = argv.includes('--only') ? argv[argv.indexOf('--only') + 1] : null;
  return { only, keep: argv.includes('--keep') };
}

/** A scratch copy of the tree (tracked and untracked files that git does not ignore), node_modules linked. */
function scratchCopy() {
  const dir = mkdtempSync(path.join(tmpdir(), 'losscape-mutate-'));
  const list = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' });
  if (list.status !== 0) throw new Error(`git ls-files failed: ${list.stderr}`);
  for (const f of list.stdout.split('\0').filter(Boolean)) {
    if (f === 'node_modules') continue;
    mkdirSync(path.dirname(path.join(dir, f)), { recursive: true });
    cpSync(path.join(root, f), path.join(dir, f));
  }
  symlinkSync(realpathSync(path.join(root, 'node_modules')), path.join(dir, 'node_modules'));
  return dir;
}

/** Runs the test files (with an optional name filter) in dir: 'pass', 'fail' or 'timeout', and the seconds taken. */
function runTests(dir, tests, filter) {
  const start = Date.now();
  const args = ['vitest', 'run', ...tests, ...(filter ? ['-t', filter] : [])];
  const r = spawnSync('npx', args, { cwd: dir, encoding: 'utf8', timeout: TIMEOUT_S * 1000, env: { ...process.env, FORCE_COLOR: '0' } });
  const seconds = (Date.now() - start) / 1000;
  if (r.error?.code === 'ETIMEDOUT' || r.signal) return { outcome: 'timeout', seconds };
  return { outcome: r.status === 0 ? 'pass' : 'fail', seconds, output: `${r.stdout}\n${r.stderr}` };
}

function main() {
  const { only, keep } = parseArgs(process.argv.slice(2));
  const mutations = MUTATIONS.filter((m) => !only || m.name.includes(only));
  const dir = scratchCopy();
  const baselines = new Map();
  const rows = [];
  try {
    for (const m of mutations) {
      const file = path.join(dir, m.file);
      const original = readFileSync(file, 'utf8');
      const hits = original.split(m.find).length - 1;
      const where = `${m.tests.map((t) => path.basename(t)).join(', ')}${m.filter ? ` (-t "${m.filter}")` : ''}`;
      if (hits !== 1) {
        rows.push({ m, where, result: `not applied: the text occurs ${hits} times in ${m.file}` });
        continue;
      }
      const key = `${m.tests.join(' ')}|${m.filter ?? ''}`;
      if (!baselines.has(key)) baselines.set(key, runTests(dir, m.tests, m.filter));
      const base = baselines.get(key);
      if (base.outcome !== 'pass') {
        rows.push({ m, where, result: `not judged: the tests ${base.outcome} without the mutation` });
        continue;
      }
      writeFileSync(file, original.replace(m.find, m.replace));
      const r = runTests(dir, m.tests, m.filter);
      writeFileSync(file, original);
      const verdict = r.outcome === 'pass' ? (m.pending ? `survived: ${m.pending}` : 'SURVIVED') : r.outcome === 'timeout' ? 'caught (timeout)' : 'caught';
      rows.push({ m, where, caught: r.outcome !== 'pass', result: `${verdict} (${r.seconds.toFixed(0)} s)` });
      process.stderr.write(`${rows.at(-1).result}: ${m.name}\n`);
    }
  } finally {
    if (!keep) rmSync(dir, { recursive: true, force: true });
  }
  console.log('| mutation | file | tests run | result |');
  console.log('| --- | --- | --- | --- |');
  for (const { m, where, result } of rows) console.log(`| ${m.name} | \`${m.file}\` | ${where} | ${result} |`);
  const missed = rows.filter((r) => !r.caught && !r.m.pending);
  const caught = rows.filter((r) => r.caught).length;
  console.log(`\n${caught} of ${rows.length} mutations caught${rows.length - caught - missed.length ? `; ${rows.length - caught - missed.length} known gap(s) pending` : ''}.`);
  process.exitCode = missed.length ? 1 : 0;
}

main();
