// The staged rest recomputing its states over runs of steps (backends/wgsl-reduce/time-sum.ts,
// `Recompute`; docs/grad.md, "The rest recomputes its states"): each invocation walks a run's forward
// update from the saved state at the run's first step and the core's update back from the carried
// adjoint at its last, instead of reading both at every step. Checked on Dawn against the float64 tape
// (norm-wise 1e-4) where runs are cut: T = 1, T a run plus one, lengths that end mid-run, batches,
// given initial states, checkpoints that do not divide into runs, and pieces of time a small binding
// limit cuts; and against the same backward reading every step (`recomputeRest: false`).
import { gpuAgainstTape } from './gpu-tape.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { plan } from '../../src/driver/compile.js';
import { planGrad, retargetGrad, usesStages, type GradCompilation, type GradPlanOptions } from '../../src/driver/grad.js';
import { openGpu } from '../../src/driver/run.js';
import type { Device } from '../../src/runtime/device.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { compileTimeSum } from '../../backends/wgsl-reduce/time-sum.js';

const TOLERANCE = 1e-4;

let gpu: Device;
beforeAll(async () => {
  gpu = await openGpu();
});
afterAll(async () => {
  await gpu?.close();
});

const moduleOf = (cell: string) => frontEnd(readFileSync(new URL(`../../examples/${cell}.rnn`, import.meta.url), 'utf8')).module!;
const gradOf = (cell: string, options: GradPlanOptions = {}): GradCompilation => {
  const m = moduleOf(cell);
  return retargetGrad(planGrad(plan(m, analyse(m).analysis, { mode: 'auto' }), 'auto', options), gpu);
};
const runOf = (g: GradCompilation) => (g.staged?.rest.kind === 'time-sum' ? g.staged.rest.recompute : undefined);

describe('the plan', () => {
  // Runs of RUN_FLOATS / the forward state's floats, at most 32: gla's S is 8 x 8, mamba_s6's h 8 x 4, lru's 2 x 8 x 4.
  it.each([
    ['gla', 16],
    ['mamba_s6', 32],
    ['lru', 32],
  ])('%s: staged, the rest recomputing over runs of %i steps', (cell, run) => {
    const g = gradOf(cell);
    expect(usesStages(g)).toBe(true);
    expect(runOf(g)).toBe(run);
    expect(runOf(gradOf(cell, { recomputeRest: false }))).toBeUndefined();
  });

  it("gla's rest kernel reads the saved state and the carried adjoint once a run, not once a step", () => {
    const g = gradOf('gla');
    const st = g.staged!;
    const recompute = { forward: g.forward.module, core: st.stages.core, saved: new Map(g.step.roles.savedStates.map((r) => [r.state, r.input])), carried: st.stages.carried, run: 16 };
    const [shader] = compileTimeSum([st.stages.rest], g.forward.sizes, 'rest', { recompute }).shaders;
    const code = shader!.code;
    expect(code).toMatch(/^\/\/ gla_grad_rest: .*runs of 16 steps per invocation, their S recomputed forward from the saved state and d_S back from the carried adjoint/);
    expect(code).toContain('var hs0: array<array<f32, 64>, 16>;');
    // The two checkpoint reads (16 vec4s each) sit outside the loops over the run's steps.
    const checkpoints = code.split('\n').filter((l) => /let (p0|a0)_q\d+ = in_\d+\[/.test(l));
    expect(checkpoints).toHaveLength(32);
    const [saved, carried] = [/let p0_q0 = (in_\d+)\[/, /let a0_q0 = (in_\d+)\[/].map((re) => code.match(re)![1]!);
    expect(code.split('\n').filter((l) => l.includes(`${saved}[`) || l.includes(`${carried}[`))).toHaveLength(32);
    // Gla's gate is computed once a step in each walk: the rest and the core's update share it.
    expect(code.match(/= sigmoid\(/g)).toHaveLength(16);
  });
});

interface Case {
  label: string;
  cell: string;
  batch: number;
  T: number;
  lengths: boolean;
  initial: boolean;
  checkpoint?: number;
  /** maxStorageBufferBindingSize the runs see: small enough to cut the rest's time into pieces. */
  binding?: number;
}

const CASES: Case[] = [
  { label: 'gla, T=1', cell: 'gla', batch: 2, T: 1, lengths: false, initial: false },
  { label: 'gla, T=17 (a run of 16 and one of 1), variable lengths, initial state', cell: 'gla', batch: 3, T: 17, lengths: true, initial: true },
  { label: 'gla, T=45, checkpoint 7 (segments that cut runs)', cell: 'gla', batch: 2, T: 45, lengths: true, initial: false, checkpoint: 7 },
  { label: 'gla, T=100, pieces of 32 steps (a 16 KiB binding)', cell: 'gla', batch: 2, T: 100, lengths: true, initial: true, binding: 16384 },
  { label: 'mamba_s6, T=65, variable lengths, initial state', cell: 'mamba_s6', batch: 3, T: 65, lengths: true, initial: true },
  { label: 'lru, T=33, variable lengths, checkpoint 10', cell: 'lru', batch: 2, T: 33, lengths: true, initial: true, checkpoint: 10 },
];

describe.each(CASES)('$label', (c) => {
  it('runGrad = the float64 tape, and = the rest that reads every step', async () => {
    // The same device, reporting a smaller binding limit to the planners.
    const limited = (device: Device): Device =>
      c.binding ? { adapter: { ...device.adapter, limits: { ...device.adapter.limits, maxStorageBufferBindingSize: c.binding } }, run: (job) => device.run(job), compileShaders: (...a) => device.compileShaders(...a), close: async () => {} } : device;
    const m = moduleOf(c.cell);
    const g = gradOf(c.cell);
    expect(runOf(g)).toBeGreaterThan(1);
    const { errors, got } = await gpuAgainstTape(limited(gpu), g, m, c, TOLERANCE);
    for (const e of errors) expect(e.maxErr, `${e.name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(TOLERANCE);
    const plain = await gpuAgainstTape(limited(gpu), gradOf(c.cell, { recomputeRest: false }), m, c, TOLERANCE);
    for (const [name, want] of Object.entries(plain.got.inputs)) {
      const have = got.inputs[name]!;
      const scale = 1 + Math.max(...want.map(Math.abs));
      expect(Math.max(...have.map((v, i) => Math.abs(v - want[i]!))) / scale, name).toBeLessThanOrEqual(1e-5);
    }
  });
});
