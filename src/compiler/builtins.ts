// The builtin table: every scalar operation and reduction a .rnn expression (and so the IR) may use,
// with everything each consumer needs to give it meaning. It is the one place a builtin is defined:
// the checker reads names and types, lowering the IR name of each operator, the reference
// interpreter the float64 meaning and the JS form, the law checker the float32 error rule and which
// builtins have an exact rational value, WGSL emitters the WGSL form (as data: this layer imports
// nothing from backends/), a reverse-mode pass the derivative.
//
// Special values follow IEEE 754 and NumPy: NaN in, NaN out (min and max included, like
// np.minimum/np.maximum); logaddexp(+inf, +inf) = +inf, logaddexp(-inf, -inf) = -inf,
// logaddexp(+inf, -inf) = +inf; log(0) = -inf, log(x < 0) = NaN, sqrt(x < 0) = NaN;
// sigmoid(±inf) = 1 / 0, softplus(-inf) = 0, relu(NaN) = NaN.

/** The two value types of the language: numbers (float32 on the GPU) and the booleans comparisons give. */
export type ValueType = 'f32' | 'bool';

// ---------------------------------------------------------------- the forms, as data

/** How a .rnn source writes a builtin: a call `exp(x)`, an infix operator `a + b`, a prefix operator `-x`. */
export type SourceForm = { call: string } | { infix: '+' | '-' | '*' | '/' | '<' | '<=' | '>' | '>=' | '==' | '!=' } | { prefix: '-' };

/** An argument of a WGSL call: one of the builtin's operands (by position), or an f32 literal. */
export type WgslArg = { operand: number } | { f32: number };

/** The numerically safe helper functions of backends/wgsl/math.ts that builtins call (their bodies live there). */
export type WgslHelper = 'sigmoid' | 'softplus' | 'tanh' | 'logaddexp' | 'min' | 'max';

/** WGSL built-in functions the table uses. */
export type WgslBuiltinFunction = 'exp' | 'log' | 'sqrt' | 'abs' | 'min' | 'max' | 'select';

/** WGSL operators the table uses: prefix with one operand, infix with two. */
export type WgslOperator = '+' | '-' | '*' | '/' | '<' | '<=' | '>' | '>=' | '==' | '!=';

/**
 * How a WGSL emitter writes a scalar builtin applied to its operands (already-emitted expressions):
 * - `{ operator }`: `-a` for one operand, `a op b` for two;
 * - `{ builtin, args? }`: a WGSL built-in function; `args` lists the call's arguments (operands by
 *   position, f32 literals), e.g. select(c, x, y) is WGSL `select(y, x, c)`;
 *   without `args`, the operands in order;
 * - `{ helper, args? }`: a helper function from backends/wgsl/math.ts, on `args` or the operands in order
 *   (min and max are helpers: WGSL leaves their result on a NaN operand to the implementation, and
 *   rnnc defines it as NaN, as the reference does).
 */
export type WgslForm = { operator: WgslOperator } | { builtin: WgslBuiltinFunction; args?: readonly WgslArg[] } | { helper: WgslHelper; args?: readonly WgslArg[] };

/**
 * How generated float64 reference code (src/runtime/reference) writes a scalar builtin:
 * - `{ operator }`: a JS operator, prefix with one operand, infix with two (comparisons give a boolean);
 * - `{ call }`: a function of that name, which `jsFunctions` binds to the builtin's float64 meaning;
 * - `{ conditional: true }`: `c ? x : y`.
 */
export type JsForm = { operator: '+' | '-' | '*' | '/' | '<' | '<=' | '>' | '>=' | '===' | '!==' } | { call: string } | { conditional: true };

// ---------------------------------------------------------------- float32 error rules

/** A float32 value and a bound on its distance from the exact value of the same expression on the same inputs. */
export interface Bounded {
  v: number;
  e: number;
}

/**
 * How the law checker's float32 domain bounds a builtin's error (forward error analysis): the result
 * is the float32 rounding of the exact function of the float32 operands, so its error is at most
 * `propagate` (how far the operands' errors can move the exact result: a derivative bound over the
 * error interval) plus `ulps` units in the last place of the result (0 for a builtin whose result is
 * one of its operands, or its negation; 0.5 for a correctly rounded one).
 */
