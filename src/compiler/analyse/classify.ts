// Abstract interpretation of one state update over one semiring. The abstract value of an
// expression is either independent of the state, semiring-affine in the state — a ⊕-sum of terms
// `c_1 ⊗ ... ⊗ c_n ⊗ S[index]` under ⊕-reductions, plus a state-independent offset — or a failure
// with the reason and the place where the algebra stopped explaining the expression.
import type { Span } from '../syntax/ast.js';
import type { IndexVar } from '../ir/ir.js';
import type { Reason } from './types.js';
import { binary, constant, loadsOf, unary, type LoadTerm, type Term } from './terms.js';
import { algebra, type SemiringOps } from './semirings.js';

/** `factors[0] ⊗ ... ⊗ load`, ⊕-summed over `reduced`. Factors are state-independent. */
export interface LinearTerm {
  factors: Term[];
  load: LoadTerm;
  reduced: IndexVar[];
}

export interface AffineForm {
  terms: LinearTerm[];
  /** The state-independent part; absent means the semiring's zero. */
  offset?: Term;
}

export type AbstractValue =
  | { kind: 'indep'; term: Term }
  | { kind: 'affine'; form: AffineForm }
  | { kind: 'fail'; reason: Reason; depth: number };

export const readsState = (t: Term): boolean => loadsOf(t).some((l) => l.source === 'state');
const q = (name: string) => `\`${name}\``;

export interface InterpretOptions {
  /** The state whose update this is: a failure that involves another state says so. */
  target?: string;
  /**
   * Which states count as variables (default: all). With only the target, the other states are
   * read like inputs: how the target's own update combines it shows which semiring it is about.
   */
  onlyTarget?: boolean;
}

/** Splits a ⊗-product into its factors, so that coefficients can be compared factor by factor. */
function factorsOf(t: Term, s: SemiringOps): Term[] {
  if (t.op === 'binary' && t.fn === s.times) return [...factorsOf(t.args[0], s), ...factorsOf(t.args[1], s)];
  return [t];
}

