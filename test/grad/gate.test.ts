// The gated backward (src/compiler/grad/gate.ts): the gate's gradient by the identity a·d_a = D, a
// reverse cumulative sum of per-step terms, so that no state is kept per step. Run in float64 by the
// reference interpreter on the shared schedule (bptt.ts), host-reversed and with the core and gate
// cells walking back themselves, with and without checkpoints, it gives the one-cell backward's
// gradients to rounding; its three cells are diagonal recurrences the planner scans.
import { describe, expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';
import { differentiate } from '../../src/compiler/grad/reverse.js';
import { gateBackward } from '../../src/compiler/grad/gate.js';
import { withSavedStates } from '../../src/compiler/grad/saved.js';
import { plan } from '../../src/driver/compile.js';
import { backpropagate, type CellRunner, type GradCell } from '../../src/runtime/bptt.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { interpretBackward } from '../../src/runtime/reference/grad-step.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { casesFor, gradCellFiles, moduleAt } from './helpers.js';
import { frontEnd } from '../../src/driver/front-end.js';

function expectClose(what: string, a: Float64Array, b: Float64Array): void {
  expect(b.length, what).toBe(a.length);
  const scale = Math.max(1, ...Array.from(a, Math.abs));
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i]! - b[i]!) <= 1e-11 * scale)) throw new Error(`${what}[${i}]: one cell ${a[i]}, gated ${b[i]} (scale ${scale})`);
}

const gla = moduleAt(new URL('../../examples/gla.rnn', import.meta.url));
// gla with a learned gate projection (its sum reads the gate's gradient) and a learned value scale (its sum reads the adjoint).
const glaProj = moduleAt(new URL('../fixtures/grad/gla_proj.rnn', import.meta.url));

describe('which cells take the gated backward', () => {
  it.each(gradCellFiles)('%s', (label, url) => {
    const m = moduleAt(url);
    const gated = gateBackward(differentiate(m), m);
    // gla's gate alpha[i] is shared along V; mamba_s6's decay is per state element, lru's too.
    expect(gated !== undefined, label).toBe(label === 'examples/gla');
  });
});

describe('gla with params', () => {
  const step = differentiate(glaProj);
  const gated = gateBackward(step, glaProj)!;

  it('puts each param\'s sum in the cell of what its term reads', () => {
    expect(Object.fromEntries(gated.sums)).toEqual({ d_Wg: 'gate', d_u: 'core' });
    expect(Object.fromEntries(gated.from)).toEqual({ d_q: 'walk', d_k: 'core', d_v: 'core', d_x: 'gate' });
    for (const m of [gated.walk, gated.core, gated.gate]) expect(verifyModule(m), m.name).toEqual([]);
  });

  it.each(casesFor(glaProj, bindDims(glaProj)).map((c) => [c.label, c] as const))('%s: gives the one-cell gradients, the params\' included, with and without checkpoints', async (_l, c) => {
    const want = await interpretBackward(glaProj, c.shape, c.data, c.upstream, step);
    for (const checkpoint of [undefined, 4]) {
      const got = await interpretBackward(glaProj, c.shape, c.data, c.upstream, step, { gated: true, ...(checkpoint ? { checkpoint } : {}) });
      for (const kind of ['inputs', 'params', 'initial'] as const) for (const [name, a] of Object.entries(want[kind])) expectClose(`C=${checkpoint} ${kind} ${name}`, a, got[kind][name]!);
    }
  });
});

describe('gla', () => {
  const step = differentiate(gla);
  const gated = gateBackward(step, gla)!;

  it('splits into a walk, a core and a gate cell, each well-formed and scanned, with every input gradient from one of them', () => {
    for (const m of [gated.walk, gated.core, gated.gate]) {
      expect(verifyModule(m), m.name).toEqual([]);
      const { analysis } = analyse(m);
      expect(plan(m, analysis, { mode: 'auto' }).plan.mode, m.name).toBe('scan');
    }
    expect(Object.fromEntries(gated.from)).toEqual({ d_q: 'walk', d_k: 'core', d_v: 'core', d_g: 'gate' });
    expect(gated.gateAxes).toEqual([0]);
    // None of them reads a saved state: the walk recomputes it, the others do not need it.
    for (const m of [gated.walk, gated.core, gated.gate]) expect(m.tensors.some((t) => t.role === 'input' && t.name === 'S'), m.name).toBe(false);
    expect(gated.walk.tensors.filter((t) => t.role === 'output').map((t) => t.name)).toEqual(['d_q', gated.F]);
  });

  it.each(casesFor(gla, bindDims(gla)).map((c) => [c.label, c] as const))('%s: gives the one-cell gradients, host-reversed and walking back, with and without checkpoints', async (_l, c) => {
    const saving = withSavedStates(gla);
    const modules = new Map<GradCell, Module>([
      ['forward', gla],
      ['walk', gated.walk],
      ['core', gated.core],
      ['gate', gated.gate],
    ]);
    const runner: CellRunner<Float64Array> = { zeros: (n) => new Float64Array(n), run: async (cell, sh, d) => interpret(modules.get(cell)!, sh, d) };
    const walking: CellRunner<Float64Array> = {
      ...runner,
      run: async (cell, sh, d) => interpret(cell === 'core' || cell === 'gate' ? { ...modules.get(cell)!, reversed: true } : modules.get(cell)!, sh, d),
      walksBack: (cell) => cell === 'core' || cell === 'gate',
    };
    const want = await interpretBackward(gla, c.shape, c.data, c.upstream, step);
    for (const [how, r] of [['host-reversed', runner], ['walking back', walking]] as const)
      for (const checkpoint of [undefined, 4]) {
        const got = await backpropagate(gla, { backward: step, saving, gated }, r, c.shape, c.data, c.upstream, checkpoint ? { checkpoint } : {});
        for (const kind of ['inputs', 'params', 'initial'] as const) for (const [name, a] of Object.entries(want[kind])) expectClose(`${how} C=${checkpoint} ${kind} ${name}`, a, got[kind][name]!);
        for (const [name, a] of Object.entries(want.forward.outputs)) expectClose(`${how} forward ${name}`, a, got.forward.outputs[name]!);
      }
  });

  it('the reference runs it on request (BackwardOptions.gated), to the same gradients', async () => {
    const [c] = casesFor(gla, bindDims(gla)).slice(2);
    const want = await interpretBackward(gla, c!.shape, c!.data, c!.upstream, step);
    const got = await interpretBackward(gla, c!.shape, c!.data, c!.upstream, step, { gated: true });
    for (const [name, a] of Object.entries(want.inputs)) expectClose(`inputs ${name}`, a, got.inputs[name]!);
    for (const [name, a] of Object.entries(want.initial)) expectClose(`initial ${name}`, a, got.initial[name]!);
  });
});