export interface Float32Rule<Operands extends Bounded[]> {
  ulps: number;
  propagate: (...operands: Operands) => number;
}

/** e · m, where an exact operand (e = 0) contributes nothing even when m is infinite. */
const scaled = (e: number, m: number) => (e === 0 ? 0 : e * m);

// ---------------------------------------------------------------- the entries

interface Common {
  /** The name in the IR (a node's `fn`). */
  name: string;
  source: SourceForm;
  params: readonly ValueType[];
  result: ValueType;
  js: JsForm;
  wgsl: WgslForm;
  /**
   * A piecewise-rational function (no exp, log or roots): the law checker's exact domain evaluates it
   * in rational arithmetic. The others make the exact check report itself inapplicable.
   */
  exact: boolean;
}

// ---------------------------------------------------------------- derivatives, as data

/**
 * A partial derivative as data: an expression over the builtin's operands (`arg`), its value, constants
 * and other builtins by IR name. Data, not a function, so that the float64 reverse mode
 * (src/runtime/reference/grad.ts, through each entry's `derivative`, which evaluates it) and the
 * reverse-mode pass over the IR (src/compiler/grad/, which builds IR nodes from it) read one formula
 * and so agree on every convention (ties, kinks, NaN). A reduction's partial with respect to one term
 * reads that term (`term`), the reduction's value and sums over all the terms (`sumOverTerms`).
 *
 * Subgradient conventions (where the function is not differentiable):
 * - binary `max`/`min`: the gradient goes to the operand the result is (`x >= y` for max), ties to the
 *   first; a NaN operand is what the result is (NaN-propagating, like WGSL's min_nan/max_nan helpers),
 *   so the gradient goes to it (to the first when both are NaN);
 * - `relu` at 0 and `abs` at 0: 0; both give 0 at NaN as well (the value is NaN already);
 * - `select`: the taken branch gets the gradient, the other 0; the condition never gets any;
 * - comparisons: 0 (piecewise constant);
 * - the `max`/`min` reductions: the gradient is shared evenly by the terms equal to the result (as
 *   TensorFlow's reduce_max and PyTorch's amax do). Unlike "ties to the first" this does not depend
 *   on the order of the terms, which a parallel reduction does not have, and it is the right
 *   derivative where tied terms are the same function (a copied value); with a NaN term every
 *   partial is NaN (no term equals the NaN result: 0 / 0).
 */
export type DerivativeForm =
  | { arg: number }
  | { value: true }
  | { const: number }
  | { fn: string; args: readonly DerivativeForm[] }
  | { term: true }
  | { sumOverTerms: DerivativeForm };

const arg = (k: number): DerivativeForm => ({ arg: k });
const value: DerivativeForm = { value: true };
const term: DerivativeForm = { term: true };
const num = (c: number): DerivativeForm => ({ const: c });
const fn = (name: string, ...args: DerivativeForm[]): DerivativeForm => ({ fn: name, args });

/**
 * A derivative form in float64: operands and the value by position, booleans as 1 and 0 (a select's
 * condition is `!== 0`); `terms` for a reduction's partial with respect to `terms[term]`.
 */
export function evaluateDerivative(form: DerivativeForm, args: readonly number[], value: number, terms?: { all: readonly number[]; k: number }): number {
  const ev = (f: DerivativeForm): number => {
    if ('arg' in f) return args[f.arg]!;
    if ('value' in f) return value;
    if ('const' in f) return f.const;
    if ('term' in f) return terms!.all[terms!.k]!;
    if ('sumOverTerms' in f) return terms!.all.reduce((acc, _, k) => acc + evaluateDerivative(f.sumOverTerms, args, value, { all: terms!.all, k }), 0);
    const b = builtin(f.fn);
    const xs = f.args.map(ev);
    switch (b.kind) {
      case 'unary':
        return b.f64(xs[0]!);
      case 'binary':
        return b.f64(xs[0]!, xs[1]!);
      case 'comparison':
        return b.f64(xs[0]!, xs[1]!) ? 1 : 0;
      case 'select':
        return b.f64(xs[0] !== 0, xs[1]!, xs[2]!);
    }
  };
  return ev(form);
}

