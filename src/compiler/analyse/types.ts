// What the structure analysis tells the rest of the compiler. The scan backend consumes `ScanPlan`
// without knowing which algebra produced it: fields computed per step, a combine, an identity, and
// how each state follows from the prefix aggregate and the initial state.
import type { Span } from '../syntax/ast.js';
import type { Def } from '../ir/ir.js';

import type { Semiring } from '../builtins.js';
export { semirings, structureKinds, type Semiring, type StructureKind } from '../builtins.js';

export type Transition =
  /** Each state element depends on itself only: A = diag(a). */
  | { kind: 'diagonal' }
  /** A full matrix over the state index `index` (small state sizes only). */
  | { kind: 'dense'; index: string }
  /** Diagonal plus rank-k along `along`, the same transition shared by every value of `shared`. */
  | { kind: 'lowrank'; rank: number; along: string; shared: string[] };

export interface Reason {
  /** What happens where, e.g. "`h` is read inside `tanh`". */
  message: string;
  span: Span;
  /** Why that stops a scan, e.g. "a nonlinear function of the state". */
  detail?: string;
}

export type Classification =
  | { kind: 'independent' }
  | { kind: 'affine'; semiring: Semiring; transition: Transition }
  | { kind: 'monoid' }
  /** `unanalysed`: the update was too large to see through, so whether it is associative is unknown. */
  | { kind: 'nonlinear'; reason: Reason; note?: string; unanalysed?: true }
  /** Affine in the states jointly, but this state's update reads another state: not planned as a scan. */
  | { kind: 'coupled'; reason: Reason; note?: string };


export interface StateReport {
  state: string;
  classification: Classification;
  /** Whether this state's recurrence can run as a parallel scan. */
  scan: boolean;
  /** Floats in one scan element per independent state slice (e.g. 2 for a diagonal (a, b)). */
  elementSize: number;
  /** The scan element's fields with their dims (`h.a[D, N]`), empty when not a scan. */
  fields: string[];
  /** Why an affine state is still not a scan (e.g. a transition the planner does not handle). */
  unplanned?: Reason;
}

export interface ScanPlan {
  /**
   * Element fields: what one time step contributes, each a definition computed from inputs and params
   * only (kind 'element', target `state.field`, e.g. `h.a`, `h.b`), over its own index variables.
   */
  fields: Def[];
  /** Combine(l, r) with l the earlier aggregate: loads of source 'left'/'right' name fields; lets first, then one def per field. */
  combine: Def[];
  /** The identity element, one constant definition per field. */
  identity: Def[];
  /** Per state: its value after a prefix, from the prefix aggregate (source 'right', fields) and the initial state (source 'state', version 'old'). */
  apply: Def[];
  /**
   * A diagonal-plus-rank-k (+, ×) transition shared by every row, factored (the chunk backend's WY
   * form; not part of the scan element): per row s along the mixed index,
   * s ↦ d ⊙ s + Σ_r u_r (w_r · s) + Σ_q z_q p_q.
   */
  lowRank?: LowRankPlan;
}

export interface LowRankPlan {
  /** The diagonal, over [] or [target] (the plan's `S.d`). */
  d: Def;
  /** Target parts u_r over [target] and source parts w_r over [source], one per rank. */
  u: Def[];
  w: Def[];
  /** The offset as Σ_q z_q[target] p_q[rows]; absent when it does not split so. */
  offset?: { z: Def[]; p: Def[] };
}

export interface Analysis {
  /**
   * 'reversed' for a cell that runs time backward (Module.reversed): each sequence from its last
   * position to its first. The classification is the forward one: only the positions' order changes.
   * 'bidirectional' for a cell with a `reversed { ... }` block: the states in `backward` run backward.
   */
  direction?: 'reversed' | 'bidirectional';
  /** A bidirectional cell's states that run backward (declared in its `reversed` block). */
  backward?: string[];
  states: StateReport[];
  /** Present exactly when every state's recurrence is a scan. */
  plan?: ScanPlan;
  /** Per state, its own part of the plan (when that state is a scan). */
  statePlans: Record<string, ScanPlan>;
  /** How the combine functions fared in the law checker (associativity, identity). */
  laws: LawReport[];
}

export interface LawReport {
  /** The states whose combine was checked (all of them for a monoid). */
  states: string[];
  /** `passed`, or why the exact check did not apply (e.g. the combine uses `exp`). */
  exact: 'passed' | 'failed' | { notApplicable: string };
  /** Random float32 triples checked, and how many were uninformative (a NaN or an unbounded error). */
  float32: { triples: number; skipped: number; passed: boolean };
}
