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
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import { streamFor } from '../../src/driver/data.js';
import { interpret, type RunData } from '../../src/runtime/reference/interpreter.js';
import { interpretGrad } from '../../src/runtime/reference/grad.js';
import { casesFor, cellFiles, loss, moduleAt } from './helpers.js';

const SAMPLES = 3;

describe.each(cellFiles)('%s', (_label, url) => {
  const m = moduleAt(url);
  const cases = casesFor(m, bindDims(m));

  it.each(cases.map((c) => [c.label, c] as const))('%s: the tape forward is the interpreter; its gradient is the central difference', (_l, c) => {
    const g = interpretGrad(m, c.shape, c.data, c.upstream);
    const forward = interpret(m, c.shape, c.data);
    for (const [name, a] of Object.entries(forward.outputs)) expect(g.forward.outputs[name]).toEqual(a);
    for (const [name, a] of Object.entries(forward.final)) expect(g.forward.final[name]).toEqual(a);

    // Sampled coordinates: inputs within a sequence's valid steps, params, given initial states.
    const next = streamFor(7, `${url.pathname} ${c.label}`);
    type Coord = { kind: 'inputs' | 'params' | 'initial'; name: string; index: number; grad: number };
    const coords: Coord[] = [];
    // Half of the samples where the gradient is not 0 (past a length, or through a select's condition, it is).
    const sample = (kind: Coord['kind'], name: string, n: number, grads: Float64Array) => {
      const nonzero = Array.from(grads.keys()).filter((i) => grads[i] !== 0);
      for (let s = 0; s < Math.min(SAMPLES, n); s++) {
        const index = s % 2 === 0 && nonzero.length ? nonzero[next() % nonzero.length]! : next() % n;
        coords.push({ kind, name, index, grad: grads[index]! });
      }
    };
    for (const x of tensorsOf(m, 'input')) sample('inputs', x.name, g.inputs[x.name]!.length, g.inputs[x.name]!);
    for (const p of tensorsOf(m, 'param')) sample('params', p.name, g.params[p.name]!.length, g.params[p.name]!);
    if (c.initial) for (const s of tensorsOf(m, 'state')) sample('initial', s.name, g.initial[s.name]!.length, g.initial[s.name]!);
    // (From the spec's initial state, modcount's only input is a select's condition: no gradient at all.)
    if (c.initial) expect(coords.some((k) => k.grad !== 0), 'some sampled gradient is not 0').toBe(true);
    const scale = Math.max(1e-3, ...coords.map((k) => Math.abs(k.grad)));

    for (const k of coords) {
      const at = (delta: number) => {
        const copy: RunData = { inputs: { ...c.data.inputs }, params: { ...c.data.params }, ...(c.data.initial ? { initial: { ...c.data.initial } } : {}) };
        const table = copy[k.kind]!;
        const a = Float64Array.from(table[k.name]!);
        a[k.index]! += delta;
        table[k.name] = a;
        return loss(m, c.shape, copy, c.upstream);
      };
      const x = c.data[k.kind]![k.name]![k.index]!;
      const h = 1e-5 * Math.max(1, Math.abs(x));
      const fd = (at(h) - at(-h)) / (2 * h);
      expect(Math.abs(k.grad - fd), `${k.kind} ${k.name}[${k.index}]: reverse ${k.grad}, central difference ${fd}`).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(k.grad), scale));
    }
  });
});