const unaryPartial = (d: DerivativeForm) => ({
  partials: [d] as const,
  derivative: (x: number, v: number) => evaluateDerivative(d, [x], v),
});
const binaryPartials = (dx: DerivativeForm, dy: DerivativeForm) => ({
  partials: [dx, dy] as const,
  derivative: (x: number, y: number, v: number): [number, number] => [evaluateDerivative(dx, [x, y], v), evaluateDerivative(dy, [x, y], v)],
});
/** 1 where the operand `k` is what a NaN-propagating min or max gives (`chosen`: x <= y or x >= y), else 0. */
const routed = (chosen: 'le' | 'ge', k: 0 | 1): DerivativeForm => {
  const x = arg(0);
  const toX = fn('select', fn('ne', x, x), num(1), fn('select', fn(chosen, x, arg(1)), num(1), num(0)));
  return k === 0 ? toX : fn('sub', num(1), toX);
};

export interface UnaryBuiltin extends Common {
  kind: 'unary';
  params: readonly ['f32'];
  result: 'f32';
  f64: (x: number) => number;
  /** d/dx as data. */
  partials: readonly [DerivativeForm];
  /** d/dx at x, given the value f64(x): `partials` evaluated. */
  derivative: (x: number, value: number) => number;
  f32: Float32Rule<[Bounded]>;
}

export interface BinaryBuiltin extends Common {
  kind: 'binary';
  params: readonly ['f32', 'f32'];
  result: 'f32';
  f64: (x: number, y: number) => number;
  /** [d/dx, d/dy] as data. */
  partials: readonly [DerivativeForm, DerivativeForm];
  /** [d/dx, d/dy] at (x, y), given the value f64(x, y): `partials` evaluated. Ties of min and max go to x. */
  derivative: (x: number, y: number, value: number) => [number, number];
  f32: Float32Rule<[Bounded, Bounded]>;
  /** The value e with f(e, x) = f(x, e) = x, when there is one (the identity of a reduction folding with it). */
  identity?: number;
}

export interface ComparisonBuiltin extends Common {
  kind: 'comparison';
  params: readonly ['f32', 'f32'];
  result: 'bool';
  /** IEEE: every comparison with NaN is false, except `!=`. */
  f64: (x: number, y: number) => boolean;
  /** Piecewise constant: zero almost everywhere (a condition passes no gradient). */
  partials: readonly [DerivativeForm, DerivativeForm];
  derivative: (x: number, y: number) => [number, number];
}

export interface SelectBuiltin extends Common {
  kind: 'select';
  params: readonly ['bool', 'f32', 'f32'];
  result: 'f32';
  f64: (condition: boolean, ifTrue: number, ifFalse: number) => number;
  /** [d/dcondition (always 0), d/difTrue, d/difFalse] as data: the taken branch gets the gradient. */
  partials: readonly [DerivativeForm, DerivativeForm, DerivativeForm];
  /** [d/dcondition (always 0), d/difTrue, d/difFalse]. */
  derivative: (condition: boolean, ifTrue: number, ifFalse: number) => [number, number, number];
}

export type ScalarBuiltin = UnaryBuiltin | BinaryBuiltin | ComparisonBuiltin | SelectBuiltin;

export interface Reduction {
  name: string;
  /** The binary builtin the reduction folds with, from its identity. */
  fold: string;
  /** The fold's identity: the value of a reduction over nothing. */
  identity: number;
  /** The float64 value over all the terms: the fold, left to right, from the identity. */
  f64: (terms: readonly number[]) => number;
  /** d/dterm as data (over `term`, the value and `sumOverTerms`). Ties of max and min share the gradient evenly. */
  partial: DerivativeForm;
  /** d/dterm_k for every k, given the value: `partial` evaluated. */
  derivative: (terms: readonly number[], value: number) => number[];
}

// Numerically safe float64 meanings (the reference interpreter's, now defined once).

