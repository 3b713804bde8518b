// The ONNX Runtime oracle itself, checked against a float64 evaluation of gru.rnn's equations on a
// tiny case (gate order z, r, h and linear_before_reset = 1), with a sequence that ends early.
import { describe, expect, it } from 'vitest';
import { ortCell } from './oracle.js';

describe('ONNX Runtime GRU oracle', () => {
  it('matches gru.rnn evaluated by hand, including lengths and the initial state', async () => {
    const [H, X, batch, T] = [2, 1, 2, 2];
    const v = (...xs: number[]) => Float32Array.from(xs);
    // Distinct weights per gate, so a swapped gate order changes the answer.
    const params = { Wz: v(0.5, -0.25), Wr: v(-0.75, 0.5), Wn: v(1, 0.25), Uz: v(0.1, 0.2, -0.3, 0.4), Ur: v(0.5, -0.1, 0.2, 0.3), Un: v(-0.4, 0.6, 0.1, -0.2), bz: v(0.1, -0.1), br: v(0.2, 0), bn: v(-0.3, 0.1), bhn: v(0.25, -0.5) };
    const x = v(1, 2, -1, 0.5);
    const h0 = v(0.5, -0.5, 0, 0.25);
    const out = await ortCell('GRU', { batch, T, X, H, x, params, initialState: { h: h0 }, lengths: Int32Array.from([2, 1]) });

    const sig = (a: number) => 1 / (1 + Math.exp(-a));
    const expected = { y: [] as number[], h: [] as number[] };
    for (let b = 0; b < batch; b++) {
      let h = [h0[b * H]!, h0[b * H + 1]!];
      for (let t = 0; t < T; t++) {
        if (t >= [2, 1][b]!) {
          expected.y.push(0, 0);
          continue;
        }
        const xt = x[b * T + t]!;
        const mv = (U: Float32Array, k: number) => U[k * H]! * h[0]! + U[k * H + 1]! * h[1]!;
        h = [0, 1].map((k) => {
          const z = sig(params.Wz[k]! * xt + mv(params.Uz, k) + params.bz[k]!);
          const r = sig(params.Wr[k]! * xt + mv(params.Ur, k) + params.br[k]!);
          const n = Math.tanh(params.Wn[k]! * xt + params.bn[k]! + r * (mv(params.Un, k) + params.bhn[k]!));
          return (1 - z) * n + z * h[k]!;
        });
        expected.y.push(...h);
      }
      expected.h.push(...h);
    }
    for (let i = 0; i < expected.y.length; i++) expect(out.y[i]).toBeCloseTo(expected.y[i]!, 6);
    for (let i = 0; i < expected.h.length; i++) expect(out.state['h']![i]).toBeCloseTo(expected.h[i]!, 6);
  });
});