// Variants of the form, written as a researcher might: the identity where it holds (the gate on the
// second axis, per head, shared along two axes), equal to the one-cell backward in float64; and no
// identity (the staged backward runs) where an input's gradient or the injection needs the state and
// its adjoint together, or the gate's derivative is not a multiple of the gate.
describe('variants', () => {
  const cell = (body: string) => {
    const { module, diagnostics } = frontEnd(`rnn v {\n${body}\n}\n`);
    if (!module) throw new Error(diagnostics.map((d) => d.message).join('; '));
    return module;
  };
  const gateOn = (decay: string) => `let a[j] = exp(${decay})`;
  const taken: [string, string, number[]][] = [
    ['the gate on the second axis', `dims K = 4, V = 5\ninput q[K], k[K], v[V], g[V]\nstate S[K, V] = 0\n${gateOn('-softplus(g[j])')}\nS[i, j] <- a[j] * S[i, j] + k[i] * v[j]\noutput o[j] = sum(i: q[i] * S[i, j])`, [1]],
    ['heads', `dims H = 2, K = 3, V = 4\ninput q[H, K], k[H, K], v[H, V], g[H, K]\nstate S[H, K, V] = 0\nlet a[h, i] = exp(-softplus(g[h, i]))\nS[h, i, j] <- a[h, i] * S[h, i, j] + k[h, i] * v[h, j]\noutput o[h, j] = sum(i: q[h, i] * S[h, i, j])`, [0, 1]],
    ['a gate shared along two axes', `dims K = 3, V = 2, W = 2\ninput q[K], k[K], v[V], w[W], g[K]\nstate S[K, V, W] = 0\nlet a[i] = exp(-softplus(g[i]))\nS[i, j, l] <- a[i] * S[i, j, l] + k[i] * v[j] * w[l]\noutput o[j, l] = sum(i: q[i] * S[i, j, l])`, [0]],
  ];
  it.each(taken)('%s: the identity, equal to the one-cell backward', async (_label, body, axes) => {
    const m = cell(body);
    const step = differentiate(m);
    const gated = gateBackward(step, m);
    expect(gated?.gateAxes).toEqual(axes);
    for (const x of [gated!.walk, gated!.core, gated!.gate]) expect(verifyModule(x), x.name).toEqual([]);
    for (const c of casesFor(m, bindDims(m))) {
      const want = await interpretBackward(m, c.shape, c.data, c.upstream, step);
      const got = await interpretBackward(m, c.shape, c.data, c.upstream, step, { gated: true, checkpoint: 3 });
      for (const kind of ['inputs', 'params', 'initial'] as const) for (const [name, a] of Object.entries(want[kind])) expectClose(`${c.label} ${kind} ${name}`, a, got[kind][name]!);
    }
  });
  const refused: [string, string][] = [
    ['a nonlinear readout (the injection reads the state)', `dims K = 4, V = 4\ninput q[K], k[K], v[V], g[K]\nstate S[K, V] = 0\nlet a[i] = exp(-softplus(g[i]))\nS[i, j] <- a[i] * S[i, j] + k[i] * v[j]\noutput o[j] = tanh(sum(i: q[i] * S[i, j]))`],
    ['a sigmoid gate (its derivative is not a multiple of it)', `dims K = 4, V = 4\ninput q[K], k[K], v[V], g[K]\nstate S[K, V] = 0\nlet a[i] = sigmoid(g[i])\nS[i, j] <- a[i] * S[i, j] + k[i] * v[j]\noutput o[j] = sum(i: q[i] * S[i, j])`],
    ['a per-element decay', `dims K = 4, V = 4\ninput q[K], k[K], v[V], g[K, V]\nstate S[K, V] = 0\nlet a[i, j] = exp(-softplus(g[i, j]))\nS[i, j] <- a[i, j] * S[i, j] + k[i] * v[j]\noutput o[j] = sum(i: q[i] * S[i, j])`],
  ];
  it.each(refused)('%s: no identity', (_label, body) => {
    const m = cell(body);
    expect(gateBackward(differentiate(m), m)).toBeUndefined();
  });
});
