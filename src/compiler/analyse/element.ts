// Scan plans as IR. For a state S with update variables V over a semiring (⊕, ⊗, 0, 1):
//
// diagonal   h ↦ a ⊗ h ⊕ b. Fields S.a[vars of a] and S.b[V];
//            combine a = l.a ⊗ r.a, b = r.a ⊗ l.b ⊕ r.b; identity (1, 0); apply S = P.a ⊗ S0 ⊕ P.b.
// mixing     h ↦ (diag(d) ⊕ M) ⊗ h ⊕ b along one index t of V (dense, or low rank planned in its
//            dense form). Fields S.d, S.A[..., t, k] (target t, source k) and S.b[V]; composing
//            (diag(d1) ⊕ M1) then (diag(d2) ⊕ M2) gives diag(d2 ⊗ d1) ⊕ (d2 ⊗ M1 ⊕ M2 ⊗ d1 ⊕ M2 ⊗ M1),
//            so the element stays (d, A, b) and the identity is (1, 0, 0) — no identity matrix (which
//            the IR could not write without an index comparison) is ever needed.
// monoid     the declared element, identity and combine; apply = combine(initial state, prefix).
import type { Span } from '../syntax/ast.js';
import type { Def, Dep, IndexVar, Module } from '../ir/ir.js';
import { tensorNamed } from '../ir/ir.js';
import type { LowRankPlan, ScanPlan, Semiring } from './types.js';
import { algebra, semiringOps } from './semirings.js';
import { freeVars, load, NameSupply, toDef, type Term } from './terms.js';
import type { Shape } from './structure.js';

export interface StatePlan extends ScanPlan {
  /** Field names with their index dims, for reports: `h.a[D, N]`. */
  fieldText: string[];
}

const varsUsed = (vars: IndexVar[], ...ts: Term[]) => {
  const used = new Set(ts.flatMap((t) => [...freeVars(t)]));
  return vars.filter((v) => used.has(v.name));
};

export function depOfLetIn(module: Module): (name: string) => Dep {
  return (name) => module.step.find((d) => d.target === name)?.dep ?? 'state';
}

export function diagonalPlan(module: Module, state: string, vars: IndexVar[], semiring: Semiring, a: Term, b: Term, span: Span): StatePlan {
  const alg = algebra(semiringOps[semiring]);
  const depOfLet = depOfLetIn(module);
  const aVars = varsUsed(vars, a);
  const V = vars.map((v) => v.name);
  const A = aVars.map((v) => v.name);
  const [fa, fb] = [`${state}.a`, `${state}.b`];
  const def = (kind: Def['kind'], target: string, vs: IndexVar[], t: Term) => toDef(kind, target, vs, t, span, depOfLet);
  return {
    fields: [def('element', fa, aVars, a), def('element', fb, vars, b)],
    combine: [
      def('combine', fa, aVars, alg.times(load('left', fa, A), load('right', fa, A))),
      def('combine', fb, vars, alg.plus(alg.times(load('right', fa, A), load('left', fb, V)), load('right', fb, V))),
    ],
    identity: [def('identity', fa, aVars, alg.one()), def('identity', fb, vars, alg.zero())],
    apply: [def('update', state, vars, alg.plus(alg.times(load('right', fa, A), load('state', state, V, 'old')), load('right', fb, V)))],
    fieldText: [fieldText(module, fa, aVars), fieldText(module, fb, vars)],
  };
}

