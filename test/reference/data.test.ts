// Seeded run data: pinned bytes, one stream per tensor, lengths with a full and a short sequence.
import { describe, expect, it } from 'vitest';
import { paramFanIn, randomLengths, randomRunData, splitmix32, uniformFloats } from '../../src/driver/data.js';
import { moduleOf } from './helpers.js';

const spec = (extra: string) =>
  moduleOf(`
rnn data {
  dims D = 3
  input x[D]${extra}
  param W[D, D]
  state h[D] = 0
  h[i] <- sum(j: W[i, j] * h[j]) + x[i]
}`);

describe('splitmix32', () => {
  it('gives the same integers on every machine (pinned)', () => {
    // Cross-checked with a separate Python implementation of the same recurrence (integers mod 2^32).
    const next = splitmix32(0);
    expect([next(), next(), next()]).toEqual([1684164658, 3653269916, 2939563536]);
  });
});

describe('randomRunData', () => {
  const shape = { batch: 2, T: 5, sizes: { D: 3 } };

  it('draws float32 values in [-1, 1), pinned for a seed; a param a sum contracts in [-1, 1) / sqrt(fan-in)', () => {
    const data = randomRunData(spec(''), shape, 42);
    expect(data.inputs.x).toBeInstanceOf(Float32Array);
    expect(data.inputs.x!.length).toBe(2 * 5 * 3);
    expect(data.params.W!.length).toBe(9);
    // W is summed over j (D = 3): the same stream, scaled by 1/sqrt(3).
    expect(Array.from(data.params.W!.subarray(0, 3))).toEqual(Array.from(uniformFloats(42, 'param:W', 3, -1 / Math.sqrt(3), 1 / Math.sqrt(3))));
    // Also cross-checked in Python: splitmix32(splitmix32(42 ^ fnv1a('param:W'))()), top 24 bits scaled to [-1, 1).
    expect(Array.from(uniformFloats(42, 'param:W', 3))).toEqual([0.7917639017105103, -0.4288949966430664, -0.6292933225631714]);
    expect(data.inputs.x!.every((v) => v >= -1 && v < 1)).toBe(true);
    expect(data.params.W!.every((v) => Math.abs(v) <= 1 / Math.sqrt(3))).toBe(true);
    expect(data.initial).toBeUndefined();
  });

  it('takes the fan-in from the sums that contract a param: nested sums multiply, other params are absent', () => {
    const m = moduleOf(`
rnn fan {
  dims D = 3, K = 4, N = 5
  input x[K, N]
  param W[D, K, N], U[D, D], b[D], a[D]
  state h[D] = 0
  h[i] <- sum(k: sum(n: W[i, k, n] * x[k, n])) + sum(j: U[i, j] * h[j]) + a[i] * h[i] + b[i]
}`);
    expect(paramFanIn(m, { D: 3, K: 4, N: 5 })).toEqual(new Map([['W', 20], ['U', 3]]));
    // b and a are in no sum: drawn in [-1, 1) as before.
    const data = randomRunData(m, { batch: 1, T: 2, sizes: { D: 3, K: 4, N: 5 } }, 7);
    expect(Array.from(data.params.b!)).toEqual(Array.from(uniformFloats(7, 'param:b', 3)));
    expect(Array.from(data.params.W!)).toEqual(Array.from(uniformFloats(7, 'param:W', 60, -1 / Math.sqrt(20), 1 / Math.sqrt(20))));
  });

  it('is the same for the same seed and different for another', () => {
    const a = randomRunData(spec(''), shape, 1);
    const b = randomRunData(spec(''), shape, 1);
    const c = randomRunData(spec(''), shape, 2);
    expect(a).toEqual(b);
    expect(a.inputs.x).not.toEqual(c.inputs.x);
  });

  it('gives each tensor its own stream: adding a tensor leaves the others unchanged', () => {
    const a = randomRunData(spec(''), shape, 9);
    const b = randomRunData(spec(', z[D]'), shape, 9);
    expect(b.inputs.x).toEqual(a.inputs.x);
    expect(b.params.W).toEqual(a.params.W);
    expect(b.inputs.z).not.toEqual(b.inputs.x);
  });

  it('draws initial states and honours a range on request', () => {
    const data = randomRunData(spec(''), shape, 3, { initial: true, range: [0, 0.5] });
    expect(data.initial!.h!.length).toBe(2 * 3);
    expect(data.inputs.x!.every((v) => v >= 0 && v < 0.5)).toBe(true);
  });
});

describe('randomLengths', () => {
  it('has a full sequence, a short one, and all lengths in [1, T]', () => {
    const lengths = randomLengths(6, 40, 4);
    expect(lengths).toBeInstanceOf(Int32Array);
    expect(lengths[0]).toBe(40);
    expect(lengths[1]).toBeLessThanOrEqual(10);
    expect(lengths.every((n) => n >= 1 && n <= 40)).toBe(true);
    expect(randomLengths(6, 40, 4)).toEqual(lengths);
  });
});
