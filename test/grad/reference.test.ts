// The reference reverse mode (src/runtime/reference/grad.ts) against central finite differences of
// the float64 forward, on every example: sampled coordinates of inputs, params and initial states.
//
// Step and tolerance: h = 1e-5 · max(1, |x|) gives a truncation error of order h² and a rounding error
// of order 1e-16 · |loss| / h, both far below 1e-6 of a gradient of ordinary size; a gradient is
// compared relative to the larger of itself and the largest sampled gradient of the case (so a
// gradient that is nearly 0 is compared in absolute terms). Kinks (relu, abs, max/min, select) are
// measure-zero for random data; the one tie that is not (minmax and maxplus from the spec's initial
// state 0, where several terms of a max can equal 0) is at the initial state, whose gradient is only
// checked when the initial states are given (random, so untied). A tie of copies of one value (minmax
// copies inputs into the state) moves as one under a perturbation, where sharing the gradient evenly
// among tied terms is the exact derivative.
import { describe, expect, it } from 'vitest';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { interpretGrad } from '../../src/runtime/reference/grad.js';
import { casesFor, checkFiniteDifferences, moduleAt, timeCellFiles } from './helpers.js';

describe.each(timeCellFiles)('%s', (_label, url) => {
  const m = moduleAt(url);
  const cases = casesFor(m, bindDims(m));

  it.each(cases.map((c) => [c.label, c] as const))('%s: the tape forward is the interpreter; its gradient is the central difference', (_l, c) => {
    const g = interpretGrad(m, c.shape, c.data, c.upstream);
    const forward = interpret(m, c.shape, c.data);
    for (const [name, a] of Object.entries(forward.outputs)) expect(g.forward.outputs[name]).toEqual(a);
    for (const [name, a] of Object.entries(forward.final)) expect(g.forward.final[name]).toEqual(a);

    checkFiniteDifferences(m, c, g, `${url.pathname} ${c.label}`);
  });
});