/** 1 / (1 + exp(-x)) without overflow: exp only ever sees -|x|. */
function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/** log(1 + exp(x)) without overflow: x + log1p(exp(-x)) for positive x. */
const softplus = (x: number): number => (x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x)));

/** max(x, 0) that keeps NaN (Math.max would too; spelled out so -0 becomes +0). */
const relu = (x: number): number => (x > 0 ? x : x === x ? 0 : x);

/** log(exp(a) + exp(b)): the larger operand plus a correction in [0, log 2]; an infinite larger operand is the answer. */
function logaddexp(a: number, b: number): number {
  const m = Math.max(a, b);
  if (m === Infinity || m === -Infinity) return m;
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
}

const operand = (k: number): WgslArg => ({ operand: k });
const sameError = ({ e }: Bounded) => e;
const largerError = (a: Bounded, b: Bounded) => Math.max(a.e, b.e);

function comparison(name: string, op: '<' | '<=' | '>' | '>=' | '==' | '!=', js: '<' | '<=' | '>' | '>=' | '===' | '!==', f64: (x: number, y: number) => boolean): ComparisonBuiltin {
  return { kind: 'comparison', name, source: { infix: op }, params: ['f32', 'f32'], result: 'bool', js: { operator: js }, wgsl: { operator: op }, exact: true, f64, partials: [num(0), num(0)], derivative: () => [0, 0] };
}

const unaryEntries = {
  exp: {
    kind: 'unary', name: 'exp', source: { call: 'exp' }, params: ['f32'], result: 'f32', js: { call: 'exp' }, wgsl: { builtin: 'exp' }, exact: false,
    f64: Math.exp,
    ...unaryPartial(value),
    // exp(x + d) − exp(x) = exp(x) · expm1(d), at most exp(x) · expm1(e) for |d| ≤ e.
    f32: { ulps: 0.5, propagate: ({ v, e }) => (e === 0 ? 0 : Math.exp(v) * Math.expm1(e)) },
  },
  log: {
    kind: 'unary', name: 'log', source: { call: 'log' }, params: ['f32'], result: 'f32', js: { call: 'log' }, wgsl: { builtin: 'log' }, exact: false,
    f64: Math.log,
    ...unaryPartial(fn('div', num(1), arg(0))),
    // The worst case is x − e: log(x) − log(x − e) = −log1p(−e/x); unbounded when the interval reaches 0.
    f32: { ulps: 0.5, propagate: ({ v, e }) => (e === 0 ? 0 : e < v ? -Math.log1p(-e / v) : Infinity) },
  },
  sigmoid: {
    kind: 'unary', name: 'sigmoid', source: { call: 'sigmoid' }, params: ['f32'], result: 'f32', js: { call: 'sigmoid' }, wgsl: { helper: 'sigmoid' }, exact: false,
    f64: sigmoid,
    ...unaryPartial(fn('mul', value, fn('sub', num(1), value))),
    f32: { ulps: 0.5, propagate: ({ e }) => e / 4 }, // |sigmoid'| ≤ 1/4
  },
  tanh: {
    kind: 'unary', name: 'tanh', source: { call: 'tanh' }, params: ['f32'], result: 'f32', js: { call: 'tanh' }, wgsl: { helper: 'tanh' }, exact: false,
    f64: Math.tanh,
    ...unaryPartial(fn('sub', num(1), fn('mul', value, value))),
    f32: { ulps: 0.5, propagate: sameError }, // |tanh'| ≤ 1
  },
  softplus: {
    kind: 'unary', name: 'softplus', source: { call: 'softplus' }, params: ['f32'], result: 'f32', js: { call: 'softplus' }, wgsl: { helper: 'softplus' }, exact: false,
    f64: softplus,
    ...unaryPartial(fn('sigmoid', arg(0))),
    f32: { ulps: 0.5, propagate: sameError }, // softplus' = sigmoid ≤ 1
  },
  relu: {
    kind: 'unary', name: 'relu', source: { call: 'relu' }, params: ['f32'], result: 'f32', js: { call: 'relu' }, wgsl: { helper: 'max', args: [operand(0), { f32: 0 }] }, exact: true,
    f64: relu,
    ...unaryPartial(fn('select', fn('gt', arg(0), num(0)), num(1), num(0))), // 0 at the kink
    f32: { ulps: 0, propagate: sameError },
  },
  sqrt: {
    kind: 'unary', name: 'sqrt', source: { call: 'sqrt' }, params: ['f32'], result: 'f32', js: { call: 'sqrt' }, wgsl: { builtin: 'sqrt' }, exact: false,
    f64: Math.sqrt,
    ...unaryPartial(fn('div', num(0.5), value)),
    // sqrt(x) − sqrt(x − e) = e / (sqrt(x) + sqrt(x − e)), and never more than sqrt(e).
    f32: { ulps: 0.5, propagate: ({ v, e }) => (e === 0 ? 0 : Math.min(Math.sqrt(e), e / (Math.sqrt(Math.max(v, 0)) + Math.sqrt(Math.max(v - e, 0))))) },
  },
  abs: {
    kind: 'unary', name: 'abs', source: { call: 'abs' }, params: ['f32'], result: 'f32', js: { call: 'abs' }, wgsl: { builtin: 'abs' }, exact: true,
    f64: Math.abs,
    ...unaryPartial(fn('select', fn('gt', arg(0), num(0)), num(1), fn('select', fn('lt', arg(0), num(0)), num(-1), num(0)))), // sign, 0 at the kink
    f32: { ulps: 0, propagate: sameError },
  },
  neg: {
    kind: 'unary', name: 'neg', source: { prefix: '-' }, params: ['f32'], result: 'f32', js: { operator: '-' }, wgsl: { operator: '-' }, exact: true,
    f64: (x) => -x,
    ...unaryPartial(num(-1)),
    f32: { ulps: 0, propagate: sameError },
  },
} satisfies Record<string, UnaryBuiltin>;

