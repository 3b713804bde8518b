// The GPU gradients of examples/lstm.rnn and examples/gru.rnn (`runGrad`: the saving, backward and
// accumulation cells on Dawn) against the independent textbook oracle (./textbook.ts, hand-written
// BPTT in float64), norm-wise to 1e-4: max |gpu - oracle| ≤ 1e-4 · max |oracle|, per tensor.
// X = H = 8, T = 50, batch 3, variable lengths, a given initial state.
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { tensorSize } from '../../src/compiler/ir/dims.js';
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import { plan } from '../../src/driver/compile.js';
import { randomLengths, randomRunData, uniformFloats } from '../../src/driver/data.js';
import { planGrad, retargetGrad, runGrad } from '../../src/driver/grad.js';
import { moduleAt } from './helpers.js';
import { textbook, type TextbookCell } from './textbook.js';

const TOLERANCE = 1e-4;

const gpu = fileGpu();

function expectNormwise(what: string, want: ArrayLike<number>, got: ArrayLike<number>): void {
  expect(got.length, what).toBe(want.length);
  let scale = 0;
  let worst = 0;
  for (let i = 0; i < want.length; i++) {
    scale = Math.max(scale, Math.abs(want[i]!));
    worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
  }
  expect(scale, `${what} is not all 0`).toBeGreaterThan(0);
  expect(worst / scale, `${what}: worst |gpu - textbook| ${worst}, max |textbook| ${scale}`).toBeLessThanOrEqual(TOLERANCE);
}

describe.each(['lstm', 'gru'] as TextbookCell[])('%s', (cell) => {
  it('runGrad matches textbook BPTT at X = H = 8, T = 50, batch 3, variable lengths, a given initial state', async () => {
    const m = moduleAt(new URL(`../../examples/${cell}.rnn`, import.meta.url));
    const [batch, T, X, H] = [3, 50, 8, 8];
    const forward = plan(m, analyse(m).analysis, { mode: 'seq', dims: { X, H } });
    const g = retargetGrad(planGrad(forward, 'auto'), gpu);
    const sizes = forward.sizes;
    const lengths = randomLengths(batch, T, 31);
    expect(Array.from(lengths).some((L) => L < T)).toBe(true);
    const data = randomRunData(m, { batch, T, sizes, lengths }, 31, { initial: true });
    const upstream = {
      outputs: Object.fromEntries(tensorsOf(m, 'output').map((o) => [o.name, uniformFloats(31, `grad:${o.name}`, batch * T * tensorSize(o, sizes))])),
      final: Object.fromEntries(tensorsOf(m, 'state').map((s) => [s.name, uniformFloats(31, `grad:${s.name}.final`, batch * tensorSize(s, sizes))])),
    };
    const f32 = (r: Record<string, ArrayLike<number>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v)]));
    const got = await runGrad(gpu, g, { batch, T, inputs: f32(data.inputs), params: f32(data.params), initialState: f32(data.initial!), lengths }, upstream);
    const oracle = textbook({ cell, batch, T, X, H, lengths, x: data.inputs.x!, params: data.params, initial: data.initial!, upstream: { y: upstream.outputs.y!, final: upstream.final } });

    expectNormwise('y', oracle.y, got.forward.outputs.y!);
    expectNormwise('d x', oracle.dx, got.inputs.x!);
    for (const [name, a] of Object.entries(oracle.dparams)) expectNormwise(`d ${name}`, a, got.params[name]!);
    for (const [s, a] of Object.entries(oracle.dinitial)) expectNormwise(`d initial ${s}`, a, got.initial[s]!);
  });
});
