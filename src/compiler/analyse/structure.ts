// From an affine form to the structure of its transition A. Each linear term reads the state at
// some index; a term that reads it at the update's own index is diagonal, one that reads it through
// a reduction variable at one position mixes along that position (dense or diagonal-plus-low-rank).
// The result carries the coefficients as terms, ready for the plan.
import type { IndexVar } from '../ir/ir.js';
import type { Reason, Semiring, Transition } from './types.js';
import type { AffineForm, LinearTerm } from './classify.js';
import { algebra, semiringOps } from './semirings.js';
import { binary, constant, freeVars, reduce, renameVars, termKey, type NameSupply, type Term } from './terms.js';

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
      /** The low-rank factors, when every coefficient splits into target and source parts (see lowRankFactors). */
      factors?: LowRankFactors;
    }
  /** Reads the state through a permutation or along several positions: affine, but not planned. */
  | { kind: 'general'; transition: Extract<Transition, { kind: 'dense' }>; reason: Reason }
  | { kind: 'coupled'; reason: Reason };

/**
 * A diagonal-plus-rank-k transition and its offset in factored form (over (+, ×)): per row s (the
 * state along the mixed index, one row per value of the other indices)
 *   s ↦ d ⊙ s + Σ_r u_r (w_r · s) + Σ_q z_q p_q[row]
 * with u_r, z_q over the target index, w_r over the source index and p_q over the row indices (a
 * constant 1 when the offset is the same for every row). The chunk backend builds its WY form from
 * these; `offset` is absent when b does not split into row parts times target parts.
 */
export interface LowRankFactors {
  rank: { target: Term; source: Term }[];
  offset?: { row: Term; target: Term }[];
}

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
  let factors: LowRankFactors | undefined;
  if (semiring === 'sum_prod') {
    const sourceParts = new Map<string, { source: Term; targets: Term[] }>();
    const rowVars = new Set(varNames.filter((v) => v !== along));
    let sharedByRows = true;
    const factorable = mixing.every((t) => {
      const fs = t.factors.map((f) => renameVars(f, new Map([[t.reduced[0]!.name, source.name]])));
      if (fs.some((f) => freeVars(f).has(source.name) && freeVars(f).has(along))) return false;
      const src = fs.filter((f) => freeVars(f).has(source.name));
      const rest = fs.filter((f) => !freeVars(f).has(source.name));
      if ([...fs].some((f) => [...freeVars(f)].some((v) => rowVars.has(v)))) sharedByRows = false;
      const key = src.map(termKey).sort().join(' * ');
      const part = sourceParts.get(key) ?? { source: product(src, semiring), targets: [] };
      part.targets.push(product(rest, semiring));
      sourceParts.set(key, part);
      return true;
    });
    if (factorable) {
      rank = sourceParts.size;
      if (sharedByRows) {
        const offset = offsetFactors(b, rowVars, along);
        factors = {
          rank: [...sourceParts.values()].map((p) => ({ source: p.source, target: p.targets.reduce((acc, c) => alg.plus(acc, c)) })),
          ...(offset ? { offset } : {}),
        };
      }
    }
  }
  const transition: Extract<Transition, { kind: 'dense' | 'lowrank' }> = rank !== undefined ? { kind: 'lowrank', rank, along, shared } : { kind: 'dense', index: along };
  return { kind: 'mixing', transition, position, source, d: d ?? alg.zero(), m, b, ...(factors ? { factors } : {}) };
}

/** A product `coef × factors` of an expanded sum of products. */
interface Monomial {
  coef: number;
  factors: Term[];
}

/** Past this many products the offset is not split (it stays a dense per-row field). */
const MAX_MONOMIALS = 64;

/**
 * A (+, ×) term as a sum of products, distributing × over + and − and pulling out of each sum
 * reduction the factors that do not use its variable; anything else (a division's divisor, a
 * function) is one opaque factor. Undefined past MAX_MONOMIALS.
 */
function monomials(t: Term): Monomial[] | undefined {
  const cap = (ms: Monomial[] | undefined) => (ms && ms.length <= MAX_MONOMIALS ? ms : undefined);
  const opaque = (x: Term): Monomial[] => [{ coef: 1, factors: [x] }];
  const times = (a: Monomial[], b: Monomial[]) => cap(a.flatMap((x) => b.map((y) => ({ coef: x.coef * y.coef, factors: [...x.factors, ...y.factors] }))));
  switch (t.op) {
    case 'const':
      return [{ coef: t.value, factors: [] }];
    case 'load':
      return opaque(t);
    case 'unary': {
      if (t.fn !== 'neg') return opaque(t);
      return monomials(t.arg)?.map((m) => ({ ...m, coef: -m.coef }));
    }
    case 'binary': {
      const [a, b] = [monomials(t.args[0]), t.fn === 'div' ? opaque(binary('div', constant(1), t.args[1])) : monomials(t.args[1])];
      if (!a || !b) return undefined;
      if (t.fn === 'add') return cap([...a, ...b]);
      if (t.fn === 'sub') return cap([...a, ...b.map((m) => ({ ...m, coef: -m.coef }))]);
      if (t.fn === 'mul' || t.fn === 'div') return times(a, b);
      return opaque(t);
    }
    case 'reduce': {
      if (t.fn !== 'sum') return opaque(t);
      const inner = monomials(t.arg);
      if (!inner) return undefined;
      return inner.map((m) => {
        const inside = m.factors.filter((f) => freeVars(f).has(t.over.name));
        const outside = m.factors.filter((f) => !freeVars(f).has(t.over.name));
        return { coef: m.coef, factors: [...outside, reduce('sum', t.over, inside.reduce((p, f) => binary('mul', p, f), constant(1) as Term))] };
      });
    }
    default:
      return opaque(t);
  }
}

/** The offset b as Σ_q z_q[target] p_q[row], grouped by row part; undefined when a product mixes row and target indices. */
function offsetFactors(b: Term, rowVars: Set<string>, along: string): { row: Term; target: Term }[] | undefined {
  const ms = monomials(b);
  if (!ms) return undefined;
  const groups = new Map<string, { row: Term[]; targets: Term[] }>();
  for (const m of ms) {
    if (m.coef === 0) continue;
    const row: Term[] = [];
    const target: Term[] = [];
    for (const f of m.factors) {
      const vs = [...freeVars(f)];
      const onRow = vs.some((v) => rowVars.has(v));
      if (onRow && vs.includes(along)) return undefined;
      (onRow ? row : target).push(f);
    }
    const key = row.map(termKey).sort().join(' * ');
    const g = groups.get(key) ?? { row, targets: [] };
    const parts = m.coef === 1 ? target : [constant(m.coef), ...target];
    const term = parts.length ? parts.reduce((p, f) => binary('mul', p, f)) : constant(1);
    g.targets.push(term);
    groups.set(key, g);
  }
  return [...groups.values()].map((g) => ({
    row: g.row.length ? g.row.reduce((p, f) => binary('mul', p, f)) : constant(1),
    target: g.targets.reduce((p, x) => binary('add', p, x)),
  }));
}
