// Newton on cells that run time backward (`rnn name reversed {`), on the reference interpreter: the
// driver solves in logical time, reading each logical step's inputs and writing its outputs at the
// position the time map gives (backends/lower/time.ts): a sequence shorter than T reverses over its own
// length. Checked against the sequential reference of the reversed cell itself, over lengths 1, a
// prime, a power of two plus one, variable lengths and given initial states; and against the forward
// cell on data reversed by hand, so the map is not checked against itself only. A bidirectional cell
// runs as its two parts (split-directions.ts), each solved in its own direction.
import { describe, expect, it } from 'vitest';
import { newtonCell, planNewton, referenceRunner, runNewton } from '../../src/driver/newton.js';
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

});

// A bidirectional GRU (diagonal): a forward GRU and, in the `reversed` block, a backward one with its
// own gates, over the same input x; the parts share the input projection's param.
const bigru = `rnn bigru {
  dims X = 3, H = 4
  input  x[X]
  param  W[H, X], uz[H], un[H], vz[H], vn[H]
  state  hf[H] = 0
  let proj[k] = sum(j: W[k, j] * x[j])
  let zf[k] = sigmoid(proj[k] + uz[k] * hf[k])
  hf[k] <- (1 - zf[k]) * tanh(proj[k] + un[k] * hf[k]) + zf[k] * hf[k]
  output yf[k] = hf[k]
  reversed {
    state  hb[H] = 0
    let pb[k] = sum(j: W[k, j] * x[j])
    let zb[k] = sigmoid(pb[k] + vz[k] * hb[k])
    hb[k] <- (1 - zb[k]) * tanh(pb[k] + vn[k] * hb[k]) + zb[k] * hb[k]
    output yb[k] = hb[k]
  }
}`;

describe('newton on a bidirectional cell: its two parts, each in its own direction', () => {
  it.each([
    ['bigru', bigru],
    ['bimamba', readFileSync(new URL('../../examples/bimamba.rnn', import.meta.url), 'utf8')],
  ])('%s = reference', async (name, text) => {
    const { module: m } = cellFrom(text);
    const cell = newtonCell(m);
    expect(cell.parts?.map((p) => [p.module.name, p.module.reversed === true])).toEqual([
      [`${name}_forward`, false],
      [`${name}_reversed`, true],
    ]);
    expect(planNewton(cell).why).toMatch(/^two parts, one direction of time each: forward newton: .*; reversed newton: /);
    for (const c of runCases(m, cell.sizes, [1, 37], [41])) {
      const got = await runNewton(cell, c.arrays, referenceRunner(cell), { tol: 1e-6, maxIter: 100 });
      const want = interpret(m, { batch: c.arrays.batch, T: c.arrays.T, sizes: cell.sizes, ...(c.lengths ? { lengths: c.lengths } : {}) }, c.data);
      expect(maxRelDiff(got, want), `${name}, ${c.label}`).toBeLessThan(TOL);
      expect(got.residual).toBeLessThanOrEqual(1e-6);
    }
  });

  it('a part newton cannot take is refused, naming the part', () => {
    // A block without a state: newton has no recurrence to solve there.
    const text = bigru.replace(/reversed \{[\s\S]*?\n  \}/, 'reversed {\n    output yb[k] = tanh(sum(j: W[k, j] * x[j]))\n  }');
    const { module: m } = cellFrom(text);
    expect(() => newtonCell(m)).toThrow(/bigru runs under --mode newton as two parts, one direction of time each, and its `reversed \{ \.\.\. \}` block \(bigru_reversed\): bigru_reversed has no state/);
  });
});
