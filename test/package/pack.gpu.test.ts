// The package as a user gets it: `npm pack`, installed into an empty project, gives a working
// `npx rnnc` and a working `import { check, analyse, compile, run } from 'rnnc'` (run on Dawn), with
// types, and without the repository's dev-only code (tests, benchmarks, scripts, source maps).
// Packs the dist/ that `npm test` builds (scripts/setup.sh), so it tests what this checkout compiles to.
// And the program docs/host-module.md shows, extracted from the document, runs there 20 times in a
// row on Dawn without a crash and matches the float64 reference interpreter.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const dir = mkdtempSync(join(tmpdir(), 'rnnc-pack-'));
const project = join(dir, 'project');
let files: string[] = [];

beforeAll(() => {
  expect(existsSync('dist/src/driver/index.d.ts'), 'dist/ with declarations (npm run build)').toBe(true);
  // --ignore-scripts: dist/ is built already; prepack would build it again.
  const packed = JSON.parse(execFileSync('npm', ['pack', '--json', '--ignore-scripts', '--pack-destination', dir], { encoding: 'utf8' })) as { filename: string; files: { path: string }[] }[];
  files = packed[0]!.files.map((f) => f.path);
  mkdirSync(project);
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-rnnc', version: '1.0.0', type: 'module', private: true }));
  // From npm's cache, which `npm ci` filled: the test needs no network beyond what CI already used.
  execFileSync('npm', ['install', join(dir, packed[0]!.filename), '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: project, stdio: 'pipe' });
}, 170_000);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('npm pack, installed into an empty project', () => {
  it('ships the compiler, its types, the CLI, the examples and the grammar docs, and nothing dev-only', () => {
    expect(files).toEqual(expect.arrayContaining(['bin/rnnc.js', 'dist/src/driver/index.js', 'dist/src/driver/index.d.ts', 'dist/src/runtime/dawn/host.js', 'examples/mamba_s6.rnn', 'grammar/README.md', 'scripts/setup-vulkan.sh']));
    expect(files.filter((f) => /^(test|bench|dist\/bench|scripts\/(?!setup-vulkan\.sh))\/?|\.map$|^src\/|^\.scratch/.test(f))).toEqual([]);
  });

  it('npx rnnc check runs, with the exit codes of the repository CLI', () => {
    const ok = spawnSync('npx', ['rnnc', 'check', 'node_modules/rnnc/examples/mamba_s6.rnn'], { cwd: project, encoding: 'utf8' });
    expect(ok.status).toBe(0);
    // The summary is for people: stderr, as in the repository (stdout carries --json).
    expect(ok.stderr).toMatch(/^node_modules\/rnnc\/examples\/mamba_s6\.rnn: ok — rnn mamba_s6$/m);
    writeFileSync(join(project, 'bad.rnn'), 'rnn bad {\n  state h = 0\n  h <- h + x\n}\n');
    const bad = spawnSync('npx', ['rnnc', 'check', 'bad.rnn'], { cwd: project, encoding: 'utf8' });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/^bad\.rnn:3:12: error RNN0201: unknown name `x`$/m);
  });

  it('import from "rnnc": check, analyse and compile a spec, and run it on Dawn', () => {
    const program = `
import { analyse, check, compile, run } from 'rnnc';
const text = 'rnn cumsum {\\n  dims C = 2\\n  input b[C]\\n  state h[C] = 0\\n  h[c] <- h[c] + b[c]\\n  output y[c] = h[c]\\n}\\n';
const { compilation } = compile(text, { mode: 'auto' });
const result = await run(compilation, { batch: 1, T: 3, inputs: { b: Float32Array.from([1, 2, 3, 4, 5, 6]) }, params: {} });
console.log(JSON.stringify({ ok: check(text).ok, classified: analyse(text).analysis.states.length, mode: compilation.plan.mode, y: Array.from(result.outputs.y), h: Array.from(result.finalState.h) }));
`;
    writeFileSync(join(project, 'main.mjs'), program);
    const r = spawnSync('node', ['main.mjs'], { cwd: project, encoding: 'utf8', timeout: 120_000 });
    expect(r.stderr).toBe('');
    expect(JSON.parse(r.stdout)).toEqual({ ok: true, classified: 1, mode: 'scan', y: [1, 2, 4, 6, 9, 12], h: [9, 12] });
  });

  it('the types resolve for a TypeScript user', () => {
    expect(readdirSync(join(project, 'node_modules/rnnc/dist/src/driver')).filter((f) => f.endsWith('.d.ts'))).toEqual(expect.arrayContaining(['index.d.ts', 'api.d.ts']));
  });

  it('runs the program of docs/host-module.md 20 times in a row: no crash, streamed = one call, = the reference', () => {
    const doc = readFileSync('docs/host-module.md', 'utf8');
    const program = [...doc.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]!).find((code) => code.includes('openNodeDevice'))!;
    expect(program).toBeDefined();
    const compiled = spawnSync('npx', ['rnnc', 'compile', 'node_modules/rnnc/examples/gru.rnn', '-o', 'gru'], { cwd: project, encoding: 'utf8' });
    expect(compiled.status).toBe(0);
    writeFileSync(join(project, 'main.ts'), program);
    // As the document runs it: node --no-opt --import tsx main.ts (tsx from this repository's devDependencies).
    const tsx = pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href;
    const gru = frontEnd(readFileSync('examples/gru.rnn', 'utf8')).module!;
    const sizes = bindDims(gru);
    for (let k = 0; k < 20; k++) {
      const r = spawnSync('node', ['--no-opt', '--import', tsx, 'main.ts'], { cwd: project, encoding: 'utf8', timeout: 60_000 });
      // Dawn itself notes on stderr that it lowered two limits rnnc does not use; anything else is a failure.
      const stderr = r.stderr.replace(/^Warning: maxDynamic\w+PerPipelineLayout artificially reduced .*\n/gm, '');
      expect({ run: k, status: r.status, signal: r.signal, stderr }).toEqual({ run: k, status: 0, signal: null, stderr: '' });
      const out = JSON.parse(r.stdout) as { same: boolean; x: number[]; params: Record<string, number[]>; y: number[]; h: number[] };
      expect(out.same).toBe(true);
      if (k > 0) continue;
      const f32 = (a: number[]) => Float32Array.from(a);
      const ref = interpret(gru, { batch: 2, T: 50, sizes }, { inputs: { x: f32(out.x) }, params: Object.fromEntries(Object.entries(out.params).map(([n, v]) => [n, f32(v)])) });
      const err = (gpu: number[], want: Float64Array) => Math.max(...gpu.map((g, i) => Math.abs(g - want[i]!) / (1 + Math.abs(want[i]!))));
      expect(err(out.y, ref.outputs['y']!)).toBeLessThan(1e-5);
      expect(err(out.h, ref.final['h']!)).toBeLessThan(1e-5);
    }
  }, 300_000);
});
