// What one time step costs, counted on the IR: every interior node evaluated once per point of its
// index space (the definition's indices and the reductions around it), every load reading 4 bytes per
// point. Exact for the reference interpreter, an upper bound for kernels that hoist invariant work.
// The planner refuses a step over MAX_OPS_PER_STEP: nested reductions multiply (50 nested sums over a
// dim of 2 are 10^15 operations a step), and such a cell would otherwise compile and spin.
import type { Span } from '../syntax/ast.js';
import type { DimSizes } from './dims.js';
import type { Module } from './ir.js';

/** Operations per step and sequence above which a cell is refused (documented in README.md, "Limits"). */
export const MAX_OPS_PER_STEP = 2 ** 32;

/** A count as people read it: exact below a million, else two digits and an exponent (`3.4e15`). */
export const approxCount = (n: number): string => (n < 1e6 ? String(n) : n.toExponential(1).replace('e+', 'e'));

export interface StepCost {
  /** Node evaluations per step and sequence. */
  ops: number;
  /** Bytes loaded per step and sequence (4 per float read, before any caching). */
  bytes: number;
  /** The costliest node: its definition, span and evaluations per step. */
  hottest?: { target: string; span: Span; ops: number };
}

export function stepCost(m: Module, sizes: DimSizes): StepCost {
  const cost: StepCost = { ops: 0, bytes: 0 };
  for (const def of m.step) {
    const dimOf = new Map(def.vars.map((v) => [v.name, v.dim]));
    for (const n of def.nodes) if (n.op === 'reduce') dimOf.set(n.over.name, n.over.dim);
    for (const n of def.nodes) {
      if (n.op === 'const') continue;
      const points = n.space.reduce((p, v) => p * (sizes[dimOf.get(v) ?? ''] ?? 1), 1);
      if (n.op === 'load') {
        cost.bytes += 4 * points;
        continue;
      }
      cost.ops += points;
      if (!cost.hottest || points > cost.hottest.ops) cost.hottest = { target: def.target, span: n.span, ops: points };
    }
  }
  return cost;
}
