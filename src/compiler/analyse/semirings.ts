// The four semirings the analysis recognises, as tables of IR operations: which binary function and
// which reduction are ⊕, which binary function is ⊗, and the constants 0 (⊕'s identity, ⊗'s
// annihilator) and 1 (⊗'s identity). Plans are built from these tables only, so every algebra gets
// the same scan element, combine and apply, just with other operations.
import type { BinaryFn, Reducer } from '../builtins.js';
import type { ArithFn } from '../ir/ir.js';
import type { Semiring } from './types.js';
import { binary, constant, reduce, type Term } from './terms.js';
import type { IndexVar } from '../ir/ir.js';

export interface SemiringOps {
  name: Semiring;
  /** How reports write it, e.g. `(+, ×)`. */
  text: string;
  plus: ArithFn | BinaryFn;
  plusReduce: Reducer;
  times: ArithFn | BinaryFn;
  zero: number;
  one: number;
}

export const semiringOps: Record<Semiring, SemiringOps> = {
  sum_prod: { name: 'sum_prod', text: '(+, ×)', plus: 'add', plusReduce: 'sum', times: 'mul', zero: 0, one: 1 },
  max_plus: { name: 'max_plus', text: '(max, +)', plus: 'max', plusReduce: 'max', times: 'add', zero: -Infinity, one: 0 },
  max_min: { name: 'max_min', text: '(max, min)', plus: 'max', plusReduce: 'max', times: 'min', zero: -Infinity, one: Infinity },
  log: { name: 'log', text: '(logaddexp, +)', plus: 'logaddexp', plusReduce: 'logsumexp', times: 'add', zero: -Infinity, one: 0 },
};

/** The order in which the analysis tries the semirings: the first one that explains an update wins. */
export const semiringOrder: Semiring[] = ['sum_prod', 'max_plus', 'max_min', 'log'];

/** Term builders for one semiring: ⊕, ⊗, ⊕-reduction, 0 and 1, dropping the identities they can. */
export function algebra(s: SemiringOps) {
  const isConst = (t: Term, v: number) => t.op === 'const' && t.value === v;
  return {
    zero: (): Term => constant(s.zero),
    one: (): Term => constant(s.one),
    plus: (a: Term, b: Term): Term => (isConst(a, s.zero) ? b : isConst(b, s.zero) ? a : binary(s.plus, a, b)),
    times: (a: Term, b: Term): Term => (isConst(a, s.one) ? b : isConst(b, s.one) ? a : binary(s.times, a, b)),
    sum: (over: IndexVar, body: Term): Term => reduce(s.plusReduce, over, body),
  };
}