const binaryEntries = {
  add: {
    kind: 'binary', name: 'add', source: { infix: '+' }, params: ['f32', 'f32'], result: 'f32', js: { operator: '+' }, wgsl: { operator: '+' }, exact: true, identity: 0,
    f64: (x, y) => x + y,
    ...binaryPartials(num(1), num(1)),
    f32: { ulps: 0.5, propagate: (a, b) => a.e + b.e },
  },
  sub: {
    kind: 'binary', name: 'sub', source: { infix: '-' }, params: ['f32', 'f32'], result: 'f32', js: { operator: '-' }, wgsl: { operator: '-' }, exact: true,
    f64: (x, y) => x - y,
    ...binaryPartials(num(1), num(-1)),
    f32: { ulps: 0.5, propagate: (a, b) => a.e + b.e },
  },
  mul: {
    kind: 'binary', name: 'mul', source: { infix: '*' }, params: ['f32', 'f32'], result: 'f32', js: { operator: '*' }, wgsl: { operator: '*' }, exact: true, identity: 1,
    f64: (x, y) => x * y,
    ...binaryPartials(arg(1), arg(0)),
    f32: { ulps: 0.5, propagate: (a, b) => scaled(a.e, Math.abs(b.v)) + scaled(b.e, Math.abs(a.v)) + scaled(a.e, b.e) },
  },
  div: {
    kind: 'binary', name: 'div', source: { infix: '/' }, params: ['f32', 'f32'], result: 'f32', js: { operator: '/' }, wgsl: { operator: '/' }, exact: true,
    f64: (x, y) => x / y,
    ...binaryPartials(fn('div', num(1), arg(1)), fn('neg', fn('div', arg(0), fn('mul', arg(1), arg(1))))),
    f32: {
      ulps: 0.5,
      propagate: (a, b) => {
        if (a.e === 0 && b.e === 0) return 0;
        const y = Math.abs(b.v);
        return b.e < y ? (Math.abs(a.v) * b.e + y * a.e) / (y * (y - b.e)) : Infinity;
      },
    },
  },
  min: {
    kind: 'binary', name: 'min', source: { call: 'min' }, params: ['f32', 'f32'], result: 'f32', js: { call: 'min' }, wgsl: { helper: 'min' }, exact: true, identity: Infinity,
    f64: Math.min,
    ...binaryPartials(routed('le', 0), routed('le', 1)),
    f32: { ulps: 0, propagate: largerError },
  },
  max: {
    kind: 'binary', name: 'max', source: { call: 'max' }, params: ['f32', 'f32'], result: 'f32', js: { call: 'max' }, wgsl: { helper: 'max' }, exact: true, identity: -Infinity,
    f64: Math.max,
    ...binaryPartials(routed('ge', 0), routed('ge', 1)),
    f32: { ulps: 0, propagate: largerError },
  },
  logaddexp: {
    kind: 'binary', name: 'logaddexp', source: { call: 'logaddexp' }, params: ['f32', 'f32'], result: 'f32', js: { call: 'logaddexp' }, wgsl: { helper: 'logaddexp' }, exact: false, identity: -Infinity,
    f64: logaddexp,
    ...binaryPartials(fn('sigmoid', fn('sub', arg(0), arg(1))), fn('sigmoid', fn('sub', arg(1), arg(0)))),
    // ∂/∂x + ∂/∂y = 1, both non-negative: the propagated error is at most the larger one.
    f32: { ulps: 0.5, propagate: largerError },
  },
} satisfies Record<string, BinaryBuiltin>;

