// Newton on cells that run time backward (`rnn name reversed {`), on the reference interpreter: the
// driver solves in logical time, reading each logical step's inputs and writing its outputs at the
// position the time map gives (backends/lower/time.ts): a sequence shorter than T reverses over its own
// length. Checked against the sequential reference of the reversed cell itself, over lengths 1, a
// prime, a power of two plus one, variable lengths and given initial states; and against the forward
// cell on data reversed by hand, so the map is not checked against itself only. A bidirectional cell
// is refused with the reason.
import { describe, expect, it } from 'vitest';
import { newtonCell, referenceRunner, runNewton } from '../../src/driver/newton.js';
import { RnncError } from '../../src/driver/errors.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { readFileSync } from 'node:fs';
import { reversedText, reverseSteps } from '../axes/helpers.js';
import { cellFrom, maxRelDiff, runCases } from './helpers.js';

const TOL = 1e-5;
const reversedCell = (name: string) => cellFrom(reversedText(readFileSync(new URL(`../../examples/${name}.rnn`, import.meta.url), 'utf8')));

describe('newton on a reversed cell = the reversed cell\'s reference', () => {
  for (const name of ['gru_diag', 'lstm_diag']) {
    it(`${name} reversed`, async () => {
      const { module: m } = reversedCell(name);
      expect(m.reversed).toBe(true);
      const cell = newtonCell(m);
      expect(cell.linearisation.structure).toBe('diagonal');
      for (const c of runCases(m, cell.sizes, [1, 37, 65], [41])) {
        const got = await runNewton(cell, c.arrays, referenceRunner(cell), { tol: 1e-6, maxIter: 100 });
        const want = interpret(m, { batch: c.arrays.batch, T: c.arrays.T, sizes: cell.sizes, ...(c.lengths ? { lengths: c.lengths } : {}) }, c.data);
        expect(maxRelDiff(got, want), `${name}, ${c.label}`).toBeLessThan(TOL);
        expect(got.residual).toBeLessThanOrEqual(1e-6);
      }
    });
  }

  it('gru_diag reversed = the forward cell on each sequence reversed by hand over its own length', async () => {
    const { module: m } = reversedCell('gru_diag');
    const { module: forward } = cellFrom('gru_diag');
    const cell = newtonCell(m);
    const c = runCases(m, cell.sizes, [], [41])[0]!;
    const { batch, T } = c.arrays;
    const flip = (a: Float32Array) => reverseSteps(a, batch, T, c.lengths);
    const got = await runNewton(cell, c.arrays, referenceRunner(cell), { tol: 1e-6, maxIter: 100 });
    const fwd = interpret(forward, { batch, T, sizes: cell.sizes, lengths: c.lengths! }, { ...c.data, inputs: Object.fromEntries(Object.entries(c.arrays.inputs).map(([k, a]) => [k, flip(a)])) });
    const outputs = Object.fromEntries(Object.entries(got.outputs).map(([k, a]) => [k, flip(a)]));
    expect(maxRelDiff({ outputs, finalState: got.finalState }, fwd)).toBeLessThan(TOL);
  });

  it('a bidirectional cell is refused, saying why', () => {
    const { module: m } = cellFrom(readFileSync(new URL('../../examples/bimamba.rnn', import.meta.url), 'utf8'));
    expect(() => newtonCell(m)).toThrow(RnncError);
    expect(() => newtonCell(m)).toThrow(/has a `reversed \{ \.\.\. \}` block, and newton solves one direction of time at once/);
  });
});
