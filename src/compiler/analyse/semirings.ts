// The four semirings the analysis recognises, as pairs of binary builtins (⊕, ⊗). Everything else
// is read off the builtin table: ⊕'s reduction is the one that folds with ⊕, 0 is ⊕'s identity (and
// ⊗'s annihilator), 1 is ⊗'s identity. Plans are built from these tables only, so every algebra gets
// the same scan element, combine and apply, just with other operations.
import { builtin, reducers, reduction, type ArithFn, type BinaryBuiltin, type BinaryFn, type Reducer } from '../builtins.js';
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

function semiring(name: Semiring, text: string, plus: ArithFn | BinaryFn, times: ArithFn | BinaryFn): SemiringOps {
  const identity = (fn: string) => {
    const value = (builtin(fn) as BinaryBuiltin).identity;
    if (value === undefined) throw new Error(`semiring ${name}: \`${fn}\` has no identity`);
    return value;
  };
  const plusReduce = reducers.find((r) => reduction(r).fold === plus);
  if (!plusReduce) throw new Error(`semiring ${name}: no reduction folds with \`${plus}\``);
  return { name, text, plus, plusReduce, times, zero: identity(plus), one: identity(times) };
}

export const semiringOps: Record<Semiring, SemiringOps> = {
  sum_prod: semiring('sum_prod', '(+, ×)', 'add', 'mul'),
  max_plus: semiring('max_plus', '(max, +)', 'max', 'add'),
  max_min: semiring('max_min', '(max, min)', 'max', 'min'),
  log: semiring('log', '(logaddexp, +)', 'logaddexp', 'add'),
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
