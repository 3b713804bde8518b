// The chained single pass (backends/wgsl-scan/chained.ts) on Dawn, against the reference
// interpreter: one-float-per-step cells (the diagonal (a, b) scan, a running sum, an output that reads
// inputs and params, parity, minGRU at one channel with params hoisted into invariants), variable lengths
// and given initial states, one and several sequences, lengths that end inside a tile, a group and a
// workgroup; the fallback taken at every look that finds a record unpublished; repeated runs on one
// status buffer; and `auto` choosing it only where it applies.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { buildScanJob, compileScan } from '../../backends/wgsl-scan/index.js';
import { expectClose, referenceRun, runData, runScan } from './helpers.js';

const load = (text: string) => {
  const module = frontEnd(text).module!;
  return { module, plan: analyse(module).analysis.plan!, sizes: bindDims(module) };
};

const cells = {
  affine: load(readFileSync('bench/cells/affine.rnn', 'utf8')),
  cumsum: load(readFileSync('bench/cells/cumsum.rnn', 'utf8')),
  // The store phase reads the step's inputs and a param (private step inputs in store_step).
  readsInputs: load(`rnn reads_inputs {
  dims C = 1
  input a[C], b[C]
  param w[C]
  state h[C] = 0
  h[c] <- a[c] * h[c] + b[c]
  output y[c] = h[c] * b[c] + w[c]
  output z[c] = a[c] - h[c]
}
`),
  parity: load(readFileSync('examples/parity.rnn', 'utf8')),
  mingru: load(readFileSync('examples/mingru.rnn', 'utf8').replace('dims X = 8, H = 8', 'dims X = 1, H = 1')),
};

const chained = { tile: { split: 'stripe' as const, chained: true }, subgroups: true };

let gpu: GpuSession;
beforeAll(async () => {
  gpu = await GpuSession.open();
});
afterAll(async () => {
  await gpu?.close();
});

describe.each(Object.entries(cells))('the chained pass on %s', (_, c) => {
  it('compiles the kernel', () => {
    expect(compileScan(c.module, c.plan, c.sizes, chained).kernels.scan_chained).toBeDefined();
  });

  // Steps per invocation as the schedule picks them (16 up to T = 2^17), unless given: 4 and 8, one
  // partial range; 8,196: past one workgroup; 40,000: several workgroups, and with 4 steps (one vec4
  // per range, many groups), 64 and 512 (walks of many vec4s, a last range cut short by T, lengths
  // ending inside a range and before it).
  it.each([
    [4, 1, undefined],
    [8, 3, undefined],
    [1_028, 2, undefined],
    [8_196, 1, undefined],
    [40_000, 3, undefined],
    [40_000, 3, 4],
    [40_000, 3, 64],
    [40_000, 3, 512],
  ])('matches the reference at T = %i, batch %i, variable lengths and initial states (steps per invocation %s)', async (T, batch, steps) => {
    const d = runData(c.module, batch, T, T + batch, true);
    const got = await runScan(gpu, c.module, c.plan, c.sizes, d, { ...chained, strategy: 'chained', ...(steps ? { chainSteps: steps } : {}) });
    expect(got.strategy).toBe('chained');
    expectClose(got, referenceRun(c.module, d), 1e-4, `T=${T}`);
  });
});

describe('the chained pass, look-back and records', () => {
  const c = cells.affine;

  it('falls back at every look that finds a record unpublished (spin limit 0), and still matches', async () => {
    const d = runData(c.module, 2, 100_000, 9, true);
    const ref = referenceRun(c.module, d);
    for (const chainSteps of [16, 512]) {
      const got = await runScan(gpu, c.module, c.plan, c.sizes, d, { ...chained, strategy: 'chained', spinLimit: 0, chainSteps });
      expectClose(got, ref, 1e-4, `spin 0, ${chainSteps} steps per invocation`);
    }
  });

  it('runs again on the same buffers, computing every output anew (tickets count on from run to run)', async () => {
    const d = runData(c.module, 2, 20_000, 5, true);
    const kernels = compileScan(c.module, c.plan, c.sizes, chained);
    const built = buildScanJob(c.module, kernels, d, { strategy: 'chained' });
    const zero = { label: 'zero', code: '@group(0) @binding(0) var<storage, read_write> o: array<f32>;\n@compute @workgroup_size(64) fn main(@builtin(global_invocation_id) g: vec3u) { if (g.x < arrayLength(&o)) { o[g.x] = 0.0; } }' };
    const zeroPass = { shader: 'zero', bindings: [{ binding: 0, buffer: 'outputs' }], dispatch: [Math.ceil((d.batch * d.T) / 64)] as [number] };
    const [run] = built.job.passes;
    const job = { ...built.job, shaders: [...built.job.shaders, zero], passes: [run!, run!, zeroPass, run!] };
    expectClose(built.decode((await gpu.run(job)).buffers), referenceRun(c.module, d), 1e-4, 'third run');
  });

  it('is what auto takes for one long sequence, and not where T is not a multiple of 4 or sequences are many', async () => {
    const cases = [
      { batch: 1, T: 65_536, strategy: 'chained' },
      { batch: 1, T: 65_538, strategy: 'reduce-then-scan' },
      { batch: 16, T: 4_096, strategy: 'carry' },
    ];
    for (const { batch, T, strategy } of cases) {
      const d = runData(c.module, batch, T, 3, true);
      const got = await runScan(gpu, c.module, c.plan, c.sizes, d, { ...chained, strategy: 'auto' });
      expect(got.strategy, `batch ${batch}, T ${T}`).toBe(strategy);
      expectClose(got, referenceRun(c.module, d), 1e-4, `auto, batch ${batch}, T ${T}`);
    }
  });
});
