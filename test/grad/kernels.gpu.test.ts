// The backward kernels on Dawn: for every example and bench cell, `runGrad` (the saving and backward
// cells compiled by the backends, on the shared BPTT schedule) gives the gradients of the float64
// backward step (`interpretBackward`, itself checked against the tape and central differences in
// pass.test.ts) within a norm-wise 1e-4: |gpu - ref| <= 1e-4 · (1 + max |ref| of the tensor).
// Cases: lengths 1, a prime, a power of two plus one; variable lengths; a given initial state;
// checkpoints; the sequential backward and the planner's (scan where the backward cell is affine; for
// the diagonal scan cells, the staged backward: the adjoint scan, then the time-parallel rest).
// All runs share one Dawn session. Last, which jobs a backward runs: the params' sums as one time-sum
// job, and the staged backward's core and rest (so a silent fallback to the older schedule fails).
//
// Cold, the full matrix compiles every cell's saving, backward and per-param kernels in two modes: about
// 4 minutes on 2 cores, a third of CI. CI runs one cell of each kind (nonlinear dense, monoid, diagonal
// (+, ×) with and without params, low-rank, (max, +) for the selecting semirings) at every case;
// `RNNC_TEST_MATRIX=full` runs every example and bench cell (npm run test:grad-full).
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { bindDims, tensorSize } from '../../src/compiler/ir/dims.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { plan } from '../../src/driver/compile.js';
import { randomLengths, randomRunData, uniformFloats } from '../../src/driver/data.js';
import { planGrad, retargetGrad, runGrad, type GradCompilation } from '../../src/driver/grad.js';
import { gradientTensors } from '../../src/driver/grad-io.js';
import { tensorError } from '../../src/driver/verify.js';
import type { Device } from '../../src/runtime/device.js';
import { interpretBackward } from '../../src/runtime/reference/grad-step.js';
import type { ModeRequest } from '../../src/compiler/plan/plan.js';
import { cellFiles, moduleAt } from './helpers.js';
import { FULL_MATRIX } from '../helpers/matrix.js';

const TOLERANCE = 1e-4;

// (max, min) routes gradients as (max, +) does: maxplus stands for both in CI.
const REPRESENTATIVE = ['examples/lstm', 'examples/aaren', 'examples/mamba_s6', 'examples/gla', 'examples/deltanet', 'examples/maxplus', 'bench/cells/cumsum'];
const cells = FULL_MATRIX ? cellFiles : cellFiles.filter(([label]) => REPRESENTATIVE.includes(label));

/** [label, batch, T, variable lengths, given initial state, checkpoint, forward mode, backward mode] */
type Case = [string, number, number, boolean, boolean, number | undefined, ModeRequest, ModeRequest];
const CASES: Case[] = [
  ['T=1', 2, 1, false, false, undefined, 'seq', 'seq'],
  ['T=17, variable lengths, initial state, checkpoint 5', 3, 17, true, true, 5, 'seq', 'seq'],
  ['T=33, variable lengths, auto forward and backward', 3, 33, true, false, undefined, 'auto', 'auto'],
  // The staged backward (the adjoint scan, then the time-parallel rest) across checkpointed segments.
  ['T=29, variable lengths, initial state, auto, checkpoint 8', 2, 29, true, true, 8, 'auto', 'auto'],
];

const gpu = fileGpu();

function compileGrad(m: Module, mode: ModeRequest, backward: ModeRequest): GradCompilation {
  const forward = plan(m, analyse(m).analysis, { mode });
  return retargetGrad(planGrad(forward, backward), gpu);
}

it('the representative cells exist', () => expect(cellFiles.filter(([label]) => REPRESENTATIVE.includes(label)).length).toBe(REPRESENTATIVE.length));

/** Cells whose planned backward is staged (the adjoint scan, then the rest): the checkpointed auto case is theirs. */
const STAGED = ['examples/mamba_s6', 'examples/maxplus'];

