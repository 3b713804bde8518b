// From an affine form to the structure of its transition A. Each linear term reads the state at
// some index; a term that reads it at the update's own index is diagonal, one that reads it through
// a reduction variable at one position mixes along that position (dense or diagonal-plus-low-rank).
// The result carries the coefficients as terms, ready for the plan.
import type { IndexVar } from '../ir/ir.js';
import type { Reason, Semiring, Transition } from './types.js';
import type { AffineForm, LinearTerm } from './classify.js';
import { algebra, semiringOps } from './semirings.js';
import { freeVars, renameVars, termKey, type NameSupply, type Term } from './terms.js';

export type Shape =
  | { kind: 'diagonal'; a: Term; b: Term }
  | {
      kind: 'mixing';
      transition: Extract<Transition, { kind: 'dense' | 'lowrank' }>;
      /** Position of the mixed index in the state's index list. */
      position: number;
      /** The source index of the transition's coefficients (a fresh variable over the same dim). */
      source: IndexVar;
      /** Diagonal coefficient (the semiring's zero when there is none), mixing coefficient over (state vars..., source), offset. */
      d: Term;
      m: Term;
      b: Term;
    }
  /** Reads the state through a permutation or along several positions: affine, but not planned. */
  | { kind: 'general'; transition: Extract<Transition, { kind: 'dense' }>; reason: Reason }
  | { kind: 'coupled'; reason: Reason };

const product = (factors: Term[], semiring: Semiring): Term => {
  const alg = algebra(semiringOps[semiring]);
  return factors.reduce((p, f) => alg.times(p, f), alg.one());
};

/** Pulls each reduction whose variable the load does not use into the factors that mention it (distributivity). */
function pullInnerReductions(t: LinearTerm, semiring: Semiring): LinearTerm {
  const alg = algebra(semiringOps[semiring]);
  let factors = t.factors;
  const kept: IndexVar[] = [];
  for (const r of t.reduced) {
    if (t.load.index.includes(r.name)) {
      kept.push(r);
      continue;
    }
    const inside = factors.filter((f) => freeVars(f).has(r.name));
    const outside = factors.filter((f) => !freeVars(f).has(r.name));
    factors = [...outside, alg.sum(r, product(inside, semiring))];
  }
  return { ...t, factors, reduced: kept };
}

export function shapeOf(form: AffineForm, state: string, vars: IndexVar[], semiring: Semiring, names: NameSupply): Shape {
  const alg = algebra(semiringOps[semiring]);
  const varNames = vars.map((v) => v.name);
  const b = form.offset ?? alg.zero();
  for (const t of form.terms) {
    if (t.load.tensor !== state || t.load.version === 'new') {
      const which = t.load.tensor === state ? `this step's new \`${state}\`` : `state \`${t.load.tensor}\``;
      return { kind: 'coupled', reason: { message: `the update of \`${state}\` reads ${which}`, span: t.load.span, detail: 'the states are coupled, and a coupled recurrence is not planned as a scan' } };
    }
  }
  const terms = form.terms.map((t) => pullInnerReductions(t, semiring));
  const diagonal = terms.filter((t) => t.load.index.every((v, k) => v === varNames[k]) && t.reduced.length === 0);
  const mixing = terms.filter((t) => !diagonal.includes(t));
  const d = diagonal.map((t) => product(t.factors, semiring)).reduce<Term | undefined>((acc, c) => (acc ? alg.plus(acc, c) : c), undefined);
  if (mixing.length === 0) return { kind: 'diagonal', a: d ?? alg.zero(), b };

  // Every mixing term must read the state at the update's index except at one position, through its reduction variable.
  const positions = mixing.map((t) => {
    const off = t.load.index.map((v, k) => (v === varNames[k] ? -1 : k)).filter((k) => k >= 0);
    const reducedAt = off.length === 1 ? t.reduced.find((r) => r.name === t.load.index[off[0]!]) : undefined;
    return off.length === 1 && reducedAt && t.reduced.length === 1 ? off[0]! : -1;
  });
  const position = positions[0]!;
  if (positions.some((p) => p < 0 || p !== position)) {
    const odd = mixing[positions.findIndex((p) => p < 0 || p !== position)]!;
    return {
      kind: 'general',
      transition: { kind: 'dense', index: varNames.join(', ') },
      reason: { message: `\`${state}\` is read as \`${state}[${odd.load.index.join(', ')}]\``, span: odd.load.span, detail: 'a transition that permutes or mixes several indices is affine but not planned as a scan' },
    };
  }
  const along = varNames[position]!;
  const source: IndexVar = { name: names.fresh(mixing[0]!.reduced[0]!.name.replace(/\d+$/, '')), dim: vars[position]!.dim };
  const renamed = mixing.map((t) => renameVars(product(t.factors, semiring), new Map([[t.reduced[0]!.name, source.name]])));
  const m = renamed.reduce((acc, c) => alg.plus(acc, c));
  const mentioned = new Set([...renamed.flatMap((c) => [...freeVars(c)]), ...(d ? freeVars(d) : [])]);
  const shared = varNames.filter((v) => v !== along && !mentioned.has(v));

  // Diagonal plus low rank (over (+, ×)): every mixing coefficient factors into a part over the
  // source index and a part over the target index; the rank counts the distinct source parts.
  let rank: number | undefined;
  if (semiring === 'sum_prod') {
    const sourceParts = new Set<string>();
    const factorable = mixing.every((t, k) => {
      const factors = t.factors.map((f) => renameVars(f, new Map([[t.reduced[0]!.name, source.name]])));
      if (factors.some((f) => freeVars(f).has(source.name) && freeVars(f).has(along))) return false;
      sourceParts.add(factors.filter((f) => freeVars(f).has(source.name)).map(termKey).sort().join(' * '));
      return k >= 0;
    });
    if (factorable) rank = sourceParts.size;
  }
  const transition: Extract<Transition, { kind: 'dense' | 'lowrank' }> = rank !== undefined ? { kind: 'lowrank', rank, along, shared } : { kind: 'dense', index: along };
  return { kind: 'mixing', transition, position, source, d: d ?? alg.zero(), m, b };
}
