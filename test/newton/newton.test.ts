// The Newton driver (src/driver/newton.ts) on the reference interpreter: it gives what the cell's own
// sequential semantics give, over lengths 1, a prime, a power of two plus one, variable lengths and
// given initial states; and a cell that does not converge within the cap is a user error that names
// where the residual is worst.
import { describe, expect, it } from 'vitest';
import { newtonCell, planNewton, referenceRunner, runNewton } from '../../src/driver/newton.js';
import { RnncError } from '../../src/driver/errors.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { cellFrom, maxRelDiff, nonlinearExamples, runCases } from './helpers.js';

/** The stated tolerance: newton's states (float32, residual ≤ 1e-6) against the float64 step-by-step reference. */
const TOL = 1e-5;

describe('newton on the reference interpreter = the sequential reference', () => {
  for (const name of [...nonlinearExamples, 'mingru']) {
    it(`${name}`, async () => {
      const { module: m } = cellFrom(name);
      const cell = newtonCell(m);
      for (const c of runCases(m, cell.sizes)) {
        const got = await runNewton(cell, c.arrays, referenceRunner(cell), { tol: 1e-6, maxIter: 100 });
        const want = interpret(m, { batch: c.arrays.batch, T: c.arrays.T, sizes: cell.sizes, ...(c.lengths ? { lengths: c.lengths } : {}) }, c.data);
        expect(maxRelDiff(got, want), `${name}, ${c.label}`).toBeLessThan(TOL);
        expect(got.residual).toBeLessThanOrEqual(1e-6);
        // Newton is exact on step t after t iterations, so never more than T; a linear cell takes one.
        expect(got.iterations).toBeLessThanOrEqual(name === 'mingru' ? 1 : c.arrays.T);
        if (c.arrays.T === 1) expect(got.iterations).toBe(1);
      }
    });
  }

  it('starts from the initial state as well as from zeros', async () => {
    const { module: m } = cellFrom('lstm_diag');
    const cell = newtonCell(m);
    const c = runCases(m, cell.sizes).at(-1)!;
    const got = await runNewton(cell, c.arrays, referenceRunner(cell), { tol: 1e-6, guess: 'initial' });
    const want = interpret(m, { batch: c.arrays.batch, T: c.arrays.T, sizes: cell.sizes, lengths: c.lengths! }, c.data);
    expect(maxRelDiff(got, want)).toBeLessThan(TOL);
  });
});

// The logistic map at r = 3.9 is chaotic: the linearised system amplifies the guess's error by about
// 3.9 per step, so the guess overflows within a few iterations (ParaRNN's caveat: Newton needs a cell
// that forgets).
const logistic = `rnn logistic {
  dims H = 2
  input  x[H]
  state  h[H] = 0.3
  h[k] <- 3.9 * h[k] * (1 - h[k]) + 0.001 * x[k]
  output y[k] = h[k]
}`;

describe('newton that does not converge', () => {
  it('is a user error naming the step and sequence where the residual is worst', async () => {
    const { module: m } = cellFrom('gru');
    const cell = newtonCell(m);
    const c = runCases(m, cell.sizes, [60], [])[0]!;
    // Sequence 0 ends after one step (exact after one iteration); sequence 1 runs all 60.
    const arrays = { ...c.arrays, lengths: Int32Array.from([1, 60]) };
    const failure = await runNewton(cell, arrays, referenceRunner(cell), { tol: 1e-6, maxIter: 2 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RnncError);
    const message = (failure as RnncError).message;
    expect(message).toMatch(/^rnnc: newton did not converge for gru: after 2 iterations the residual is \d\.\d\de-\d, above the tolerance 0\.000001 \(--newton-tol\); it is worst at step (\d+) \(from 0\) of sequence 1, state `h` element \d\. Raise --newton-max-iter \(2\) or run it with --mode seq$/);
    // Steps before the second are exact after two iterations.
    expect(Number(/step (\d+)/.exec(message)![1])).toBeGreaterThanOrEqual(2);
    expect((failure as RnncError).kind).toBe('input');
    // With room enough it does converge, to the sequential answer.
    const got = await runNewton(cell, arrays, referenceRunner(cell), { tol: 1e-6, maxIter: 60 });
    const want = interpret(m, { batch: 2, T: 60, sizes: cell.sizes, lengths: arrays.lengths }, c.data);
    expect(maxRelDiff(got, want)).toBeLessThan(TOL);
  });

  it('a chaotic cell diverges: the first non-finite residual stops it, saying so', async () => {
    const { module: m } = cellFrom(logistic);
    const cell = newtonCell(m);
    const c = runCases(m, cell.sizes, [60], [])[0]!;
    const failure = await runNewton(cell, c.arrays, referenceRunner(cell), { maxIter: 50 }).catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(RnncError);
    expect((failure as RnncError).message).toMatch(/after \d+ iterations? the residual is (NaN|Infinity), above the tolerance/);
    expect(Number(/after (\d+)/.exec((failure as RnncError).message)![1])).toBeLessThan(50);
  });

  it('a stacked state too big for the scan is a user error, not an internal one', () => {
    const { module: m } = cellFrom('lstm');
    const failure = (() => {
      try {
        return planNewton(newtonCell(m, { H: 600 }));
      } catch (e) {
        return e;
      }
    })();
    expect(failure).toBeInstanceOf(RnncError);
    expect((failure as RnncError).kind).toBe('input');
    expect((failure as RnncError).message).toMatch(/^rnnc: lstm cannot take --mode newton at these sizes: its linearised system \(J dense, 1200 stacked state elements per sequence\) does not run as a scan: .*1441201 floats.*Run it with --mode seq$/);
  });

  it('a cell newton does not take is a usage error', () => {
    expect(() => newtonCell(cellFrom('aaren').module)).toThrow(/cannot take --mode newton: `aaren` is a monoid cell/);
  });
});
