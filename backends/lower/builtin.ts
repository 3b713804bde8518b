// A builtin applied to emitted operands, in the WGSL form the builtin table gives it
// (src/compiler/builtins.ts): an operator, a WGSL built-in function, or a helper of wgsl/math.ts.
import { builtin, reduction, type WgslArg } from '../../src/compiler/builtins.js';
import { bin, call, lit, un, type Expr } from '../wgsl/ast.js';
import { callHelper, type MathHelper } from '../wgsl/math.js';
import { f32Constant } from './fold.js';

export type UseHelper = (h: MathHelper) => MathHelper;

/** `fn(operands…)` as a WGSL expression. */
export function applyBuiltin(fn: string, operands: Expr[], use: UseHelper): Expr {
  const form = builtin(fn).wgsl;
  if ('operator' in form) return operands.length === 1 ? un(form.operator as '-', operands[0]!) : bin(form.operator, operands[0]!, operands[1]!);
  const arg = (a: WgslArg): Expr => ('operand' in a ? operands[a.operand]! : lit.f32(a.f32));
  const args = form.args ? form.args.map(arg) : operands;
  if ('helper' in form) return callHelper(use(form.helper), ...args);
  return call(form.builtin, ...args);
}

/** A reduction's value over no terms. */
export const reductionIdentity = (fn: string, use: UseHelper): Expr => f32Constant(reduction(fn).identity, use);

/** `acc ⊕ term` with the builtin the reduction folds with. */
export const reductionStep = (fn: string, acc: Expr, term: Expr, use: UseHelper): Expr => applyBuiltin(reduction(fn).fold, [acc, term], use);