export function mixingPlan(module: Module, state: string, vars: IndexVar[], semiring: Semiring, shape: Extract<Shape, { kind: 'mixing' }>, span: Span): StatePlan {
  const alg = algebra(semiringOps[semiring]);
  const depOfLet = depOfLetIn(module);
  const V = vars.map((v) => v.name);
  const t = V[shape.position]!;
  const k = shape.source;
  const names = new NameSupply([...V, k.name]);
  const m: IndexVar = { name: names.fresh('m'), dim: k.dim };
  const dVars = varsUsed(vars, shape.d);
  // A over the rows it depends on (those the diagonal part depends on too, since they compose), then target and source.
  const rowVars = varsUsed(vars, shape.m, shape.d).filter((v) => v.name !== t);
  const aVars = [...rowVars, vars[shape.position]!, k];
  const [fd, fA, fb] = [`${state}.d`, `${state}.A`, `${state}.b`];
  const at = (names: string[], from: string, to: string) => names.map((v) => (v === from ? to : v));
  const D = dVars.map((v) => v.name);
  const A = (target: string, src: string) => [...rowVars.map((v) => v.name), target, src];
  const sum = (body: Term) => alg.sum(m, body);
  const def = (kind: Def['kind'], target: string, vs: IndexVar[], x: Term) => toDef(kind, target, vs, x, span, depOfLet);
  const [l, r] = ['left', 'right'] as const;
  return {
    fields: [def('element', fd, dVars, shape.d), def('element', fA, aVars, shape.m), def('element', fb, vars, shape.b)],
    combine: [
      def('combine', fd, dVars, alg.times(load(r, fd, D), load(l, fd, D))),
      def(
        'combine',
        fA,
        aVars,
        alg.plus(
          alg.plus(alg.times(load(r, fd, D), load(l, fA, A(t, k.name))), alg.times(load(r, fA, A(t, k.name)), load(l, fd, at(D, t, k.name)))),
          sum(alg.times(load(r, fA, A(t, m.name)), load(l, fA, A(m.name, k.name)))),
        ),
      ),
      def('combine', fb, vars, alg.plus(alg.plus(alg.times(load(r, fd, D), load(l, fb, V)), sum(alg.times(load(r, fA, A(t, m.name)), load(l, fb, at(V, t, m.name))))), load(r, fb, V))),
    ],
    identity: [def('identity', fd, dVars, alg.one()), def('identity', fA, aVars, alg.zero()), def('identity', fb, vars, alg.zero())],
    apply: [
      def(
        'update',
        state,
        vars,
        alg.plus(alg.plus(alg.times(load(r, fd, D), load('state', state, V, 'old')), alg.sum(k, alg.times(load(r, fA, A(t, k.name)), load('state', state, at(V, t, k.name), 'old')))), load(r, fb, V)),
      ),
    ],
    fieldText: [fieldText(module, fd, dVars), fieldText(module, fA, aVars), fieldText(module, fb, vars)],
    ...(shape.factors && rowVars.length === 0 ? { lowRank: lowRankPlan(state, vars, shape, def) } : {}),
  };
}

/** The factors of a transition shared by every row as definitions: u, z over the target; w over the source; p over the rows. */
function lowRankPlan(state: string, vars: IndexVar[], shape: Extract<Shape, { kind: 'mixing' }>, def: (kind: Def['kind'], target: string, vs: IndexVar[], x: Term) => Def): LowRankPlan {
  const f = shape.factors!;
  const target = vars[shape.position]!;
  const rows = vars.filter((_, k) => k !== shape.position);
  return {
    d: def('element', `${state}.d`, varsUsed(vars, shape.d), shape.d),
    u: f.rank.map((r, k) => def('element', `${state}.u${k}`, [target], r.target)),
    w: f.rank.map((r, k) => def('element', `${state}.w${k}`, [shape.source], r.source)),
    ...(f.offset ? { offset: { z: f.offset.map((o, k) => def('element', `${state}.z${k}`, [target], o.target)), p: f.offset.map((o, k) => def('element', `${state}.p${k}`, rows, o.row)) } } : {}),
  };
}

/** A declared monoid as a plan: its fields are the states themselves. */
export function monoidPlan(module: Module): StatePlan {
  const monoid = module.monoid!;
  return {
    fields: monoid.element,
    combine: monoid.combine,
    identity: monoid.identity,
    apply: monoid.combine.filter((d) => d.kind === 'combine').map((d) => ({ ...d, kind: 'update' as const })),
    fieldText: monoid.element.map((d) => fieldText(module, d.target, d.vars)),
  };
}

function fieldText(module: Module, field: string, vars: IndexVar[]): string {
  void module;
  return vars.length ? `${field}[${vars.map((v) => v.dim).join(', ')}]` : field;
}

/** Floats in one element: the product of each field's dim sizes (0 when a size is unknown). */
export function elementFloats(module: Module, fields: Def[]): number {
  const size = (dim: string) => module.dims.find((d) => d.name === dim)?.size;
  let total = 0;
  for (const f of fields) {
    const sizes = f.vars.map((v) => size(v.dim));
    if (sizes.some((s) => s === undefined)) return 0;
    total += sizes.reduce<number>((p, s) => p * s!, 1);
  }
  return total;
}

export const stateVars = (module: Module, state: string, update: Def | undefined): IndexVar[] =>
  update?.vars ?? tensorNamed(module, state)!.dims.map((dim, k) => ({ name: `i${k}`, dim }));
