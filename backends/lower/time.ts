// Where a step lives in memory. Every kernel runs in logical time: logical step 0 is the first step
// the recurrence takes. For a forward cell that is position 0; for a reversed cell
// (`rnn name reversed {`, Module.reversed) a sequence of length len takes its steps at positions
// len-1, ..., 0. The map below is the only place the direction enters a kernel, so every mode gets it:
// inputs are read and outputs written at `position(t)`, and everything else (carries, aggregates,
// chunks, blocks) stays in logical time.
//
// Steps at or past the length keep their own position: the map is a bijection on [0, T), so the loops
// that zero the outputs past a sequence's end, and reads clamped to T, stay where they were.
import { bin, call, id, lit, type Expr } from '../wgsl/ast.js';

export interface TimeAxis {
  reversed: boolean;
}

export const timeAxisOf = (m: { reversed?: true }): TimeAxis => ({ reversed: m.reversed === true });

/** The memory position of logical step `t` of a sequence of `len` valid steps (u32 expressions). */
export function stepPosition(axis: TimeAxis, t: Expr, len: Expr = id('len')): Expr {
  if (!axis.reversed) return t;
  return call('select', t, bin('-', bin('-', len, lit.u32(1)), t), bin('<', t, len));
}

/** The row of logical step `t` of sequence `seq` in a [batch, T, ...] tensor: `seq * T + position(t)`. */
export const stepRow = (axis: TimeAxis, seq: Expr, T: Expr, t: Expr, len: Expr = id('len')): Expr => bin('+', bin('*', seq, T), stepPosition(axis, t, len));

/**
 * A bidirectional cell (a `reversed { ... }` block): its block's input loads (LoadNode.reversed) and
 * its states and outputs (Tensor.reversed) take logical step t at position len-1-t, while the rest of
 * the cell takes it at t, in the same logical step.
 */
export const isBidirectional = (m: { tensors: readonly { reversed?: true }[] }): boolean => m.tensors.some((t) => t.reversed === true);

/** The row variable of a bidirectional cell's backward part in the sequential kernel (beside `step_row`). */
export const REVERSED_ROW = 'step_row_r';

/** The same map on the host (the reference interpreter, tests): position of logical step t. */
export const hostStepPosition = (reversed: boolean, t: number, len: number): number => (reversed && t < len ? len - 1 - t : t);
