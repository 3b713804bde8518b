// The reference interpreter against values worked out by hand (or by a few lines of scalar code
// written out here, independent of the IR), one recurrence family at a time.
import { describe, expect, it } from 'vitest';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { exampleModule, f64, moduleOf, rows } from './helpers.js';

const diagonalScan = moduleOf(`
rnn scan {
  dims D = 2
  input a[D], b[D]
  state h[D] = 0
  h[d] <- a[d] * h[d] + b[d]
  output y[d] = h[d]
}`);

/** The diagonal scan's data: per step (a, b) pairs for each of the two channels, one sequence. */
const scanSteps = {
  // channel 0: a = 0.5 every step, b = 1, 2, 3, 4; channel 1: a = -1, 2, 0.5, 3, b = 1, 0, 2, -1
  a: f64([[0.5, -1], [0.5, 2], [0.5, 0.5], [0.5, 3]]),
  b: f64([[1, 1], [2, 0], [3, 2], [4, -1]]),
};

describe('diagonal linear scan h = a * h + b', () => {
  it('follows the recurrence for 4 steps', () => {
    const r = interpret(diagonalScan, { batch: 1, T: 4, sizes: { D: 2 } }, { inputs: scanSteps, params: {} });
    // channel 0: 1, 0.5*1+2 = 2.5, 1.25+3 = 4.25, 2.125+4 = 6.125
    // channel 1: 1, 2*1+0 = 2, 0.5*2+2 = 3, 3*3-1 = 8
    expect(rows(r.outputs.y!, 2)).toEqual([[1, 1], [2.5, 2], [4.25, 3], [6.125, 8]]);
    expect(Array.from(r.final.h!)).toEqual([6.125, 8]);
  });

  it('starts from an initial state given per sequence', () => {
    // One step with a = 2, b = 0 doubles each sequence's own initial state.
    const shape = { batch: 2, T: 1, sizes: { D: 2 } };
    const data = { inputs: { a: f64([[[2, 2]], [[2, 2]]]), b: f64([[[0, 0]], [[0, 0]]]) }, params: {}, initial: { h: f64([[1, -1], [2, 3]]) } };
    const r = interpret(diagonalScan, shape, data);
    expect(Array.from(r.final.h!)).toEqual([2, -2, 4, 6]);
    expect(Array.from(r.outputs.y!)).toEqual([2, -2, 4, 6]);
  });

  it('starts from a param when the spec says so, broadcast over the batch', () => {
    const m = moduleOf(`
rnn scan0 {
  dims D = 2
  input b[D]
  param h0[D]
  state h[D] = h0
  h[d] <- h[d] + b[d]
  output y[d] = h[d]
}`);
    const r = interpret(m, { batch: 2, T: 1, sizes: { D: 2 } }, { inputs: { b: f64([1, 1, 10, 10]) }, params: { h0: f64([0.5, -3]) } });
    expect(Array.from(r.final.h!)).toEqual([1.5, -2, 10.5, 7]);
  });

  it('stops each sequence at its length: the state stays, later outputs are 0', () => {
    // Two copies of the 4-step sequence, the second only 2 steps long, a third of length 0.
    const shape = { batch: 3, T: 4, sizes: { D: 2 }, lengths: Int32Array.from([4, 2, 0]) };
    const three = (a: Float64Array) => f64([Array.from(a), Array.from(a), Array.from(a)]);
    const r = interpret(diagonalScan, shape, { inputs: { a: three(scanSteps.a), b: three(scanSteps.b) }, params: {}, initial: { h: f64([0, 0, 0, 0, 7, 9]) } });
    expect(rows(r.outputs.y!, 2)).toEqual([
      [1, 1], [2.5, 2], [4.25, 3], [6.125, 8],
      [1, 1], [2.5, 2], [0, 0], [0, 0],
      [0, 0], [0, 0], [0, 0], [0, 0],
    ]);
    expect(Array.from(r.final.h!)).toEqual([6.125, 8, 2.5, 2, 7, 9]);
  });
});

describe('float32 mode', () => {
  it('rounds every node result to float32, and only that', () => {
    // a = 0.1 and b = 0.3 are not float32 numbers: the f32 run starts from their rounded values.
    const a = [0.1, 0.7, 0.1, 0.9, 0.1, 1.3];
    const b = [0.3, -0.2, 0.3, 0.6, 0.3, 0.05];
    const data = { inputs: { a: f64(a), b: f64(b) }, params: {} };
    const shape = { batch: 1, T: 3, sizes: { D: 2 } };
    const r32 = interpret(diagonalScan, shape, data, { precision: 'f32' });
    const r64 = interpret(diagonalScan, shape, data);
    const fr = Math.fround;
    const expect32: number[] = [];
    const expect64: number[] = [];
    for (let d = 0; d < 2; d++) {
      let h32 = 0;
      let h64 = 0;
      for (let t = 0; t < 3; t++) {
        h32 = fr(fr(fr(a[2 * t + d]!) * h32) + fr(b[2 * t + d]!));
        h64 = a[2 * t + d]! * h64 + b[2 * t + d]!;
        expect32[2 * t + d] = h32;
        expect64[2 * t + d] = h64;
      }
    }
    expect(Array.from(r32.outputs.y!)).toEqual(expect32);
    expect(Array.from(r64.outputs.y!)).toEqual(expect64);
    // The two differ, by float32 rounding error only.
    expect(expect32).not.toEqual(expect64);
    for (let i = 0; i < 6; i++) expect(Math.abs(expect32[i]! - expect64[i]!)).toBeLessThan(1e-6);
  });
});

