// examples/lstm.rnn and examples/gru.rnn against an independent oracle: textbook backpropagation
// through time written by hand (./textbook.ts, no code shared with src/). Its forward equals the
// reference interpreter's; its gradients equal the compiler's backward cell evaluated on the BPTT
// schedule (interpretBackward); and central differences of its own loss guard the oracle itself.
import { describe, expect, it } from 'vitest';
import { bindDims, tensorSize } from '../../src/compiler/ir/dims.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { randomLengths, randomRunData, streamFor, uniformFloats } from '../../src/driver/data.js';
import { interpret, type RunShape } from '../../src/runtime/reference/interpreter.js';
import { interpretBackward } from '../../src/runtime/reference/grad-step.js';
import { moduleAt } from './helpers.js';
import { textbook, textbookLoss, type TextbookCell, type TextbookProblem } from './textbook.js';

/** A case with variable lengths (one full, one short) and a given initial state, in float64. */
function textbookCase(m: Module, cell: TextbookCell, sizes: { X: number; H: number }, batch: number, T: number, seed: number) {
  const dims = bindDims(m, sizes);
  const lengths = randomLengths(batch, T, seed);
  const shape: RunShape = { batch, T, sizes: dims, lengths };
  const raw = randomRunData(m, shape, seed, { initial: true });
  const f64 = (r: Record<string, ArrayLike<number>>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));
  const data = { inputs: f64(raw.inputs), params: f64(raw.params), initial: f64(raw.initial!) };
  const upstream = {
    outputs: Object.fromEntries(tensorsOf(m, 'output').map((o) => [o.name, Float64Array.from(uniformFloats(seed, `grad:${o.name}`, batch * T * tensorSize(o, dims)))])),
    final: Object.fromEntries(tensorsOf(m, 'state').map((s) => [s.name, Float64Array.from(uniformFloats(seed, `grad:${s.name}.final`, batch * tensorSize(s, dims)))])),
  };
  const problem: TextbookProblem = { cell, batch, T, ...sizes, lengths, x: data.inputs.x!, params: data.params, initial: data.initial, upstream: { y: upstream.outputs.y!, final: upstream.final } };
  return { shape, data, upstream, problem };
}

/** |a - b| ≤ tol · max(1e-300, max |a|), elementwise. */
function expectClose(what: string, want: Float64Array, got: Float64Array, tol: number): void {
  expect(got.length, what).toBe(want.length);
  const scale = Math.max(...Array.from(want, Math.abs));
  expect(scale, `${what} is not all 0`).toBeGreaterThan(0);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(want[i]! - got[i]!));
  expect(worst, `${what}: worst difference, against max |textbook| ${scale}`).toBeLessThanOrEqual(tol * scale);
}

const cells: [TextbookCell, URL][] = [
  ['lstm', new URL('../../examples/lstm.rnn', import.meta.url)],
  ['gru', new URL('../../examples/gru.rnn', import.meta.url)],
];

describe.each(cells)('%s against textbook BPTT', (cell, url) => {
  const m = moduleAt(url);
  // Small, with X ≠ H so a transposed weight shows; lengths T, a short one, and a random one.
  const configs = [
    { sizes: { X: 3, H: 5 }, batch: 3, T: 9, seed: 21 },
    { sizes: { X: 4, H: 2 }, batch: 4, T: 13, seed: 22 },
  ];

  it.each(configs)('X=$sizes.X H=$sizes.H batch=$batch T=$T: forward and gradients', async ({ sizes, batch, T, seed }) => {
    const { shape, data, upstream, problem } = textbookCase(m, cell, sizes, batch, T, seed);
    // The cases do cover variable lengths: at least one sequence stops early.
    expect(Array.from(shape.lengths!).some((L) => L < T)).toBe(true);
    const oracle = textbook(problem);

    const forward = interpret(m, shape, data);
    expectClose('y', forward.outputs.y!, oracle.y, 1e-12);
    for (const [s, a] of Object.entries(oracle.final)) expectClose(`final ${s}`, forward.final[s]!, a, 1e-12);

    const pass = await interpretBackward(m, shape, data, upstream);
    expectClose('d x', oracle.dx, pass.inputs.x!, 1e-10);
    expect(Object.keys(pass.params).sort()).toEqual(Object.keys(oracle.dparams).sort());
    for (const [name, a] of Object.entries(oracle.dparams)) expectClose(`d ${name}`, a, pass.params[name]!, 1e-10);
    for (const [s, a] of Object.entries(oracle.dinitial)) expectClose(`d initial ${s}`, a, pass.initial[s]!, 1e-10);
    // No gradient past a sequence's length.
    for (let b = 0; b < batch; b++) {
      for (let t = shape.lengths![b]!; t < T; t++) for (let j = 0; j < sizes.X; j++) expect(oracle.dx[(b * T + t) * sizes.X + j]).toBe(0);
    }
  });

  it('the oracle agrees with central differences of its own loss', () => {
    const { problem } = textbookCase(m, cell, { X: 3, H: 5 }, 3, 9, 23);
    const oracle = textbook(problem);
    const next = streamFor(5, `textbook:${cell}`);
    type Coord = { what: string; array: Float64Array; index: number; grad: number };
    const coords: Coord[] = [];
    const pick = (what: string, array: Float64Array, grads: Float64Array, n: number) => {
      const nonzero = Array.from(grads.keys()).filter((i) => grads[i] !== 0);
      for (let s = 0; s < n; s++) {
        const index = nonzero[next() % nonzero.length]!;
        coords.push({ what: `${what}[${index}]`, array, index, grad: grads[index]! });
      }
    };
    pick('x', problem.x as Float64Array, oracle.dx, 4);
    for (const [name, g] of Object.entries(oracle.dparams)) pick(name, problem.params[name] as Float64Array, g, 2);
    for (const [s, g] of Object.entries(oracle.dinitial)) pick(`initial ${s}`, problem.initial![s] as Float64Array, g, 2);
    const scale = Math.max(...coords.map((k) => Math.abs(k.grad)));
    for (const k of coords) {
      const x0 = k.array[k.index]!;
      const h = 1e-5 * Math.max(1, Math.abs(x0));
      k.array[k.index] = x0 + h;
      const up = textbookLoss(problem);
      k.array[k.index] = x0 - h;
      const down = textbookLoss(problem);
      k.array[k.index] = x0;
      const fd = (up - down) / (2 * h);
      expect(Math.abs(k.grad - fd), `${k.what}: textbook ${k.grad}, central difference ${fd}`).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(k.grad), scale));
    }
  });
});