const comparisonEntries = {
  lt: comparison('lt', '<', '<', (x, y) => x < y),
  le: comparison('le', '<=', '<=', (x, y) => x <= y),
  gt: comparison('gt', '>', '>', (x, y) => x > y),
  ge: comparison('ge', '>=', '>=', (x, y) => x >= y),
  eq: comparison('eq', '==', '===', (x, y) => x === y),
  ne: comparison('ne', '!=', '!==', (x, y) => x !== y),
} satisfies Record<string, ComparisonBuiltin>;

const selectEntry: SelectBuiltin = {
  kind: 'select', name: 'select', source: { call: 'select' }, params: ['bool', 'f32', 'f32'], result: 'f32', js: { conditional: true }, wgsl: { builtin: 'select', args: [operand(2), operand(1), operand(0)] }, exact: true,
  f64: (c, x, y) => (c ? x : y),
  partials: [num(0), fn('select', arg(0), num(1), num(0)), fn('select', arg(0), num(0), num(1))],
  derivative: (c) => [0, c ? 1 : 0, c ? 0 : 1],
};

/**
 * A reduction folding with the binary builtin `fold` from that builtin's identity, left to right: its
 * float64 meaning is that fold (so every consumer that folds agrees with it to the bit).
 */
function reductionOf(name: string, fold: keyof typeof binaryEntries, partial: DerivativeForm): Reduction {
  const f: BinaryBuiltin = binaryEntries[fold];
  if (f.identity === undefined) throw new Error(`reduction ${name}: \`${fold}\` has no identity to start from`);
  const identity = f.identity;
  return {
    name,
    fold,
    identity,
    f64: (terms) => terms.reduce((acc, x) => f.f64(acc, x), identity),
    partial,
    derivative: (terms, v) => terms.map((_, k) => evaluateDerivative(partial, [], v, { all: terms, k })),
  };
}

/** 1 for a term equal to the result, else 0; over the number of such terms: ties share the gradient evenly. */
const isResult = fn('select', fn('eq', term, value), num(1), num(0));
const sharedByTies = fn('div', isResult, { sumOverTerms: isResult });

const reductionEntries = {
  sum: reductionOf('sum', 'add', num(1)),
  max: reductionOf('max', 'max', sharedByTies),
  min: reductionOf('min', 'min', sharedByTies),
  // Pairwise logaddexp never overflows; the derivative is the softmax of the terms.
  logsumexp: reductionOf('logsumexp', 'logaddexp', fn('exp', fn('sub', term, value))),
};

// ---------------------------------------------------------------- lookups

/** Every scalar builtin, by IR name. */
export const scalarBuiltins: Readonly<Record<string, ScalarBuiltin>> = { ...unaryEntries, ...binaryEntries, ...comparisonEntries, select: selectEntry };
/** Every reduction, by name. */
export const reductions: Readonly<Record<string, Reduction>> = reductionEntries;

type Callable<T> = { [K in keyof T]: T[K] extends { source: { call: string } } ? K : never }[keyof T];

