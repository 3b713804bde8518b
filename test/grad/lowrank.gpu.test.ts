// The chunked backward of the low-rank cells on Dawn (docs/grad.md, "The chunked backward"): the adjoint
// recurrence of a diagonal-plus-rank-k transition is one too, with the factors transposed, so the staged
// core (src/compiler/grad/stage.ts) runs in the chunk backend's WY kernels, walking time backward, and the
// rest runs time-parallel (the time-sum kernel, or at sizes it does not take, every step as a sequence of
// its own). `runGrad` against the float64 tape (src/runtime/reference/grad.ts, itself checked against
// central differences in reference.test.ts), norm-wise 1e-4: T = 1, T not a multiple of the chunk,
// variable lengths, given initial states, checkpoints. Small dims and chunks (a kernel's cold compile on
// lavapipe grows with the unrolled dims: CI time).
import { gpuAgainstTape } from './gpu-tape.js';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { readFileSync } from 'node:fs';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { tensorSize } from '../../src/compiler/ir/dims.js';
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import { plan } from '../../src/driver/compile.js';
import { planGrad, retargetGrad, usesStages, type GradCompilation, type GradPlanOptions } from '../../src/driver/grad.js';
import { frontEnd } from '../../src/driver/front-end.js';
import type { ModeRequest } from '../../src/compiler/plan/plan.js';

const TOLERANCE = 1e-4;

const gpu = fileGpu();

const moduleOf = (cell: string) => frontEnd(readFileSync(new URL(`../../examples/${cell}.rnn`, import.meta.url), 'utf8')).module!;

interface Case {
  label: string;
  cell: string;
  batch: number;
  T: number;
  lengths: boolean;
  initial: boolean;
  checkpoint?: number;
  /** The backward's mode request (`--grad-mode`). */
  mode: ModeRequest;
  dims: Record<string, number>;
  grad?: GradPlanOptions;
  rest: 'time-sum' | 'steps';
}

// At K = V = 4 the scan takes the core whole (a 33-float element), so `auto` picks it: these cases ask
// for chunks (`--grad-mode chunk`). At the spec's K = V = 8 auto picks chunks (planned below; run by
// kernels.gpu.test.ts's deltanet auto case).
const SMALL = { K: 4, V: 4 };
const CHUNK = 4;
const CASES: Case[] = [
  { label: 'deltanet, T=1', cell: 'deltanet', dims: SMALL, batch: 2, T: 1, lengths: false, initial: false, mode: 'chunk', rest: 'time-sum' },
  { label: 'deltanet, T=13, variable lengths, initial state, chunk: 3 chunks of 4 and one of 1', cell: 'deltanet', dims: SMALL, batch: 3, T: 13, lengths: true, initial: true, mode: 'chunk', rest: 'time-sum' },
  { label: 'deltanet, T=17, variable lengths, initial state, checkpoint 6', cell: 'deltanet', dims: SMALL, batch: 2, T: 17, lengths: true, initial: true, checkpoint: 6, mode: 'chunk', rest: 'time-sum' },
  // Its rest binds 18 storage buffers in the time-sum kernel (Dawn allows 16): every step as a sequence of its own.
  { label: 'rwkv7 (a decay on the diagonal), T=17, variable lengths, initial state, checkpoint 5, the rest over every step', cell: 'rwkv7', dims: SMALL, batch: 2, T: 17, lengths: true, initial: true, checkpoint: 5, mode: 'chunk', rest: 'steps' },
];

describe('the chunked backward of low-rank cells on Dawn against the float64 tape', () => {
  it.each(CASES.map((c) => [c.label, c] as const))('%s', async (_l, c) => {
    const m = moduleOf(c.cell);
    const forward = plan(m, analyse(m).analysis, { mode: 'seq', dims: c.dims, chunk: CHUNK });
    const g: GradCompilation = retargetGrad(planGrad(forward, c.mode, { chunk: CHUNK, ...c.grad }), gpu);
    // The plan: staged, the core in chunks (WY form) walking time backward, the rest as asked.
    expect(usesStages(g)).toBe(true);
    expect(g.staged!.core.plan.mode).toBe('chunk');
    expect(g.staged!.core.plan.decision).toMatchObject({ mode: 'chunk', chunk: CHUNK });
    expect(g.staged!.core.plan.why).toContain('WY form');
    expect(g.staged!.core.module.reversed).toBe(true);
    expect(g.staged!.rest.kind).toBe(c.rest);
    const { errors } = await gpuAgainstTape(gpu, g, m, c, TOLERANCE);
    expect(errors.length).toBe(tensorsOf(m, 'input').length + tensorsOf(m, 'state').length);
    for (const e of errors) expect(e.maxErr, `${e.name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('what auto plans for the low-rank cells (no kernels run)', () => {
  // The core in chunks where the planner's own choice is the sequential loop (the scan takes the K × K
  // transition only as a matrix product per step); the rest in the time-sum kernel where it fits, else
  // every step on its own, one invocation each, at any size (gated_deltanet's backward at T = 4,096
  // went from 148 to 17 ms so, docs/grad.md "Session 29").
  it.each([
    ['deltanet', {}, 'time-sum'],
    ['gated_deltanet', {}, 'steps'],
    ['rwkv7', {}, 'steps'],
    ['deltanet', { K: 64, V: 64 }, 'steps'],
    ['deltaproduct2', { K: 32, V: 32 }, 'steps'],
  ] as const)('%s %j: rest %s', (cell, dims, rest) => {
    const m = moduleOf(cell);
    const g = planGrad(plan(m, analyse(m).analysis, { mode: 'auto', dims }), 'auto');
    expect(usesStages(g)).toBe(rest !== undefined);
    if (rest === undefined) expect(g.backward.plan.mode).toBe('seq');
    else {
      expect(g.staged!.core.plan.mode).toBe('chunk');
      expect(g.staged!.core.module.reversed).toBe(true);
      expect(g.staged!.rest.kind).toBe(rest);
    }
    // Without the chunked core, the one-cell sequential backward as before.
    const before = planGrad(plan(m, analyse(m).analysis, { mode: 'auto', dims }), 'auto', { chunkCore: false });
    expect(usesStages(before)).toBe(false);
    expect(before.backward.plan.mode).toBe('seq');
  });
});
