// The plan means what the cell means: folding the derived combine over the per-step elements and
// applying the aggregate to the initial state gives the state the reference interpreter reaches by
// stepping the cell. Random affine cells over each semiring (diagonal and dense), random low-rank
// delta rules, and every example that scans.
import { readdirSync, readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomRunData } from '../../src/driver/data.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { foldPlan } from '../../src/compiler/analyse/fold.js';
import type { Semiring } from '../../src/compiler/analyse/types.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { alongAxis } from '../../src/compiler/ir/grid-axes.js';

/** Steps every sequence with the interpreter and folds the plan per sequence; returns the largest relative difference. */
function foldAgainstInterpreter(m: Module, seed: number, T = 5, batch = 2): number {
  const plan = frontEndPlan(m);
  const sizes = bindDims(m, {});
  const shape = { batch, T, sizes };
  const data = randomRunData(m, shape, seed, { initial: true });
  const reference = interpret(m, shape, data);
  let worst = 0;
  for (let b = 0; b < batch; b++) {
    const slice = (a: ArrayLike<number>, n: number) => Array.from(a).slice(b * n, (b + 1) * n);
    const size = (dims: string[]) => dims.reduce((p, d) => p * sizes[d]!, 1);
    const folded = foldPlan(m, plan, sizes, T, {
      inputs: Object.fromEntries(tensorsOf(m, 'input').map((t) => [t.name, slice(data.inputs[t.name]!, T * size(t.dims))])),
      params: data.params,
      initial: Object.fromEntries(tensorsOf(m, 'state').map((t) => [t.name, slice(data.initial![t.name]!, size(t.dims))])),
    });
    for (const s of tensorsOf(m, 'state')) {
      const want = slice(reference.final[s.name]!, size(s.dims));
      folded[s.name]!.forEach((v, k) => {
        const w = want[k]!;
        if (v === w) return;
        worst = Math.max(worst, Math.abs(v - w) / (1 + Math.abs(w)));
      });
    }
  }
  return worst;
}

const plans = new WeakMap<Module, NonNullable<ReturnType<typeof frontEnd>['analysis']>>();
function compile(text: string): Module {
  const r = frontEnd(text);
  if (!r.module) throw new Error(`does not compile:\n${text}\n${r.diagnostics.map((d) => d.message).join('\n')}`);
  if (!r.analysis?.plan) throw new Error(`no plan:\n${text}\n${JSON.stringify(r.analysis?.states)}`);
  plans.set(r.module, r.analysis);
  return r.module;
}
const frontEndPlan = (m: Module) => plans.get(m)!.plan!;

// ---------------------------------------------------------------- random cells

/** A state-independent coefficient over index i (inputs, params, constants, a few functions). */
const coefficient: fc.Arbitrary<string> = fc.letrec<{ c: string }>((tie) => ({
  c: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom('x[i]', 'a[i]', 'p[i]', '0.5', '2'),
    tie('c').map((e) => `sigmoid(${e})`),
    tie('c').map((e) => `tanh(${e})`),
    fc.tuple(tie('c'), tie('c')).map(([l, r]) => `(${l} * ${r})`),
    fc.tuple(tie('c'), tie('c')).map(([l, r]) => `(${l} + ${r})`),
  ),
})).c;

/** The state read: diagonal `h[i]`, or (dense) a ⊕-reduction over j of W[i, j] ⊗ h[j]. */
const reads: Record<Semiring, string[]> = {
  sum_prod: ['h[i]', 'sum(j: W[i, j] * h[j])'],
  max_plus: ['h[i]', 'max(j: W[i, j] + h[j])'],
  max_min: ['h[i]', 'max(j: min(W[i, j], h[j]))'],
  log: ['h[i]', 'logsumexp(j: W[i, j] + h[j])'],
};

/** An expression affine in h over semiring s, built only from that semiring's operations. */
function affine(s: Semiring, dense: boolean): fc.Arbitrary<string> {
  const leaf = fc.constantFrom(...(dense ? reads[s] : reads[s].slice(0, 1)));
  return fc.letrec<{ e: string }>((tie) => {
    const e = tie('e');
    const rules: Record<Semiring, fc.Arbitrary<string>[]> = {
      sum_prod: [
        fc.tuple(e, e).map(([l, r]) => `(${l} + ${r})`),
        fc.tuple(e, e).map(([l, r]) => `(${l} - ${r})`),
        fc.tuple(coefficient, e).map(([c, x]) => `${c} * ${x}`),
        fc.tuple(e, coefficient).map(([x, c]) => `(${x} + ${c})`),
        fc.tuple(e, e).map(([l, r]) => `select(x[i] > 0, ${l}, ${r})`),
        e.map((x) => `(${x} / 2)`),
      ],
      max_plus: [
        fc.tuple(e, e).map(([l, r]) => `max(${l}, ${r})`),
        fc.tuple(e, coefficient).map(([x, c]) => `(${x} + ${c})`),
        fc.tuple(e, coefficient).map(([x, c]) => `(${x} - ${c})`),
        fc.tuple(e, coefficient).map(([x, c]) => `max(${x}, ${c})`),
      ],
      max_min: [
        fc.tuple(e, e).map(([l, r]) => `max(${l}, ${r})`),
        fc.tuple(e, coefficient).map(([x, c]) => `min(${x}, ${c})`),
        fc.tuple(coefficient, e).map(([c, x]) => `max(${c}, ${x})`),
      ],
      log: [
        fc.tuple(e, e).map(([l, r]) => `logaddexp(${l}, ${r})`),
        fc.tuple(e, coefficient).map(([x, c]) => `(${x} + ${c})`),
        fc.tuple(e, coefficient).map(([x, c]) => `logaddexp(${x}, ${c})`),
      ],
    };
    return { e: fc.oneof({ depthSize: 'small', maxDepth: 4 }, leaf, ...rules[s]) };
  }).e;
}

