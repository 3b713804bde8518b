// `rnnc compile --mode scan|chunk` writes what `--mode seq` does: kernels, a manifest and a typed
// TypeScript host module, and the host module type-checks under `tsc --strict` against WebGPU's types.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import ts from 'typescript';
import { afterAll, describe, expect, it } from 'vitest';
import { captureCli } from '../cli-run/rnnc.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { emit, plan } from '../../src/driver/compile.js';
import { RnncError } from '../../src/driver/errors.js';
import { modes } from '../../src/compiler/plan/plan.js';

const rnnc = captureCli();
const out = mkdtempSync(join(tmpdir(), 'rnnc-compile-modes-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

const webgpuTypes = dirname(createRequire(import.meta.url).resolve('@webgpu/types/package.json'));

/** Type errors of one file under --strict, with WebGPU's types and rnnc's runtime (its source) and nothing else (the libraries' own .d.ts files are not rechecked). */
function typeErrors(file: string): string[] {
  const options: ts.CompilerOptions = {
    strict: true,
    noEmit: true,
    skipLibCheck: true,
    target: ts.ScriptTarget.ES2022,
    module: ts.ModuleKind.ESNext,
    moduleResolution: ts.ModuleResolutionKind.Bundler,
    lib: ['lib.es2022.d.ts', 'lib.dom.d.ts'],
    types: [],
    paths: { 'rnnc/runtime': [resolve('src/runtime/webgpu/index.ts')] },
  };
  const program = ts.createProgram([join(webgpuTypes, 'dist', 'index.d.ts'), file], options);
  return ts.getPreEmitDiagnostics(program).map((d) => ts.flattenDiagnosticMessageText(d.messageText, '\n'));
}

describe.each([
  ['scan', 'examples/gla.rnn', 'gla', ['gla.scan.json', 'gla.scan.ts']],
  ['chunk', 'examples/deltanet.rnn', 'deltanet', ['deltanet.chunk.aggregate.wgsl', 'deltanet.chunk.carry.wgsl', 'deltanet.chunk.json', 'deltanet.chunk.ts']],
])('rnnc compile --mode %s %s', (mode, file, name, expected) => {
  const dir = join(out, mode);
  it('writes kernels, a manifest and a host module', async () => {
    const r = await rnnc('compile', file, '-o', dir, '--mode', mode);
    expect(r.code, r.stderr).toBe(0);
    const files = readdirSync(dir).sort();
    for (const f of expected) expect(files).toContain(f);
    expect(files.filter((f) => f.endsWith('.wgsl')).length).toBeGreaterThan(0);
    const manifest = JSON.parse(readFileSync(join(dir, `${name}.${mode}.json`), 'utf8'));
    expect(manifest.plan.decision.mode).toBe(mode);
  });
  // The TypeScript compiler loads lib.dom and WebGPU's types: seconds, more on a loaded machine.
  it('whose host module type-checks with tsc --strict', () => {
    expect(typeErrors(join(dir, `${name}.${mode}.ts`))).toEqual([]);
  }, 60_000);
  it('and --check finds it up to date', async () => {
    const r = await rnnc('compile', file, '-o', dir, '--mode', mode, '--check');
    expect(r.code, r.stdout).toBe(0);
  });
});

it('a mode the cell cannot take is a user error that says why and what to use', async () => {
  const r = await rnnc('compile', 'examples/mamba_s6.rnn', '-o', join(out, 'refused'), '--mode', 'chunk');
  expect(r.code).toBe(1);
  expect(r.stderr).toMatch(/^rnnc: mamba_s6 cannot take --mode chunk: .+; compile it with --mode seq or --mode auto\n$/);
});

describe('every kernel of every mode an example takes names an entry point its WGSL defines', () => {
  const examples = readdirSync('examples').filter((f) => f.endsWith('.rnn')).sort();
  it.each(examples)('%s', (file) => {
    const fe = frontEnd(readFileSync(`examples/${file}`, 'utf8'));
    for (const mode of modes) {
      let compilation;
      try {
        compilation = plan(fe.module!, fe.analysis!, { mode });
      } catch (e) {
        if (e instanceof RnncError) continue; // a mode this cell does not take
        throw e;
      }
      for (const k of emit(compilation).kernels) expect(k.wgsl, `${mode} ${k.label}`).toMatch(new RegExp(`\\nfn ${k.entryPoint}\\(`));
    }
  }, 60_000);
});
