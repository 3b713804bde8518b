// Both reverse modes on a cell written to use every builtin and reduction, a state initialised from
// a param, three states read before and after their updates, and on a cell of awkward index use;
// the backward step through
// `explain --after grad` (the pipeline's on-request pass); what the pass refuses.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';
import { differentiate } from '../../src/compiler/grad/reverse.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';
import { passes, runPipeline } from '../../src/driver/pipeline.js';
import { interpretGrad } from '../../src/runtime/reference/grad.js';
import { interpretBackward } from '../../src/runtime/reference/grad-step.js';
import { moduleOf } from '../reference/helpers.js';
import { casesFor, checkFiniteDifferences } from './helpers.js';

const allOps = `rnn allops {
  dims N = 3
  input  x[N], u
  param  W[N, N], b[N], g0[N]
  state  h[N] = 0, g[N] = g0, s = 0
  let a[i] = sum(j: W[i, j] * h[j]) + b[i] * x[i]
  let m1 = max(j: a[j] * x[j])
  let m2 = min(j: a[j] - x[j])
  let l = logsumexp(j: a[j] + g[j])
  h[i] <- tanh(a[i]) + sigmoid(x[i]) * softplus(h[i]) - relu(a[i] - u) + abs(x[i] - h[i]) / (2 + exp(-x[i] * x[i])) + max(a[i], h[i]) - min(x[i], g[i]) + logaddexp(a[i], u)
  g[i] <- select(x[i] > u, g[i] * 0.9, sqrt(1 + a[i] * a[i])) + log(2 + g[i] * g[i]) * 0.1
  s <- 0.5 * s + m1 - m2 + l
  output y[i] = h[i] * s + g[i] + sum(j: W[j, i] * a[j])
}`;

// One index name over two dims in sibling reductions, nested reductions, a reduction inside a
// pointwise expression, an output read by a later statement, a broadcast (y over i and k).
const indices = `rnn indices {
  dims N = 3, M = 2
  input  x[N], z[M]
  param  A[N, N], B[N, M]
  state  h[N] = 0
  let p[i] = tanh(sum(j: A[i, j] * h[j]) + sum(j: B[i, j] * z[j]))
  output q[i] = p[i] * sum(j: A[j, i] * sum(l: B[j, l] * z[l]))
  h[i] <- q[i] + 0.5 * h[i]
  output y[i, k] = h[i] * x[k] + q[k]
}`;

describe.each([['allops', allOps], ['indices', indices]])('%s', (_name, text) => {
  const m = moduleOf(text);
  const backward = differentiate(m);
  it('the backward step is well-formed IR', () => expect(verifyModule(backward.module)).toEqual([]));

  it.each(casesFor(m, bindDims(m)).map((c) => [c.label, c] as const))('%s: tape = central differences; pass = tape', async (_l, c) => {
    const reference = interpretGrad(m, c.shape, c.data, c.upstream);
    checkFiniteDifferences(m, c, reference, `${_name} ${c.label}`);
    const pass = await interpretBackward(m, c.shape, c.data, c.upstream, backward);
    for (const kind of ['inputs', 'params', 'initial'] as const) {
      for (const [name, a] of Object.entries(reference[kind])) {
        const b = pass[kind][name]!;
        const scale = Math.max(1, ...Array.from(a, Math.abs));
        a.forEach((v, i) => expect(Math.abs(v - b[i]!), `${kind} ${name}[${i}]`).toBeLessThanOrEqual(1e-12 * scale));
      }
    }
  });
});

// allops only: its state g starts at the param g0.
it('allops: a param that initialises a state gets the initial state gradient when no initial state is given', () => {
  const m = moduleOf(allOps);
  const [c] = casesFor(m, bindDims(m));
  expect(c!.initial).toBe(false);
  const g = interpretGrad(m, c!.shape, c!.data, c!.upstream);
  const withoutInit = interpretGrad(m, c!.shape, { ...c!.data, initial: { g: new Float64Array(c!.shape.batch * 3).map((_, i) => c!.data.params['g0']![i % 3]!) } }, c!.upstream);
  const summed = [0, 1, 2].map((i) => g.initial['g']![i]! + g.initial['g']![3 + i]!);
  summed.forEach((v, i) => expect(g.params['g0']![i]!).toBeCloseTo(withoutInit.params['g0']![i]! + v, 12));
});

describe('explain --after grad', () => {
  const source = new SourceFile('gru.rnn', moduleText('gru'));
  it('runs the grad pass when asked for, and prints the backward cell', () => {
    const { state, reached } = runPipeline(source, 'grad');
    expect(reached).toBe('grad');
    const text = passes.find((p) => p.name === 'grad')!.print(state);
    expect(text).toContain('rnn gru_grad');
    expect(text).toContain('state d_h[H] = 0');
    // The transpose of sum(m: Uz[k, m] * h[m]): d_h[m] sums over k.
    expect(text).toMatch(/update d_h\[m: H\]/);
    // As it runs: the accumulators split out, one cell per param reading what the recurrence writes.
    expect(text).toContain("; as it runs: the params' accumulators leave the recurrence, which then writes per step");
    expect(text).toContain('rnn gru_grad_Uz');
    expect(text).toMatch(/update d_Uz\[[a-z0-9]+: H, [a-z0-9]+: H\]/);
  });
  it("prints gla's gate identity: the walk, the core and the gate cell", () => {
    const { state } = runPipeline(new SourceFile('gla.rnn', moduleText('gla')), 'grad');
    const text = passes.find((p) => p.name === 'grad')!.print(state);
    expect(text).toContain("; the gate's gradient by an identity (docs/grad.md, \"Session 32\"): d_log_alpha[K] = the gate times its gradient");
    expect(text).toContain('; no S is kept per step. The inputs\' gradients: d_q (walk), d_k (core), d_v (core), d_g (gate).');
    for (const cell of ['rnn gla_grad_walk', 'rnn gla_grad_core', 'rnn gla_grad_gate']) expect(text).toContain(cell);
    // gru has no such gate.
    expect(passes.find((p) => p.name === 'grad')!.print(runPipeline(source, 'grad').state)).not.toContain('identity');
  });
  it('does not run it otherwise', () => {
    const { state, reached } = runPipeline(source, 'plan');
    expect(reached).toBe('plan');
    expect(state.backward).toBeUndefined();
  });
});

function moduleText(name: string): string {
  return readFileSync(new URL(`../../examples/${name}.rnn`, import.meta.url), 'utf8');
}