const cell = (update: string) => `rnn generated {
  dims H = 3
  input x[H], a[H]
  param p[H], W[H, H]
  state h[H] = 0
  h[i] <- ${update}
  output y[i] = h[i] + x[i] + a[i] + p[i] + sum(j: W[i, j])
}
`;

const semirings: Semiring[] = ['sum_prod', 'max_plus', 'max_min', 'log'];

describe('fold of the derived plan = stepping the reference interpreter', () => {
  for (const s of semirings) {
    for (const dense of [false, true]) {
      it(`random ${dense ? 'dense' : 'diagonal'} cells over ${s}`, () => {
        // The generator uses only this semiring's operations; a cell it happens to write with fewer
        // (max alone is (max, +) and (max, min)) may classify as an earlier semiring, but most must land here.
        const seen: string[] = [];
        fc.assert(
          fc.property(affine(s, dense), fc.integer({ min: 1, max: 1000 }), (update, seed) => {
            const m = compile(cell(update));
            seen.push(JSON.stringify(plans.get(m)!.states[0]!.classification));
            expect(foldAgainstInterpreter(m, seed)).toBeLessThan(1e-9);
          }),
          // A fixed seed: the share of cells that land in this semiring is a statistic (unseeded, the
          // check below failed about 1 run in 25 for diagonal max_min).
          { numRuns: 40, seed: 0xf01d + semirings.indexOf(s) * 2 + Number(dense) },
        );
        expect(seen.filter((c) => c.includes(`"semiring":"${s}"`)).length).toBeGreaterThan(seen.length / 3);
        if (dense) expect(seen.some((c) => c.includes('"dense"'))).toBe(true);
      });
    }
  }

  it('random delta rules (diagonal plus rank k, shared or per row)', () => {
    const correction = fc.tuple(fc.constantFrom('k1', 'k2'), fc.constantFrom('beta', 'gamma[i]', '0.5')).map(([k, c]) => ` - ${c} * sum(l: S[i, l] * ${k}[l]) * ${k}[j]`);
    fc.assert(
      fc.property(fc.array(correction, { minLength: 1, maxLength: 3 }), fc.constantFrom('', 'decay[j] * '), fc.integer({ min: 1, max: 1000 }), (corrections, decay, seed) => {
        const m = compile(`rnn delta {
  dims K = 3, V = 2
  input k1[K], k2[K], v[V], beta, gamma[V], decay[K]
  state S[V, K] = 0
  S[i, j] <- ${decay}S[i, j]${corrections.join('')} + v[i] * k1[j] + beta * gamma[i] * decay[j] * k2[j]
}
`);
        expect(foldAgainstInterpreter(m, seed)).toBeLessThan(1e-9);
      }),
      { numRuns: 40 },
    );
  }, 60_000); // each case runs the law checker on a random delta rule: seconds of CPU in all

  const examples = readdirSync('examples').filter((f) => f.endsWith('.rnn')).sort();
  it.each(examples)('%s (when it scans)', (file) => {
    const r = frontEnd(readFileSync(`examples/${file}`, 'utf8'));
    // A grid cell (issue 18): the time plan does not apply; each view along an axis that scans is folded.
    if (r.module?.grid) {
      for (const axis of ['rows', 'columns'] as const) {
        const view = alongAxis(r.module, axis);
        const a = analyse(view).analysis;
        if (!a.plan) expect(a.states.some((s) => !s.scan)).toBe(true);
        else {
          plans.set(view, a);
          expect(foldAgainstInterpreter(view, 7, 6)).toBeLessThan(1e-9);
        }
      }
      return;
    }
    if (!r.analysis?.plan) return expect(r.analysis?.states.some((s) => !s.scan)).toBe(true);
    plans.set(r.module!, r.analysis);
    expect(foldAgainstInterpreter(r.module!, 7, 6)).toBeLessThan(1e-9);
  });
});
