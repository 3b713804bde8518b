// The staged rest recomputing its states over runs of steps (backends/wgsl-reduce/time-sum.ts,
// `Recompute`; docs/grad.md, "The rest recomputes its states"): each invocation walks a run's forward
// update from the saved state at the run's first step and the core's update back from the carried
// adjoint at its last, instead of reading both at every step. Checked on Dawn against the float64 tape
// (norm-wise 1e-4) where runs are cut: T = 1, T a run plus one, lengths that end mid-run, batches,
// given initial states, checkpoints that do not divide into runs, and pieces of time a small binding
// limit cuts. (The rest that reads every step, `recomputeRest: false`, still runs where recomputing
// does not apply: the reversed lru of directions.gpu.test.ts.)
import { gpuAgainstTape, withBindingLimit, type GpuGradCase } from './gpu-tape.js';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { readFileSync } from 'node:fs';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { plan } from '../../src/driver/compile.js';
import { planGrad, retargetGrad, usesStages, type GradCompilation, type GradPlanOptions } from '../../src/driver/grad.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { compileTimeSum } from '../../backends/wgsl-reduce/time-sum.js';
import { emit } from '../../src/driver/compile.js';
import { planSegments, runSegmented } from '../../src/driver/segments.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { SampleRequest } from '../../src/compiler/plan/plan.js';

const TOLERANCE = 1e-4;

const gpu = fileGpu();

// A cell of examples/, or of test/fixtures/grad/ (gla_proj: gla with params).
const moduleOf = (cell: string) => frontEnd(readFileSync(new URL(cell === 'gla_proj' ? `../fixtures/grad/${cell}.rnn` : `../../examples/${cell}.rnn`, import.meta.url), 'utf8')).module!;
const gradOf = (cell: string, options: GradPlanOptions = {}): GradCompilation => {
  const m = moduleOf(cell);
  return retargetGrad(planGrad(plan(m, analyse(m).analysis, { mode: 'auto' }), 'auto', options), gpu);
};
const runOf = (g: GradCompilation) => (g.staged?.rest.kind === 'time-sum' ? g.staged.rest.recompute : undefined);
const gateOf = (g: GradCompilation) => (g.staged?.rest.kind === 'time-sum' ? g.staged.rest.gated : undefined);