describe('LSTM with H = 1, X = 1', () => {
  const m = exampleModule('lstm');
  const sizes = bindDims(m, { X: 1, H: 1 });
  const w = { Wi: 0.5, Wf: -0.3, Wg: 0.8, Wo: 0.2, Ui: 0.1, Uf: 0.4, Ug: -0.6, Uo: 0.7, bi: 0, bf: 1, bg: -0.2, bo: 0.1 };
  const xs = [1, -0.5, 2];
  const params = Object.fromEntries(Object.entries(w).map(([k, v]) => [k, f64([v])]));
  const r = interpret(m, { batch: 1, T: 3, sizes }, { inputs: { x: f64(xs) }, params });

  it('matches the first step worked out by hand', () => {
    // h = c = 0: c1 = sigmoid(0.5) * tanh(0.8 - 0.2) = 0.622459 * 0.537050 = 0.334292;
    // h1 = sigmoid(0.2 + 0.1) * tanh(c1) = 0.574443 * 0.322412 = 0.185184.
    expect(r.outputs.y![0]).toBeCloseTo(0.185184, 6);
  });

  it('matches a scalar LSTM loop for 3 steps', () => {
    const sigmoid = (z: number) => 1 / (1 + Math.exp(-z));
    let h = 0;
    let c = 0;
    const hs: number[] = [];
    for (const x of xs) {
      const i = sigmoid(w.Wi * x + w.Ui * h + w.bi);
      const f = sigmoid(w.Wf * x + w.Uf * h + w.bf);
      const g = Math.tanh(w.Wg * x + w.Ug * h + w.bg);
      const o = sigmoid(w.Wo * x + w.Uo * h + w.bo);
      c = f * c + i * g;
      h = o * Math.tanh(c);
      hs.push(h);
    }
    hs.forEach((v, t) => expect(r.outputs.y![t]).toBeCloseTo(v, 14));
    expect(r.final.h![0]).toBeCloseTo(0.3512327604002466, 14);
    expect(r.final.c![0]).toBeCloseTo(0.6404872957588228, 14);
  });
});

describe('semiring recurrences', () => {
  it('max-plus (Viterbi) with N = 2', () => {
    const m = exampleModule('maxplus');
    // trans[i, j]: from j to i.
    const trans = f64([[0, -1], [-2, 0.5]]);
    const emit = f64([[1, 0], [0, 2], [-1, -1]]);
    const r = interpret(m, { batch: 1, T: 3, sizes: { N: 2 } }, { inputs: { emit }, params: { trans } });
    // t1: [max(0, -1) + 1, max(-2, 0.5) + 0] = [1, 0.5]
    // t2: [max(1, -0.5) + 0, max(-1, 1) + 2] = [1, 3]
    // t3: [max(1, 2) - 1, max(-1, 3.5) - 1] = [1, 2.5]
    expect(rows(r.outputs.best!, 2)).toEqual([[1, 0.5], [1, 3], [1, 2.5]]);
  });

  it('(max, min) with a dense input-dependent N = 2 transition', () => {
    const m = exampleModule('minmax');
    const A = f64([
      [[0.9, 0.2], [0.4, 0.7]],
      [[0.5, 0.8], [0.25, 0.1]],
      [[0.2, 1], [0.6, 0.6]],
    ]);
    const b = f64([[0.1, 0.3], [0, 0.05], [0.15, 0]]);
    const r = interpret(m, { batch: 1, T: 3, sizes: { N: 2 } }, { inputs: { A, b }, params: {} });
    // t1: h = 0, every min(A, h) is 0: h = b = [0.1, 0.3]
    // t2: [max(0, min(.5, .1), min(.8, .3)), max(.05, min(.25, .1), min(.1, .3))] = [0.3, 0.1]
    // t3: [max(.15, min(.2, .3), min(1, .1)), max(0, min(.6, .3), min(.6, .1))] = [0.2, 0.3]
    expect(rows(r.outputs.y!, 2)).toEqual([[0.1, 0.3], [0.3, 0.1], [0.2, 0.3]]);
  });

  it('a dense contraction reads the whole old state', () => {
    const m = moduleOf(`
rnn dense {
  dims N = 3
  input x[N]
  param W[N, N]
  state h[N] = 0
  h[i] <- sum(j: W[i, j] * h[j]) + x[i]
  output y[i] = h[i]
}`);
    const W = [[1, 2, 0], [0, 1, -1], [3, 0, 1]];
    const xs = [[1, 0, 0], [0, 1, 0], [1, 1, 1]];
    const r = interpret(m, { batch: 1, T: 3, sizes: { N: 3 } }, { inputs: { x: f64(xs) }, params: { W: f64(W) } });
    let h = [0, 0, 0];
    const expected: number[][] = [];
    for (const x of xs) {
      h = W.map((row, i) => row.reduce((s, wij, j) => s + wij * h[j]!, 0) + x[i]!);
      expected.push(h);
    }
    expect(expected).toEqual([[1, 0, 0], [1, 1, 3], [4, -1, 7]]);
    // An update written in place would give h3[2] = 3 * 4 + 3 + 1 = 16.
    expect(rows(r.outputs.y!, 3)).toEqual(expected);
  });
});

