// --mode newton on Dawn: the linearisation's kernel and the system's scan, iterated by the driver,
// give what the sequential kernel and the float64 reference give. One cell per form of the linear
// system: gru_diag (one state, diagonal J: scan lanes of (a, b)), lstm_diag (two states, 2×2 blocks:
// the monoid of per-element affine maps), gru (dense J: a matrix element) and lstm (dense J over two
// stacked states). Small sizes (gru at H = 4, lstm at H = 2), so that the kernels' cold compile stays short.
// The adapted cells' iterations stay a handful as T grows.
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { deviceRunner, newtonCell, planNewton, runNewton } from '../../src/driver/newton.js';
import { plan } from '../../src/driver/compile.js';
import { targetOf } from '../../src/driver/run.js';
import { fitRun, runSegmented } from '../../src/driver/segments.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { cellFrom, maxRelDiff, runCases } from './helpers.js';

const gpu = fileGpu();

/** newton (float32, residual ≤ 1e-6) against the float64 reference, and against the float32 sequential kernel. */
const TOL = 1e-5;

describe('newton on Dawn = seq = reference', () => {
  const cells: [string, Record<string, number>][] = [
    ['gru_diag', {}],
    ['lstm_diag', {}],
    ['gru', { H: 4 }],
    ['lstm', { H: 2 }],
  ];
  for (const [name, dims] of cells) {
    it(name, async () => {
      const { module: m, analysis } = cellFrom(name);
      const cell = newtonCell(m, dims);
      const p = planNewton(cell, targetOf(gpu.adapter));
      expect(p.system.plan.mode).toBe('scan');
      const seq = plan(m, analysis, { mode: 'seq', dims, target: targetOf(gpu.adapter) });
      // T = 1 and a power of two plus one (65), from the spec's initial state; a prime (41) and 128
      // steps (pieces of 64), with variable lengths and given initial states.
      for (const c of runCases(m, cell.sizes, [1, 65], [41, 128])) {
        const got = await runNewton(cell, c.arrays, deviceRunner(gpu, p), { tol: 1e-6, maxIter: 50 });
        const want = interpret(m, { batch: c.arrays.batch, T: c.arrays.T, sizes: cell.sizes, ...(c.lengths ? { lengths: c.lengths } : {}) }, c.data);
        expect(maxRelDiff(got, want), `${name}, ${c.label}: newton vs reference`).toBeLessThan(TOL);
        const { prepare, segments } = fitRun(seq, gpu.adapter.limits, c.arrays);
        const bySeq = await runSegmented(gpu, m, prepare, c.arrays, seq.sizes, segments);
        expect(maxRelDiff(got, bySeq), `${name}, ${c.label}: newton vs seq`).toBeLessThan(TOL);
        expect(got.iterations).toBeLessThanOrEqual(c.arrays.T === 1 ? 1 : 12);
      }
    });
  }
});

describe('the adapted cells converge in a handful of iterations, whatever T', () => {
  for (const name of ['gru_diag', 'lstm_diag']) {
    it(name, async () => {
      const { module: m, analysis } = cellFrom(name);
      const cell = newtonCell(m, { H: 8 });
      const p = planNewton(cell, targetOf(gpu.adapter));
      const seq = plan(m, analysis, { mode: 'seq', dims: cell.sizes, target: targetOf(gpu.adapter) });
      // Variable lengths and given initial states, at 2^8 and 2^10 steps (ParaRNN reports a handful; docs/newton.md 4-6 up to 2^16).
      for (const c of runCases(m, cell.sizes, [], [2 ** 8, 2 ** 10])) {
        const got = await runNewton(cell, c.arrays, deviceRunner(gpu, p));
        expect(got.iterations, `${name}, ${c.label}`).toBeLessThanOrEqual(8);
        const { prepare, segments } = fitRun(seq, gpu.adapter.limits, c.arrays);
        const bySeq = await runSegmented(gpu, m, prepare, c.arrays, seq.sizes, segments);
        expect(maxRelDiff(got, bySeq), `${name}, ${c.label}: newton vs seq`).toBeLessThan(TOL);
      }
    });
  }
});
