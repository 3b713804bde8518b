// Constant folding in IEEE float32, and constants as WGSL. WGSL evaluates an expression of literals
// when it compiles the shader and rejects any that overflows or divides by zero (`1.0f / 0.0f`,
// `exp(100.0f)`), where a float32 program would get ±inf or NaN. So the lowering folds every node
// whose operands are constants itself — the builtin's float64 meaning (src/compiler/builtins.ts) on
// float32 operands, rounded to float32 — and emits non-finite results through the `inf`/`nan`
// helpers, which read a private variable and so are never constant expressions.
import { builtin } from '../../src/compiler/builtins.js';
import { lit, un, type Expr } from '../wgsl/ast.js';
import { callHelper, type MathHelper } from '../wgsl/math.js';

export type Constant = number | boolean;

/** The builtin `fn` on constant operands: a float32 number, or a boolean for a comparison. */
export function foldBuiltin(fn: string, operands: Constant[]): Constant {
  const b = builtin(fn);
  const value = (b.f64 as (...args: Constant[]) => Constant)(...operands);
  return typeof value === 'boolean' ? value : Math.fround(value);
}

/** A float32 constant as WGSL: a literal when finite, else the `inf` or `nan` helper (asked for through `use`). */
export function f32Constant(value: number, use: (h: MathHelper) => MathHelper): Expr {
  const v = Math.fround(value);
  if (Number.isNaN(v)) return callHelper(use('nan'));
  if (v === Infinity) return callHelper(use('inf'));
  if (v === -Infinity) return un('-', callHelper(use('inf')));
  return lit.f32(v);
}