describe('monoid cells', () => {
  it('aaren equals softmax attention over the prefix', () => {
    const m = exampleModule('aaren');
    const T = 6;
    const D = 3;
    const s = [0.3, -1.2, 2.5, 0.0, 40, -40];
    const v = Array.from({ length: T }, (_, t) => Array.from({ length: D }, (_, d) => Math.sin(1 + t * D + d)));
    const shape = { batch: 1, T, sizes: { D } };
    const data = { inputs: { s: f64(s), v: f64(v) }, params: {} };
    const r = interpret(m, shape, data);
    const r32 = interpret(m, shape, data, { precision: 'f32' });
    for (let t = 0; t < T; t++) {
      // o_t = sum_{k <= t} softmax(s_0..s_t)_k v_k, straight from the definition.
      const weights = s.slice(0, t + 1).map(Math.exp);
      const total = weights.reduce((a, b) => a + b, 0);
      for (let d = 0; d < D; d++) {
        const o = weights.reduce((acc, wk, k) => acc + (wk / total) * v[k]![d]!, 0);
        expect(r.outputs.o![t * D + d]).toBeCloseTo(o, 12);
        expect(r32.outputs.o![t * D + d]).toBeCloseTo(o, 5);
      }
    }
    // The running max is the largest score so far; u is the softmax denominator relative to it.
    expect(r.final.m![0]).toBe(40);
    expect(r.final.u![0]).toBeCloseTo(s.reduce((a, x) => a + Math.exp(x - 40), 0), 14);
  });
});

describe('builtins', () => {
  const m = moduleOf(`
rnn builtins {
  dims N = 3
  input x[N], y[N]
  state h = 0
  h <- h + 1
  output lse = logsumexp(i: x[i])
  output lseEmpty = logsumexp(i: y[i] - 1000 * (1 - h))
  output lae[i] = logaddexp(x[i], y[i])
  output sp[i] = softplus(x[i])
  output sg[i] = sigmoid(x[i])
  output mx = max(i: x[i])
  output mn = min(i: x[i])
  output total = sum(i: abs(y[i]) + relu(x[i] - 1))
  output pick[i] = select(x[i] > y[i], x[i], sqrt(4))
}`);
  // A step with h = 1 (so lseEmpty sums y), scores far apart, -inf entries and a tie.
  const inputs = { x: f64([1000, -Infinity, 0]), y: f64([-Infinity, -Infinity, 0]) };
  const r = interpret(m, { batch: 1, T: 1, sizes: { N: 3 } }, { inputs, params: {} });
  const o = r.outputs;

  it('log-sum-exp and logaddexp are stable and treat -inf as the identity', () => {
    expect(o.lse![0]).toBe(1000);
    expect(o.lseEmpty![0]).toBe(0);
    expect(Array.from(o.lae!)).toEqual([1000, -Infinity, Math.LN2]);
  });

  it('softplus and sigmoid do not overflow', () => {
    expect(Array.from(o.sp!)).toEqual([1000, 0, Math.LN2]);
    expect(Array.from(o.sg!)).toEqual([1, 0, 0.5]);
  });

  it('max, min, sum, abs, relu, select and comparisons', () => {
    expect(o.mx![0]).toBe(1000);
    expect(o.mn![0]).toBe(-Infinity);
    expect(o.total![0]).toBe(Infinity);
    // x > y: 1000 > -inf picks x; -inf > -inf and 0 > 0 are false and pick sqrt(4).
    expect(Array.from(o.pick!)).toEqual([1000, 2, 2]);
  });

  it('log-sum-exp of nothing but -inf is -inf', () => {
    const allMinusInf = interpret(m, { batch: 1, T: 1, sizes: { N: 3 } }, { inputs: { x: f64([-Infinity, -Infinity, -Infinity]), y: f64([0, 0, 0]) }, params: {} });
    expect(allMinusInf.outputs.lse![0]).toBe(-Infinity);
    expect(allMinusInf.outputs.mx![0]).toBe(-Infinity);
  });
});

describe('input checking', () => {
  it('names a missing or mis-sized tensor', () => {
    const shape = { batch: 1, T: 4, sizes: { D: 2 } };
    expect(() => interpret(diagonalScan, shape, { inputs: { a: scanSteps.a }, params: {} })).toThrow('interpret: no data for input `b`');
    expect(() => interpret(diagonalScan, shape, { inputs: { a: scanSteps.a, b: f64([1, 2]) }, params: {} })).toThrow('interpret: input `b` has 2 elements, expected 8');
  });
});
