// Every host module rnnc writes type-checks under `tsc --strict` with nothing but the browser's
// libraries and WebGPU's types: the scan host module of every cell the scan backend takes (and the
// other splits' variants of two cells), the chunk host module of every cell the chunk backend takes,
// the committed sequential host modules (test/golden/seq) and the step kernel's (LSTM X = 64, H = 128),
// and one module of each mode with f16 storage (`--precision f16-storage`). A module with a type error
// fails here.
import { readdirSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { compileScan, type ScanCompileOptions } from '../../backends/wgsl-scan/index.js';
import { compileChunk } from '../../backends/wgsl-chunk/index.js';
import { scanHostModule } from '../../backends/host/scan-host.js';
import { chunkHostModule } from '../../backends/host/chunk-host.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { compileFiles, plan } from '../../src/driver/compile.js';
import { chunkCells, scanCells } from './cells.js';
import { typeCheck } from './typecheck.js';
import { bindDims } from '../../src/compiler/ir/dims.js';

const scanVariants: Record<string, ScanCompileOptions> = { aaren: { subgroups: false }, affine: { subgroups: false, tile: { split: 'tile' } } };

const files: Record<string, () => Promise<string>> = {};
for (const cell of scanCells()) {
  files[`${cell.name}.scan.ts`] = () => scanHostModule(cell.module, compileScan(cell.module, cell.plan, cell.sizes), cell.path);
  const variant = scanVariants[cell.name];
  if (variant) files[`${cell.name}.scan.${variant.tile?.split ?? 'thread'}.ts`] = () => scanHostModule(cell.module, compileScan(cell.module, cell.plan, cell.sizes, variant), cell.path);
}
for (const cell of chunkCells()) files[`${cell.name}.chunk.ts`] = () => chunkHostModule(cell.module, compileChunk(cell.module, cell.sizes), cell.path);
for (const [path, mode] of [['examples/lstm.rnn', 'seq'], ['examples/mingru.rnn', 'scan'], ['examples/deltanet.rnn', 'chunk']] as const)
  files[`${path.replace(/.*\/|\.rnn$/g, '')}.${mode}.f16.ts`] = async () => {
    const { module, analysis } = frontEnd(readFileSync(path, 'utf8'));
    return (await compileFiles(plan(module!, analysis!, { mode, precision: 'f16-storage' }))).find((f) => f.name.endsWith('.ts'))!.text;
  };
// The step kernel's host module (a dispatch per step), at sizes where the planner picks it.
files['lstm.seq.step.ts'] = async () => {
  const { module, analysis } = frontEnd(readFileSync('examples/lstm.rnn', 'utf8'));
  return (await compileFiles(plan(module!, analysis!, { mode: 'seq', dims: bindDims(module!, { X: 64, H: 128 }) }))).find((f) => f.name === 'lstm.ts')!.text;
};
for (const name of readdirSync('test/golden/seq').sort()) files[`${name}.seq.ts`] = async () => readFileSync(`test/golden/seq/${name}/${name}.ts`, 'utf8');

let diagnostics: string[] = [];
const texts: Record<string, string> = {};
beforeAll(async () => {
  for (const [name, generate] of Object.entries(files)) texts[name] = await generate();
  diagnostics = typeCheck(texts);
}, 300_000);

describe('host modules under tsc --strict', () => {
  it('covers the scan, chunk and seq modules of the examples', () => {
    const names = Object.keys(files);
    expect(names).toEqual(expect.arrayContaining(['gla.scan.ts', 'affine.scan.tile.ts', 'aaren.scan.thread.ts', 'deltanet.chunk.ts', 'lstm.seq.ts']));
    expect(names.filter((n) => n.endsWith('.chunk.ts')).length).toBeGreaterThanOrEqual(5);
  });

  it.each(Object.keys(files))('%s', (name) => {
    expect(diagnostics.filter((d) => d.startsWith(`${name}:`))).toEqual([]);
  });

  it("imports only rnnc's runtime: WebGPU comes from the environment", () => {
    const imports = (text: string) => [...text.matchAll(/^\s*(?:import|export)\s[^;]*?\sfrom\s+['"]([^'"]+)['"]|\brequire\(|\bimport\(/gm)].map((m) => m[1] ?? m[0]);
    const other = Object.keys(texts).filter((name) => imports(texts[name]!).some((i) => i !== 'rnnc/runtime'));
    expect(other).toEqual([]);
    expect(Object.keys(texts).filter((name) => !imports(texts[name]!).includes('rnnc/runtime'))).toEqual([]);
  });

  it('reports no error outside a file', () => {
    expect(diagnostics.filter((d) => !Object.keys(files).some((n) => d.startsWith(`${n}:`)))).toEqual([]);
  });

  it('fails a module that needs more than WebGPU, or has a type error', () => {
    expect(typeCheck({ 'bad.ts': 'export const n: number = "one";\nexport const argv = process.argv;\n' })).toEqual([
      "bad.ts:1: Type 'string' is not assignable to type 'number'.",
      expect.stringContaining("bad.ts:2: Cannot find name 'process'."),
    ]);
  });
});
