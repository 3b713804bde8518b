// The scalar functions generated reference code calls, in float64. Written for stability: sigmoid
// and softplus never overflow exp, and logaddexp handles infinite operands (-inf is the identity).
const sigmoid = (x: number): number => {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
};

/** log(1 + exp(x)) without overflow: x + log1p(exp(-x)) for positive x. */
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

const relu = (x: number): number => (x > 0 ? x : x === x ? 0 : x);

/** log(exp(a) + exp(b)): the larger operand plus a correction in [0, log 2]; an infinite max is the answer. */
const logaddexp = (a: number, b: number): number => {
  const m = Math.max(a, b);
  if (m === Infinity || m === -Infinity) return m;
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
};

/** Names the generated code uses for each builtin (see src/compiler/builtins.ts), plus `fr` for float32 rounding. */
export const mathHelpers = {
  exp: Math.exp,
  log: Math.log,
  sigmoid,
  tanh: Math.tanh,
  softplus,
  relu,
  sqrt: Math.sqrt,
  abs: Math.abs,
  min: Math.min,
  max: Math.max,
  logaddexp,
  fr: Math.fround,
} as const;