describe('the plan', () => {
  it("gla's saving and core scans write their checkpoints once a run (PlanRequest.sample)", () => {
    const g = gradOf('gla');
    const st = g.staged!;
    expect(st.rest.kind === 'time-sum' && st.rest.sampled).toEqual({ saved: true, carried: true });
    const sampleOf = (c: GradCompilation['forward']) => (c.plan.decision.mode === 'scan' ? c.plan.decision.sample : undefined);
    expect(sampleOf(st.saving!)).toEqual({ outputs: ['S_saved'], every: 32, at: 'first' });
    expect(sampleOf(st.core)).toEqual({ outputs: ['d_S_carried'], every: 32, at: 'last' });
    expect(st.core.module.reversed).toBe(true);
    // Without it, every step's.
    const plain = gradOf('gla', { sampleCheckpoints: false }).staged!;
    expect(plain.saving).toBeUndefined();
    expect(plain.rest.kind === 'time-sum' && plain.rest.sampled).toBeFalsy();
  });

  // Runs of RUN_FLOATS / the floats kept a step, at most 32: gla's S is 8 x 8 (16 steps), but with the
  // gate's identity it keeps F only (8 floats); mamba_s6's h is 8 x 4, lru's 2 x 8 x 4.
  it.each([
    ['gla', {}, 32],
    ['gla', { gate: false }, 16],
    ['mamba_s6', {}, 32],
    ['lru', {}, 32],
  ] as const)('%s %j: staged, the rest recomputing over runs of %i steps', (cell, options, run) => {
    const g = gradOf(cell, options);
    expect(usesStages(g)).toBe(true);
    expect(runOf(g)).toBe(run);
    expect(runOf(gradOf(cell, { ...options, recomputeRest: false }))).toBeUndefined();
  });

  // The core writes nothing but its checkpoints: its scan goes from sampled step to sampled step
  // (Ctx.jump), from the parts reduce_steps wrote; the saving cell also writes o every step, so it steps.
  it("gla's core jumps from sampled step to sampled step; its saving cell steps", () => {
    const st = gradOf('gla').staged!;
    const kernelsOf = (c: GradCompilation['forward']) => Object.fromEntries(emit(c).kernels.map((k) => [k.entryPoint, k.wgsl]));
    const core = kernelsOf(st.core);
    expect(core['scan_steps']).toContain('// Sampled states only');
    expect(core['scan_steps']).toMatch(/h = advance\(h, load_parts\(pb \+ k\)\);/);
    expect(core['reduce_steps']).toMatch(/store_parts\(pb \+ k, part\);/);
    const saving = kernelsOf(st.saving!);
    expect(saving['scan_steps']).not.toContain('parts');
    expect(saving['reduce_steps']).not.toContain('parts');
  });

  it("gla's rest takes its gate's gradient by the identity (grad/gate.ts): no state kept per step, F kept a run", () => {
    const g = gradOf('gla');
    const st = g.staged!;
    const gated = st.rest.kind === 'time-sum' ? st.rest.gated : undefined;
    expect(gated?.gateAxes).toEqual([0]);
    expect(gateOf(gradOf('mamba_s6'))).toBeUndefined();
    const recompute = { forward: g.forward.module, core: st.stages.core, saved: new Map(g.step.roles.savedStates.map((r) => [r.state, r.input])), carried: st.stages.carried, run: 32, gated: gated! };
    const [shader] = compileTimeSum([st.stages.rest], g.forward.sizes, 'rest', { recompute }).shaders;
    const code = shader!.code;
    expect(code).toMatch(/^\/\/ gla_grad_rest: .*runs of 32 steps per invocation, .*the gate's gradient by d_log_alpha/);
    expect(code).not.toContain('hs0');
    expect(code).toContain('var fs: array<array<f32, 8>, 32>;');
    // F = q · d_q and G = k · d_k: their sums are d_q's and d_k's (dedupeLets), not computed again.
    expect(code).toMatch(/fs\[s\]\[0u\] = v\d+;/);
    const f0 = code.match(/fs\[s\]\[0u\] = (v\d+);/)![1]!;
    expect(code).toMatch(new RegExp(`let ${f0} = in_\\d+_q0\\.x \\* v\\d+;`));
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

/** A sampled row against the every-step output's: equal, or within 1e-5 of the row's largest value. */
function expectRow(got: Float32Array, want: Float32Array, what: string, exact: boolean): void {
  if (exact) return expect(Array.from(got), what).toEqual(Array.from(want));
  const scale = Math.max(1, ...Array.from(want, Math.abs));
  const worst = Math.max(...Array.from(got, (g, i) => Math.abs(g - want[i]!)));
  expect(worst / scale, what).toBeLessThan(1e-5);
}

interface Case extends GpuGradCase {
  label: string;
  cell: string;
  /** maxStorageBufferBindingSize the runs see: small enough to cut the rest's time into pieces. */
  binding?: number;
  /** How the backward is planned (default: as runGrad's callers plan it). */
  options?: GradPlanOptions;
}

const CASES: Case[] = [
  { label: 'gla, T=1', cell: 'gla', batch: 2, T: 1, lengths: false, initial: false },
  { label: 'gla, T=33 (a run of 32 and one of 1), variable lengths, initial state', cell: 'gla', batch: 3, T: 33, lengths: true, initial: true },
  { label: 'gla, T=300 (blocks of its core scan holding several parts), variable lengths, initial state', cell: 'gla', batch: 2, T: 300, lengths: true, initial: true },
  { label: 'gla with params (a gate projection, a value scale), T=70, variable lengths, initial state, checkpoint 30', cell: 'gla_proj', batch: 3, T: 70, lengths: true, initial: true, checkpoint: 30 },
  { label: 'gla without the gate identity, T=17 (a run of 16 and one of 1), variable lengths, initial state', cell: 'gla', batch: 3, T: 17, lengths: true, initial: true, options: { gate: false } },
  { label: 'gla, T=45, checkpoint 7 (segments that cut runs)', cell: 'gla', batch: 2, T: 45, lengths: true, initial: false, checkpoint: 7 },
  { label: 'gla, T=100, pieces of 32 steps (a 16 KiB binding)', cell: 'gla', batch: 2, T: 100, lengths: true, initial: true, binding: 16384 },
  { label: 'mamba_s6, T=65, variable lengths, initial state', cell: 'mamba_s6', batch: 3, T: 65, lengths: true, initial: true },
  { label: 'lru, T=33, variable lengths, checkpoint 10', cell: 'lru', batch: 2, T: 33, lengths: true, initial: true, checkpoint: 10 },
];

describe.each(CASES)('$label', (c) => {
  it('runGrad = the float64 tape', async () => {
    const m = moduleOf(c.cell);
    const g = gradOf(c.cell, c.options);
    expect(runOf(g)).toBeGreaterThan(1);
    expect(gateOf(g) !== undefined).toBe(c.cell.startsWith('gla') && c.options?.gate !== false);
    const { errors } = await gpuAgainstTape(withBindingLimit(gpu, c.binding), g, m, c, TOLERANCE);
    for (const e of errors) expect(e.maxErr, `${e.name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(TOLERANCE);
  });
});

// The fused rest with the identity where the gate has two axes (per head) or sits on the state's
// second axis: the boundary's sum over the other axes and D's points, against the float64 tape.
describe.each([
  ['heads', 'dims H = 2, K = 4, V = 4\ninput q[H, K], k[H, K], v[H, V], g[H, K]\nstate S[H, K, V] = 0\nlet a[h, i] = exp(-softplus(g[h, i]))\nS[h, i, j] <- a[h, i] * S[h, i, j] + k[h, i] * v[h, j]\noutput o[h, j] = sum(i: q[h, i] * S[h, i, j])', [0, 1]],
  ['the gate on the second axis', 'dims K = 4, V = 8\ninput q[K], k[K], v[V], g[V]\nstate S[K, V] = 0\nlet a[j] = exp(-softplus(g[j]))\nS[i, j] <- a[j] * S[i, j] + k[i] * v[j]\noutput o[j] = sum(i: q[i] * S[i, j])', [1]],
] as const)('the identity with %s', (_label, body, axes) => {
  it('runGrad = the float64 tape (T=70, variable lengths, initial state)', async () => {
    const m = frontEnd(`rnn v {\n${body}\n}\n`).module!;
    const g = retargetGrad(planGrad(plan(m, analyse(m).analysis, { mode: 'auto' }), 'auto'), gpu);
    expect(gateOf(g)?.gateAxes).toEqual(axes);
    const { errors } = await gpuAgainstTape(gpu, g, m, { batch: 2, T: 70, lengths: true, initial: true }, TOLERANCE);
    for (const e of errors) expect(e.maxErr, `${e.name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(TOLERANCE);
  });
});

// A scan writing an output at sampled positions only: its rows are the every-step output's at those
// positions (a forward cell's first step of each run, a reversed cell's last), in one run and in
// segments a small binding limit cuts.
describe('sampled scan outputs', () => {
  const cases: { label: string; at: SampleRequest['at']; binding?: number }[] = [
    { label: "gla's saving cell, the first step of each run", at: 'first' },
    { label: "gla's saving cell in segments of whole runs (a 16 KiB binding)", at: 'first', binding: 16384 },
    { label: "gla's core walking back, the last step of each run", at: 'last' },
    { label: "gla's core walking back in segments (a 4 KiB binding)", at: 'last', binding: 4096 },
  ];
  it.each(cases)('$label', async ({ at, binding }) => {
    const g = gradOf('gla', { sampleCheckpoints: false });
    const [cell, output]: [Module, string] = at === 'first' ? [g.savingModule.module, 'S_saved'] : [{ ...g.staged!.stages.core, reversed: true }, 'd_S_carried'];
    const { analysis } = analyse(cell);
    const every = 16;
    const full = plan(cell, analysis, { mode: 'scan', gather: true, dims: g.forward.sizes, target: g.forward.target });
    const sampled = plan(cell, analysis, { mode: 'scan', gather: true, dims: g.forward.sizes, target: g.forward.target, sample: { outputs: [output], every, at } });
    const [batch, T] = [3, 45];
    const lengths = randomLengths(batch, T, 7);
    const d = randomRunData(cell, { batch, T, sizes: full.sizes, lengths }, 7);
    const f32 = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v)]));
    const data = { batch, T, inputs: f32(d.inputs), params: f32(d.params), lengths };
    const limits = { ...gpu.adapter.limits, ...(binding ? { maxStorageBufferBindingSize: binding } : {}) };
    const run = async (c: typeof full, sample?: SampleRequest) => {
      const compiled = emit(c);
      const prepare = (s: { batch: number; T: number }) => compiled.prepare(s);
      const segments = planSegments(prepare, limits, c.sizes, { batch, T }, T, false, sample);
      if (binding) expect(segments.T).toBeLessThan(T);
      if (sample) expect(segments.T >= T || segments.T % every === 0).toBe(true);
      return runSegmented(gpu, c.module, prepare, data, c.sizes, segments, undefined, sample);
    };
    // The saving cell steps through every step: its rows are the every-step output's exactly. The
    // core goes from sampled step to sampled step (Ctx.jump): each part's aggregate, then one advance,
    // so its rows are the same sums associated otherwise.
    const exact = at === 'first';
    const want = (await run(full)).outputs[output]!;
    const got = (await run(sampled, { outputs: [output], every, at })).outputs[output]!;
    const size = 64;
    const rows = Math.ceil(T / every);
    expect(got.length).toBe(batch * rows * size);
    for (let b = 0; b < batch; b++)
      for (let r = 0; r * every < lengths[b]!; r++) {
        const p = at === 'first' ? r * every : Math.min(r * every + every - 1, lengths[b]! - 1);
        expectRow(got.subarray((b * rows + r) * size, (b * rows + r + 1) * size), want.subarray((b * T + p) * size, (b * T + p + 1) * size), `sequence ${b}, run ${r}`, exact);
      }
    // The other outputs are written every step as before.
    const other = (await run(sampled, { outputs: [output], every, at })).outputs;
    for (const [name, v] of Object.entries((await run(full)).outputs)) if (name !== output) expect(Array.from(other[name]!), name).toEqual(Array.from(v));
  });
});
