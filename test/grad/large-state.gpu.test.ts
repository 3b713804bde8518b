// The staged backward at a large state (src/driver/grad.ts, stagedOf; docs/grad.md, "Session 29"):
// where `auto` runs the forward's loop over lanes that fill workgroups (mamba_s6 at D = 64, N = 16:
// 1,024 lanes), the adjoint recurrence takes that loop too, and the rest, too large for the time-sum
// kernel, runs every step as a sequence of its own, its params' sums each step's final states summed
// on the host. Before, the one-cell backward ran one invocation per sequence (its step sums across
// the state). Checked on Dawn against the float64 tape, norm-wise 1e-4: T = 1, variable lengths, given
// initial states, a checkpoint that cuts the sequence into segments, and a binding limit that cuts the
// rest's steps into pieces whose sums are added as they come back.
import { gpuAgainstTape, withBindingLimit, type GpuGradCase } from './gpu-tape.js';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { readFileSync } from 'node:fs';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { emit, plan } from '../../src/driver/compile.js';
import { planGrad, retargetGrad, usesStages, type GradCompilation } from '../../src/driver/grad.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { backwardKernelText } from '../../src/cli/grad.js';

const TOLERANCE = 1e-4;

const gpu = fileGpu();

const moduleOf = (cell: string) => frontEnd(readFileSync(new URL(`../../examples/${cell}.rnn`, import.meta.url), 'utf8')).module!;
const gradOf = (cell: string, dims: Record<string, number>): GradCompilation => {
  const m = moduleOf(cell);
  return retargetGrad(planGrad(plan(m, analyse(m).analysis, { mode: 'auto', dims }), 'auto'), gpu);
};

const MAMBA = { D: 64, N: 16 };

describe('the plan', () => {
  it('mamba_s6 at D = 64, N = 16: the forward and the core loop, the rest every step with its sums', () => {
    const g = gradOf('mamba_s6', MAMBA);
    expect(g.forward.plan.mode).toBe('seq');
    expect(usesStages(g)).toBe(true);
    expect(g.staged!.core.plan.mode).toBe('seq');
    expect(g.staged!.rest.kind).toBe('steps');
    // The rest's states are the params' accumulators.
    const rest = g.staged!.rest.kind === 'steps' ? g.staged!.rest.compilation.module : undefined;
    expect(rest!.tensors.filter((t) => t.role === 'state').map((t) => t.name)).toEqual(['d_A_log', 'd_Dskip']);
    expect(backwardKernelText(g)).toBe(
      "staged: the adjoint recurrence in a seq kernel (the forward's loop: auto passed over the forward's scan, whose lanes fill workgroups; a sequential loop over time runs every cell), the rest in a sequential kernel over every step at once, the params' sums each step's final states, added on the host",
    );
  });

  it("mamba_s6 at D = 64, N = 16: the rest's lets and states in a storage buffer, a region per step, not in function-scope arrays", () => {
    const g = gradOf('mamba_s6', MAMBA);
    const rest = g.staged!.rest.kind === 'steps' ? g.staged!.rest.compilation : undefined;
    const code = Object.values(emit(rest!).prepare({ batch: 4, T: 1 }).shaders).join('\n');
    expect(code).toContain('var<storage, read_write> locals: array<f32>;');
    expect(code).toMatch(/locals\[unit \* 7424u \+ /);
    expect(code).not.toMatch(/var \w+: array<f32, \d+>;/);
  });

  it('gla at K = V = 16 (256 elements): its scan core, the rest every step; LSTM at H = 128 keeps its one-cell loop', () => {
    const g = gradOf('gla', { K: 16, V: 16 });
    expect(g.forward.plan.mode).toBe('scan');
    expect(usesStages(g)).toBe(true);
    expect(g.staged!.core.plan.mode).toBe('scan');
    expect(g.staged!.rest.kind).toBe('steps');
    // A nonlinear cell's loop core would recompute its primal in the rest: never the steps rest.
    const lstm = gradOf('lstm', { X: 64, H: 128 });
    expect(usesStages(lstm)).toBe(false);
    expect(lstm.staged?.rest.kind === 'steps').toBe(false);
  });
});

interface Case extends GpuGradCase {
  label: string;
  /** maxStorageBufferBindingSize the runs see: small enough to cut the rest's steps into pieces that straddle sequences. */
  binding?: number;
}

const CASES: Case[] = [
  { label: 'T=1', batch: 2, T: 1, lengths: false, initial: false },
  { label: 'T=9, variable lengths, initial state', batch: 3, T: 9, lengths: true, initial: true },
  { label: 'T=11, checkpoint 4 (three segments)', batch: 2, T: 11, lengths: true, initial: false, checkpoint: 4 },
  { label: 'T=9, a 64 KiB binding (the rest in pieces of a few steps, across sequences)', batch: 3, T: 9, lengths: true, initial: true, binding: 65536 },
];


describe.each(CASES)('mamba_s6 at D = 64, N = 16, $label', (c) => {
  it('runGrad = the float64 tape', async () => {
    const g = gradOf('mamba_s6', MAMBA);
    const { errors } = await gpuAgainstTape(withBindingLimit(gpu, c.binding), g, moduleOf('mamba_s6'), c, TOLERANCE);
    expect(errors.map((e) => e.name)).toContain('grad_A_log');
    for (const e of errors) expect(e.maxErr, `${e.name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(TOLERANCE);
  });
});
