// Gradients of reversed and bidirectional cells on Dawn: `runGrad` (a reversed cell's backward kernels
// walk time forward; a bidirectional cell's two parts each run their own saving and backward kernels,
// their gradients joined) against the float64 tape (src/runtime/reference/grad.ts, itself checked
// against central differences in directions.test.ts), norm-wise 1e-4: lengths 1 and a prime, variable
// lengths, given initial states, checkpoints, the sequential backward and the staged scan.
import { gpuAgainstTape } from './gpu-tape.js';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import type { ModeRequest } from '../../src/compiler/plan/plan.js';
import { plan } from '../../src/driver/compile.js';
import { planGrad, retargetGrad, usesStages, type GradCompilation } from '../../src/driver/grad.js';
import { tensorError } from '../../src/driver/verify.js';
import { BIMAMBA, LRU_REVERSED, moduleOf, TANH_REVERSED } from './directions-cells.js';

const TOLERANCE = 1e-4;

const gpu = fileGpu();

interface Case {
  label: string;
  text: string;
  batch: number;
  T: number;
  lengths: boolean;
  initial: boolean;
  checkpoint?: number;
  mode: ModeRequest;
  /** Small dims: a kernel's cold compile on lavapipe grows with the unrolled dims (CI time). */
  dims: Record<string, number>;
  /** What the plan must be, so that the case covers it. */
  expectPlan(g: GradCompilation): void;
}

const CASES: Case[] = [
  { label: 'tanhrev (reversed), T=1, seq', text: TANH_REVERSED, batch: 2, T: 1, lengths: false, initial: false, mode: 'seq', dims: { X: 2, H: 3 }, expectPlan: (g) => expect(g.backward.module.reversed).toBeUndefined() },
  { label: 'tanhrev (reversed), T=13, variable lengths, initial state, checkpoint 4, seq', text: TANH_REVERSED, batch: 3, T: 13, lengths: true, initial: true, checkpoint: 4, mode: 'seq', dims: { X: 2, H: 3 }, expectPlan: (g) => expect(g.backward.plan.mode).toBe('seq') },
  {
    label: 'lru_rev (reversed), T=17, variable lengths, initial state, checkpoint 5, auto: the staged scan walking forward',
    text: LRU_REVERSED,
    batch: 2,
    T: 17,
    lengths: true,
    initial: true,
    checkpoint: 5,
    mode: 'auto',
    dims: { N: 2, H: 2 },
    expectPlan: (g) => {
      expect(usesStages(g)).toBe(true);
      expect(g.staged!.core.plan.mode).toBe('scan');
      expect(g.staged!.core.module.reversed).toBeUndefined();
    },
  },
  {
    label: 'bimamba (bidirectional), T=7, variable lengths, initial state, seq: two parts',
    text: BIMAMBA,
    batch: 3,
    T: 7,
    lengths: true,
    initial: true,
    mode: 'seq',
    dims: { D: 2, N: 2 },
    expectPlan: (g) => expect(g.parts?.map((p) => [p.forward.module.reversed === true, p.backward.module.reversed === true])).toEqual([[false, true], [true, false]]),
  },
];

describe('reversed and bidirectional cells on Dawn against the float64 tape', () => {
  it.each(CASES.map((c) => [c.label, c] as const))('%s', async (_l, c) => {
    const m = moduleOf(c.text);
    const g = retargetGrad(planGrad(plan(m, analyse(m).analysis, { mode: c.mode, dims: c.dims }), c.mode), gpu);
    const sizes = g.forward.sizes;
    expect(sizes).toEqual({ ...bindDims(m), ...c.dims });
    c.expectPlan(g);
    const { errors, got, tape } = await gpuAgainstTape(gpu, g, m, c, TOLERANCE);
    expect(errors.length).toBe(tensorsOf(m, 'input').length + tensorsOf(m, 'param').length + tensorsOf(m, 'state').length);
    for (const e of errors) expect(e.maxErr, `${e.name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(TOLERANCE);
    for (const o of tensorsOf(m, 'output')) expect(tensorError(o.name, 'output', got.forward.outputs[o.name]!, tape.forward.outputs[o.name]!, TOLERANCE).maxErr, o.name).toBeLessThanOrEqual(TOLERANCE);
    for (const s of tensorsOf(m, 'state')) expect(tensorError(s.name, 'state', got.forward.final[s.name]!, tape.forward.final[s.name]!, TOLERANCE).maxErr, s.name).toBeLessThanOrEqual(TOLERANCE);
  });
});