/** Unary functions a .rnn expression may call (`neg` is the prefix `-`). */
export type UnaryFn = Callable<typeof unaryEntries>;
/** Binary functions a .rnn expression may call (arithmetic is written with operators). */
export type BinaryFn = Callable<typeof binaryEntries>;
export type Reducer = keyof typeof reductionEntries;
export type ArithFn = Exclude<keyof typeof binaryEntries, BinaryFn>;
export type CompareFn = keyof typeof comparisonEntries;

const callable = <T extends Record<string, ScalarBuiltin>>(entries: T) => Object.values(entries).filter((b) => 'call' in b.source).map((b) => b.name) as Callable<T>[];
export const unaryFunctions: readonly UnaryFn[] = callable(unaryEntries);
export const binaryFunctions: readonly BinaryFn[] = callable(binaryEntries);
export const reducers = Object.keys(reductionEntries) as readonly Reducer[];

/** The scalar builtin with this IR name; an unknown name is a compiler bug, so it throws. */
export function builtin(name: string): ScalarBuiltin {
  const b = Object.hasOwn(scalarBuiltins, name) ? scalarBuiltins[name] : undefined;
  if (!b) throw new Error(`no builtin named \`${name}\` in the builtin table`);
  return b;
}

/** The reduction with this name; an unknown name is a compiler bug, so it throws. */
export function reduction(name: string): Reduction {
  const r = Object.hasOwn(reductions, name) ? reductions[name] : undefined;
  if (!r) throw new Error(`no reduction named \`${name}\` in the builtin table`);
  return r;
}

/** The binary builtin a reduction folds with. */
export const foldOf = (name: string): BinaryBuiltin => builtin(reduction(name).fold) as BinaryBuiltin;

/** How a WGSL emitter writes the scalar builtin `name` (see WgslForm). */
export const wgslFormOf = (name: string): WgslForm => builtin(name).wgsl;

/** The builtins the source calls by name, by that name (`select` included). */
export const callableBuiltins: Readonly<Record<string, ScalarBuiltin>> = Object.fromEntries(
  Object.values(scalarBuiltins).flatMap((b) => ('call' in b.source ? [[b.source.call, b]] : [])),
);

/** The names of the callable builtins, sorted: what an unknown function's diagnostic lists. */
export const callableNames: readonly string[] = Object.keys(callableBuiltins).sort();

/** The builtin an infix operator of the source denotes, e.g. `+` → add, `<` → lt. */
export const infixBuiltins: Readonly<Record<string, BinaryBuiltin | ComparisonBuiltin>> = Object.fromEntries(
  Object.values(scalarBuiltins).flatMap((b) => ('infix' in b.source && (b.kind === 'binary' || b.kind === 'comparison') ? [[b.source.infix, b]] : [])),
);

/** Number of arguments of each function a .rnn expression may call. */
export const functionArity: Readonly<Record<string, number>> = Object.fromEntries(Object.entries(callableBuiltins).map(([name, b]) => [name, b.params.length]));

export const isReducer = (name: string): name is Reducer => Object.hasOwn(reductions, name);

/** The functions generated reference code calls, by their JS form's name: each builtin's float64 meaning. */
export const jsFunctions: Readonly<Record<string, (...args: never[]) => number>> = Object.fromEntries(
  Object.values(scalarBuiltins).flatMap((b) => ('call' in b.js ? [[b.js.call, b.f64 as (...args: never[]) => number]] : [])),
);

// ---------------------------------------------------------------- names `structure` accepts

/** (⊕, ⊗) with their identities: sum_prod (+, ×), max_plus (max, +), max_min (max, min), log (logaddexp, +). */
export const semirings = ['sum_prod', 'max_plus', 'max_min', 'log'] as const;
export type Semiring = (typeof semirings)[number];

/**
 * What `structure [state:] kind[(rank)] [over semiring]` may declare; `sequential` asserts the state is
 * not a scan. A monoid is declared by the cell's `monoid` block itself (and `monoid` is a keyword).
 */
export const structureKinds = ['diagonal', 'dense', 'lowrank', 'sequential'] as const;
export type StructureKind = (typeof structureKinds)[number];