export function interpret(t: Term, s: SemiringOps, options: InterpretOptions = {}, depth = 0): AbstractValue {
  const { target, onlyTarget } = options;
  const isVariable = (l: LoadTerm) => l.source === 'state' && (!onlyTarget || l.tensor === target);
  const readsVariable = (x: Term) => loadsOf(x).some(isVariable);
  const firstStateLoad = (x: Term): LoadTerm => loadsOf(x).find(isVariable)!;
  // The state read to point at for a construct: one written inside it, else (the state is read through
  // a let, inlined here) the construct itself, not the let's line.
  const readAt = (x: Term, construct: Span): { l: LoadTerm; at: Span } => {
    const inside = loadsOf(x).find((l) => isVariable(l) && l.span.start >= construct.start && l.span.end <= construct.end);
    return inside ? { l: inside, at: inside.span } : { l: firstStateLoad(x), at: construct };
  };
  if (!readsVariable(t)) return { kind: 'indep', term: t };
  const alg = algebra(s);
  // What happens to a state: said of the state itself, or, for another state that the update reads
  // (mLSTM's stabiliser `m` inside the update of `c`), as what the update of the target does with it.
  const other = (l: LoadTerm) => target !== undefined && l.tensor !== target;
  const happens = (l: LoadTerm, itself: string, inUpdate: string) => (other(l) ? `the update of ${q(target!)} ${inUpdate}` : `${q(l.tensor)} ${itself}`);
  const readIn = (l: LoadTerm, where: string) => happens(l, `is read ${where}`, `reads ${q(l.tensor)} ${where}`);
  const fail = (message: string, span: Span, detail?: string): AbstractValue => ({ kind: 'fail', reason: { message, span, ...(detail ? { detail } : {}) }, depth });
  const scale = (v: AffineForm, c: Term): AffineForm => ({
    terms: v.terms.map((x) => ({ ...x, factors: [...x.factors, ...factorsOf(c, s)] })),
    ...(v.offset ? { offset: alg.times(v.offset, c) } : {}),
  });
  const plus = (a: AbstractValue, b: AbstractValue): AffineForm => {
    const form = (v: AbstractValue): AffineForm => (v.kind === 'indep' ? { terms: [], offset: v.term } : (v as { form: AffineForm }).form);
    const [x, y] = [form(a), form(b)];
    const offset = x.offset && y.offset ? alg.plus(x.offset, y.offset) : (x.offset ?? y.offset);
    return { terms: [...x.terms, ...y.terms], ...(offset ? { offset } : {}) };
  };
  const affine = (form: AffineForm): AbstractValue => ({ kind: 'affine', form });
  const notAnOperation = (what: string, operand: Term, span: Span): AbstractValue => {
    const { l, at } = readAt(operand, span);
    return fail(readIn(l, `inside ${what}`), at, `not an operation of the semiring ${s.text}`);
  };
  const sub = (x: Term) => interpret(x, s, options, depth + 1);

  switch (t.op) {
    case 'const':
      return { kind: 'indep', term: t };
    case 'load':
      return affine({ terms: [{ factors: [], load: t, reduced: [] }] });
    case 'unary': {
      const { l, at } = readAt(t.arg, t.span);
      // A nonlinear function of the state is the construct that breaks affinity, whatever is inside it
      // (mLSTM's gate `exp(... - m)` over a `max` that is not (+, ×) either): reported here, not inside.
      if (t.fn !== 'neg') return fail(readIn(l, `inside ${q(t.fn)}`), at, `a nonlinear function of ${other(l) ? 'another' : 'the'} state`);
      const a = sub(t.arg);
      if (a.kind === 'fail') return a;
      if (s.name === 'sum_prod') return affine(scale((a as { form: AffineForm }).form, constant(-1)));
      return fail(happens(l, 'is negated', `negates ${q(l.tensor)}`), t.span, `not affine over ${s.text}`);
    }
    case 'binary': {
      const [x, y] = t.args;
      const a = sub(x);
      if (a.kind === 'fail') return a;
      const b = sub(y);
      if (b.kind === 'fail') return b;
      const both = a.kind !== 'indep' && b.kind !== 'indep';
      if (t.fn === s.plus) return affine(plus(a, b));
      if (t.fn === s.times) {
        if (!both) return a.kind === 'indep' ? affine(scale((b as { form: AffineForm }).form, a.term)) : affine(scale((a as { form: AffineForm }).form, (b as { term: Term }).term));
        const [l, r] = [firstStateLoad(x), firstStateLoad(y)];
        const neither = other(l) && other(r) ? ` in the update of ${q(target!)}` : '';
        return s.name === 'sum_prod'
          ? fail(`${q(l.tensor)} is multiplied by ${q(r.tensor)}${neither}`, t.span, 'a product of two values that both depend on the state')
          : fail(`both operands of ${q(t.fn)} depend on the state (${q(l.tensor)} and ${q(r.tensor)})${neither}`, t.span, `not affine over ${s.text}`);
      }
      if (s.name === 'sum_prod' && t.fn === 'sub') return affine(plus(a, b.kind === 'indep' ? { kind: 'indep', term: unary('neg', b.term) } : affine(scale(b.form, constant(-1)))));
      if (s.name === 'sum_prod' && t.fn === 'div') {
        if (b.kind === 'indep') return affine(scale((a as { form: AffineForm }).form, binary('div', constant(1), b.term)));
        const { l, at } = readAt(y, y.span);
        return fail(readIn(l, 'in a divisor'), at, 'a nonlinear function of the state');
      }
      if (s.times === 'add' && t.fn === 'sub' && b.kind === 'indep') return affine(scale((a as { form: AffineForm }).form, unary('neg', b.term)));
      if (s.times === 'add' && t.fn === 'sub') {
        const { l, at } = readAt(y, y.span);
        return fail(happens(l, 'is subtracted', `subtracts ${q(l.tensor)}`), at, `not affine over ${s.text}`);
      }
      return notAnOperation(q(t.fn), readsVariable(x) ? x : y, t.span);
    }
    case 'select': {
      const [c, x, y] = t.args;
      if (readsVariable(c)) {
        const { l, at } = readAt(c, c.span);
        return fail(readIn(l, 'in the condition of `select`'), at, 'which branch is taken depends on the state');
      }
      const a = sub(x);
      if (a.kind === 'fail') return a;
      const b = sub(y);
      if (b.kind === 'fail') return b;
      // select(c, x, y) = select(c, 1, 0) ⊗ x ⊕ select(c, 0, 1) ⊗ y, term by term.
      const pick = (v: AbstractValue, taken: boolean): AffineForm => {
        const gate = (u: Term) => ({ op: 'select', args: [c, taken ? u : alg.zero(), taken ? alg.zero() : u], span: t.span }) as Term;
        if (v.kind === 'indep') return { terms: [], offset: gate(v.term) };
        const form = (v as { form: AffineForm }).form;
        return {
          terms: form.terms.map((x) => ({ ...x, factors: [gate(x.factors.reduce((p, f) => alg.times(p, f), alg.one()))] })),
          ...(form.offset ? { offset: gate(form.offset) } : {}),
        };
      };
      return affine(plus(affine(pick(a, true)), affine(pick(b, false))));
    }
    case 'reduce': {
      const a = sub(t.arg);
      if (a.kind === 'fail') return a;
      if (t.fn !== s.plusReduce) return notAnOperation(`a ${q(t.fn)} reduction`, t.arg, t.span);
      const form = (a as { form: AffineForm }).form;
      return affine({
        terms: form.terms.map((x) => ({ ...x, reduced: [...x.reduced, t.over] })),
        ...(form.offset ? { offset: alg.sum(t.over, form.offset) } : {}),
      });
    }
  }
}
