// The scan's 'matrix' layout (backends/wgsl-scan/matrix.ts) on Dawn against the reference
// interpreter: dense transitions too big for one invocation (minmax over (max, min), maxplus over
// (max, +), a dense (+, ×) cell) at N = 16, 32 and 64, T from 1 to 300, batches of 1 to 3 with
// ragged lengths and given initial states; one block and many; elements in workgroup memory and in
// storage. (max, min) selects values and must be bit-exact.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims, type DimSizes } from '../../src/compiler/ir/dims.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { buildScanJob, compileScan, type ScanRunData, type ScanRunResult } from '../../backends/wgsl-scan/index.js';
import { expectClose } from './helpers.js';
import { ciCases } from '../helpers/matrix.js';

const load = (path: string) => frontEnd(readFileSync(path, 'utf8')).module!;
const cells = { minmax: load('examples/minmax.rnn'), maxplus: load('examples/maxplus.rnn'), dense_linear: load('test/scan/fixtures/dense_linear.rnn') };

function data(module: Module, sizes: DimSizes, batch: number, T: number, seed: number): ScanRunData {
  const lengths = batch > 1 ? randomLengths(batch, T, seed) : undefined;
  const d = randomRunData(module, { batch, T, sizes, ...(lengths ? { lengths } : {}) }, seed, { initial: true });
  return { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, initialState: d.initial as Record<string, Float32Array>, ...(lengths ? { lengths } : {}) };
}

function reference(module: Module, sizes: DimSizes, d: ScanRunData): ScanRunResult {
  const r = interpret(module, { batch: d.batch, T: d.T, sizes, ...(d.lengths ? { lengths: d.lengths } : {}) }, { inputs: d.inputs, params: d.params, ...(d.initialState ? { initial: d.initialState } : {}) });
  const f32 = (x: Record<string, Float64Array>) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, Float32Array.from(v)]));
  return { outputs: f32(r.outputs), finalState: f32(r.final) };
}

let gpu: GpuSession;
beforeAll(async () => {
  gpu = await GpuSession.open();
});
afterAll(async () => {
  await gpu?.close();
});

const tolerance = { minmax: 0, maxplus: 1e-5, dense_linear: 1e-4 } as const;

// Each (cell, N) is a kernel compiled cold (5-8 s on 2 cores): CI takes every cell at N = 16 and
// minmax at 32 and 64 (workgroup memory and storage); RNNC_TEST_MATRIX=full adds maxplus and the dense
// (+, ×) cell at N = 32.
const SIZES = [
  ['minmax', 16, [[1, 1], [3, 300], [2, 64]]],
  ['minmax', 32, [[2, 150]]],
  ['minmax', 64, [[2, 20]]],
  ['maxplus', 16, [[3, 300]]],
  ['maxplus', 32, [[1, 100]]],
  ['dense_linear', 16, [[3, 200]]],
  ['dense_linear', 32, [[1, 60]]],
] as const;

describe.each(ciCases(SIZES, ([name, N]) => name === 'minmax' || N === 16))('%s at N = %i, matrix layout', (name, N, runs) => {
  const module = cells[name];
  const sizes = bindDims(module, { N });
  const plan = analyse(module).analysis.plan!;

  it.each(runs.map(([batch, T]) => ({ batch, T })))('batch $batch, T = $T', async ({ batch, T }) => {
    const kernels = compileScan(module, plan, sizes);
    expect(kernels.matrix?.place).toBe(N === 64 ? 'storage' : 'workgroup');
    const d = data(module, sizes, batch, T, 1000 * N + T);
    const job = buildScanJob(module, kernels, d);
    if (T >= 64) expect(job.schedule.strategy).toBe('reduce-then-scan');
    const got = job.decode((await gpu.run(job.job)).buffers);
    expectClose(got, reference(module, sizes, d), tolerance[name], `${name} N=${N} batch ${batch} T=${T}`);
  });
});

describe('matrix layout, placement and blocking', () => {
  const module = cells.minmax;
  const sizes = bindDims(module, { N: 16 });
  const plan = analyse(module).analysis.plan!;

  it('keeps elements in storage when workgroup memory is too small, with the same results', async () => {
    const kernels = compileScan(module, plan, sizes, { tile: { sharedFloats: 256 } });
    expect(kernels.matrix?.place).toBe('storage');
    const d = data(module, sizes, 3, 120, 7);
    const job = buildScanJob(module, kernels, d);
    expectClose(job.decode((await gpu.run(job.job)).buffers), reference(module, sizes, d), 0, 'minmax N=16 in storage');
  });

  it.each([1, 2, 5, 300])('gives the same results with %i target blocks', async (targetBlocks) => {
    const kernels = compileScan(module, plan, sizes);
    const d = data(module, sizes, 3, 97, 11);
    const job = buildScanJob(module, kernels, d, { targetBlocks });
    expectClose(job.decode((await gpu.run(job.job)).buffers), reference(module, sizes, d), 0, `minmax N=16, ${targetBlocks} blocks`);
  });
});

// The examples whose default sizes already make an element over 64 floats (low-rank transitions:
// DeltaNet and its kin) take the matrix layout under --mode scan.
const lowRank = ['deltanet', 'gated_deltanet', 'deltaproduct2', 'rwkv7']
  .map((name) => ({ name, module: load(`examples/${name}.rnn`) }))
  .map((e) => ({ ...e, plan: analyse(e.module).analysis.plan }))
  .filter((e) => e.plan !== undefined);

describe.each(lowRank)('$name at its default sizes, matrix layout', ({ name, module, plan }) => {
  const sizes = bindDims(module);
  it.each([
    [1, 1],
    [3, 150],
  ])('batch %i, T = %i', async (batch, T) => {
    const kernels = compileScan(module, plan!, sizes);
    expect(kernels.matrix).toBeDefined();
    const d = data(module, sizes, batch, T, 31 * T + batch);
    const job = buildScanJob(module, kernels, d);
    expectClose(job.decode((await gpu.run(job.job)).buffers), reference(module, sizes, d), 2e-5 * Math.sqrt(T) + 1e-5, `${name} batch ${batch} T=${T}`);
  });
});
