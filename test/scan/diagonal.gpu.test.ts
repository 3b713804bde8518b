// The scan kernels on Dawn for a hand-built diagonal plan (h <- a h + b): every schedule (one pass
// carrying the prefix; reduce-then-scan with one and with three or more levels of aggregates), both
// splits and both ways of combining runs (subgroup shuffles, workgroup memory), initial states and variable lengths,
// against a float64 loop and the sequential kernel.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { diagonalSource, diagonalSumProdPlan } from './hand-plans.js';
import { expectClose, runScan, runSeq } from './helpers.js';
import { buildScanJob, compileScan } from '../../backends/wgsl-scan/index.js';

const module = frontEnd(diagonalSource).module!;
const sizes = bindDims(module);
const plan = diagonalSumProdPlan();
const D = 4;

function data(batch: number, T: number, seed: number) {
  let s = seed;
  const rand = () => ((s = (s * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  const a = Float32Array.from({ length: batch * T * D }, () => 0.5 + 0.5 * rand());
  const b = Float32Array.from({ length: batch * T * D }, () => rand() - 0.5);
  const h0 = Float32Array.from({ length: batch * D }, () => rand());
  const lengths = Int32Array.from({ length: batch }, (_, k) => (k === 1 ? Math.floor(T / 2) : k === 2 ? 0 : T));
  return { batch, T, inputs: { a, b }, params: {}, initialState: { h: h0 }, lengths };
}

function loop(d: ReturnType<typeof data>) {
  const y = new Float32Array(d.batch * d.T * D);
  const h = new Float32Array(d.batch * D);
  for (let b = 0; b < d.batch; b++)
    for (let k = 0; k < D; k++) {
      let v = d.initialState.h[b * D + k]!;
      for (let t = 0; t < d.lengths[b]!; t++) {
        const i = (b * d.T + t) * D + k;
        v = d.inputs.a[i]! * v + d.inputs.b[i]!;
        y[i] = v;
      }
      h[b * D + k] = v;
    }
  return { outputs: { y }, finalState: { h } };
}

let gpu: GpuSession;
beforeAll(async () => {
  gpu = await GpuSession.open();
});
afterAll(async () => {
  await gpu?.close();
});

const splits = [
  { name: 'tile split, subgroups', subgroups: true, tile: { split: 'tile', runs: 2, runLength: 2 } },
  { name: 'tile split, workgroup memory', subgroups: false, tile: { split: 'tile', runs: 2, runLength: 2 } },
  { name: 'thread split', subgroups: false, tile: { split: 'thread', runLength: 2, width: 4 } },
  { name: 'stripe split', subgroups: true, tile: { split: 'stripe', width: 4 } },
] as const;

// The single pass (decoupled look-back): with the default spin limit, and with none, so that every
// look at a record not yet published falls back to reducing that block.
describe.each([
  { name: 'default spin limit', spinLimit: undefined },
  { name: 'always falling back', spinLimit: 0 },
])('diagonal scan in a single pass ($name)', ({ spinLimit }) => {
  const single = { tile: { split: 'stripe' as const, width: 4 }, subgroups: true, strategy: 'single-pass' as const, targetBlocks: 16, ...(spinLimit === undefined ? {} : { spinLimit }) };

  it.each([1, 2, 3, 97, 128, 129, 20_011])('matches the loop and the sequential kernel at T = %i', async (T) => {
    const d = data(3, T, T);
    const got = await runScan(gpu, module, plan, sizes, d, single);
    expect(got.strategy).toBe('single-pass');
    expectClose(got, loop(d), T > 1000 ? 1e-4 : 1e-5, `T=${T}`);
    expectClose(got, await runSeq(gpu, module, sizes, d), T > 1000 ? 1e-4 : 1e-5, `T=${T} vs seq`);
  });

  it('runs again on the same buffers, computing every output anew (tickets count on from run to run)', async () => {
    const d = data(2, 500, 5);
    const kernels = compileScan(module, plan, sizes, single);
    const built = buildScanJob(module, kernels, d, single);
    // Three runs of the pass in one job, on one status buffer that nobody resets; the outputs are
    // zeroed before the third, so that it must compute them all again.
    const zero = { label: 'zero', code: '@group(0) @binding(0) var<storage, read_write> o: array<f32>;\n@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < arrayLength(&o)) { o[g.x] = 0.0; } }' };
    const zeroPass = { shader: 'zero', bindings: [{ binding: 0, buffer: 'outputs' }], dispatch: [Math.ceil((d.batch * d.T * D) / 64)] as [number] };
    const [run] = built.job.passes;
    const job = { ...built.job, shaders: [...built.job.shaders, zero], passes: [run!, run!, zeroPass, run!] };
    expectClose(built.decode((await gpu.run(job)).buffers), loop(d), 1e-5, 'third run');
  });

});


describe.each(splits)('diagonal scan ($name)', ({ subgroups, tile }) => {
  const tiny = { tile, subgroups, targetBlocks: 1000, topMax: 4 };

  it.each([1, 2, 3, 97, 128, 129])('matches the loop and the sequential kernel at T = %i (reduce-then-scan, tiny tiles)', async (T) => {
    const d = data(3, T, T);
    const got = await runScan(gpu, module, plan, sizes, d, { ...tiny, strategy: 'reduce-then-scan' });
    expectClose(got, loop(d), 1e-5, `T=${T}`);
    expectClose(got, await runSeq(gpu, module, sizes, d), 1e-5, `T=${T} vs seq`);
  });

  it('needs three levels of aggregates at T = 1000 with 4-step tiles, and still matches', async () => {
    const d = data(3, 1000, 7);
    const got = await runScan(gpu, module, plan, sizes, d, { ...tiny, strategy: 'reduce-then-scan' });
    // 4-step tiles or stripes, or 2-step blocks walked by one thread each.
    const levels = { tile: [250, 63, 16, 4], thread: [500, 250, 125, 63, 32, 16, 8, 4], stripe: [250, 63, 16, 4] };
    expect(got.levels).toEqual(levels[tile.split]);
    expectClose(got, loop(d), 1e-5, 'three levels');
  });

  it('carries the prefix across tiles in one pass for many sequences', async () => {
    const d = data(40, 300, 3);
    const got = await runScan(gpu, module, plan, sizes, d, { subgroups, tile: { split: tile.split }, strategy: 'auto' });
    expect(got.strategy).toBe('carry');
    expectClose(got, loop(d), 1e-5, 'carry');
  });

  it('runs default tiles over a long sequence (reduce-then-scan)', async () => {
    const d = data(3, 20_011, 11);
    const got = await runScan(gpu, module, plan, sizes, d, { subgroups, tile: { split: tile.split }, strategy: 'reduce-then-scan' });
    expect(got.levels.length).toBe(1);
    expectClose(got, loop(d), 1e-4, 'long');
  });
});
