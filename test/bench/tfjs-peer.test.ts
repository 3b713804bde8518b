// The TensorFlow.js cumsum peer on one small length: both sides (TF.js's WebGPU backend in its own
// --no-opt process, rnnc's scan through the Dawn host) must agree with a float64 running sum, and
// the rows must be well formed. No timing assertions: this machine's timings are not the point here.
import { describe, expect, it } from 'vitest';
import { benchCumsumPeer, cumsumError } from '../../bench/tfjs/tfjs-peer.js';

describe('TF.js cumsum peer', () => {
  it('runs both sides on T = 4096 ([T] and [3, T]) and checks them against float64', async () => {
    const tolerance = 1e-5;
    const report = await benchCumsumPeer({ log2T: [12], channels: [1, 3], repeats: 2, warmup: 1, tolerance });
    expect(report.tfjsVersion).toBe('4.22.0');
    expect(report.adapter).not.toBe('');
    expect(report.rows.map((r) => [r.channels, r.T])).toEqual([
      [1, 4096],
      [3, 4096],
    ]);
    for (const r of report.rows) {
      for (const ns of [r.tfjsNs, r.rnncNs, r.rnncKernelNs, r.rnncTransferNs]) expect(ns).toBeGreaterThan(0);
      expect(r.ratio).toBeCloseTo(r.tfjsNs / r.rnncNs, 9);
      expect(r.tfjsDispatches).toBe(12);
      expect(r.rnncDispatches).toBeGreaterThanOrEqual(1);
      expect(r.tfjsMaxErr).toBeLessThan(tolerance);
      expect(r.rnncMaxErr).toBeLessThan(tolerance);
    }
  }, 60_000);

  it('cumsumError flags wrong, NaN and short results', () => {
    const b = Float32Array.from([1, -2, 3, 0.5, 4, -1]); // [2, 3]
    const right = Float32Array.from([1, -1, 2, 0.5, 4.5, 3.5]);
    expect(cumsumError(b, right, 2, 3)).toBe(0);
    expect(cumsumError(b, Float32Array.from([1, -1, 2, 0.5, 4.5, 4.5]), 2, 3)).toBeCloseTo(1 / 5.5, 9);
    expect(cumsumError(b, Float32Array.from([1, -1, NaN, 0.5, 4.5, 3.5]), 2, 3)).toBeNaN();
    expect(cumsumError(b, right.subarray(0, 5), 2, 3)).toBe(Infinity);
  });
});