describe.each(cells)('%s', (label, url) => {
  const m = moduleAt(url);
  const sizes = bindDims(m);
  it.each(CASES.filter((c) => !(c[5] !== undefined && c[6] === 'auto') || STAGED.includes(label) || FULL_MATRIX))('%s', async (_l, batch, T, variable, initial, checkpoint, mode, backwardMode) => {
    const g = compileGrad(m, mode, backwardMode);
    const lengths = variable ? randomLengths(batch, T, 3) : undefined;
    const shape = { batch, T, sizes, ...(lengths ? { lengths } : {}) };
    const data = randomRunData(m, shape, 11, { initial });
    const upstream = {
      outputs: Object.fromEntries(tensorsOf(m, 'output').map((o) => [o.name, uniformFloats(11, `grad:${o.name}`, batch * T * tensorSize(o, sizes))])),
      final: Object.fromEntries(tensorsOf(m, 'state').map((s) => [s.name, uniformFloats(11, `grad:${s.name}.final`, batch * tensorSize(s, sizes))])),
    };
    const f32 = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v)]));
    const arrays = { batch, T, inputs: f32(data.inputs), params: f32(data.params), ...(data.initial ? { initialState: f32(data.initial) } : {}), ...(lengths ? { lengths } : {}) };
    const got = await runGrad(gpu, g, arrays, upstream, checkpoint !== undefined ? { checkpoint } : {});
    const ref = await interpretBackward(m, shape, data, upstream, g.step);
    const size = { batch, T };
    const want = gradientTensors(m, sizes, size, ref);
    const errors = gradientTensors(m, sizes, size, got).map((t, k) => tensorError(t.name, 'grad', t.data, want[k]!.data, TOLERANCE, { normwise: true }));
    for (const e of errors) expect(e.maxErr, `${e.name} (backward ${g.backward.plan.mode}): worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(TOLERANCE);
    // The forward results come back too, from the same runs.
    for (const o of tensorsOf(m, 'output')) {
      const e = tensorError(o.name, 'output', got.forward.outputs[o.name]!, ref.forward.outputs[o.name]!, TOLERANCE);
      expect(e.maxErr, o.name).toBeLessThanOrEqual(TOLERANCE);
    }
  });
});

describe('the jobs a backward runs', () => {
  /** runGrad on a device that records each job's shader labels. */
  async function jobsOf(label: string, mode: ModeRequest): Promise<string[][]> {
    const m = moduleAt(new URL(`../../${label}.rnn`, import.meta.url));
    const g = compileGrad(m, mode, mode);
    const sizes = bindDims(m);
    const shape = { batch: 2, T: 9, sizes };
    const data = randomRunData(m, shape, 5);
    const f32 = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v)]));
    const jobs: string[][] = [];
    const recording: Device = { adapter: gpu.adapter, run: (job) => (jobs.push(job.shaders.map((s) => s.label)), gpu.run(job)), compileShaders: (...a) => gpu.compileShaders(...a), close: async () => {} };
    await runGrad(recording, g, { batch: 2, T: 9, inputs: f32(data.inputs), params: f32(data.params) });
    return jobs;
  }

  // d_x reads only the gate adjoints the backward cell writes for the sums: a map in the sums' job (split.inputs).
  it("lstm: the saving cell, the backward cell without d_x, then every param's sum and d_x in one time-sum job", async () => {
    const jobs = await jobsOf('examples/lstm', 'seq');
    expect(jobs.length).toBe(3);
    expect(jobs[2]!.every((l) => l.startsWith('lstm_grad_sums.'))).toBe(true);
    expect(jobs[2]!.length).toBe(13);
    expect(jobs[2]!.filter((l) => l.includes('lstm_grad_inputs'))).toHaveLength(1);
  });

  it('mamba_s6 with auto: the saving cell, the adjoint scan (core), then the rest in one job', async () => {
    const jobs = await jobsOf('examples/mamba_s6', 'auto');
    expect(jobs.length).toBe(3);
    expect(jobs[2]!.every((l) => l.startsWith('mamba_s6_grad_rest.'))).toBe(true);
  });

  // No params: staged because its inputs' gradients sum over the state adjoint (restWorthStaging).
  it('gla with auto: the saving cell, the adjoint scan (core), then the rest in one job', async () => {
    const jobs = await jobsOf('examples/gla', 'auto');
    expect(jobs.length).toBe(3);
    expect(jobs[2]!.every((l) => l.startsWith('gla_grad_rest.'))).toBe(true);
  });
});
