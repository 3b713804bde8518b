// The two number domains of the law checker.
//
// Exact: rationals as BigInt fractions, extended with ±∞ (a semiring's 0 and 1 may be infinite).
// Every float64 constant is an exact binary fraction, so a combine built from +, −, ×, ÷, min, max,
// comparisons and `select` evaluates without any rounding at all. Functions like exp or log have no
// exact rational value; evaluating one throws `NotExact`, and the exact check reports itself
// inapplicable. Undefined forms (∞ − ∞, 0 × ∞, x ÷ 0) throw too.
//
// Float32: each operation rounds to float32 (`Math.fround`) and carries a running bound `e` on its
// distance from the exact value of the same expression on the same inputs (forward error analysis:
// each rounding adds at most u·|v| with u = 2⁻²⁴, plus 2⁻¹⁴⁹ for underflow; operands' errors
// propagate through each operation's derivative bound). Each builtin's value and error rule come from
// the builtin table (src/compiler/builtins.ts). Two expressions that are equal in exact
// arithmetic therefore differ by at most e₁ + e₂ in float32: a larger difference is a counterexample.
import type { BinaryBuiltin, Bounded, UnaryBuiltin } from '../builtins.js';
import type { Domain } from './evaluate.js';

export class NotExact extends Error {}

// ---------------------------------------------------------------- exact rationals

export type Rational = { n: bigint; d: bigint } | { inf: 1 | -1 };

const gcd = (a: bigint, b: bigint): bigint => {
  a = a < 0n ? -a : a;
  b = b < 0n ? -b : b;
  while (b) [a, b] = [b, a % b];
  return a;
};

export function rational(n: bigint, d = 1n): Rational {
  if (d === 0n) throw new NotExact('a division by zero occurred');
  if (d < 0n) [n, d] = [-n, -d];
  const g = gcd(n, d) || 1n;
  return { n: n / g, d: d / g };
}

/** The exact value of a float64: every finite double is m · 2^e. */
export function rationalOf(x: number): Rational {
  if (x === Infinity) return { inf: 1 };
  if (x === -Infinity) return { inf: -1 };
  if (Number.isNaN(x)) throw new NotExact('a NaN constant has no exact value');
  let d = 1n;
  while (!Number.isInteger(x)) {
    x *= 2;
    d *= 2n;
  }
  return rational(BigInt(x), d);
}

const sign = (a: Rational): number => ('inf' in a ? a.inf : a.n > 0n ? 1 : a.n < 0n ? -1 : 0);

function cmp(a: Rational, b: Rational): number {
  if ('inf' in a || 'inf' in b) {
    const [x, y] = ['inf' in a ? a.inf * 2 : 0, 'inf' in b ? b.inf * 2 : 0];
    if (x !== y) return x < y ? -1 : 1;
    if (x !== 0) return 0;
  }
  const [p, q] = [a as { n: bigint; d: bigint }, b as { n: bigint; d: bigint }];
  const diff = p.n * q.d - q.n * p.d;
  return diff < 0n ? -1 : diff > 0n ? 1 : 0;
}

export const rationalEquals = (a: Rational, b: Rational) => cmp(a, b) === 0;
export const rationalText = (a: Rational) => ('inf' in a ? (a.inf > 0 ? 'inf' : '-inf') : a.d === 1n ? String(a.n) : `${a.n}/${a.d}`);

function add(a: Rational, b: Rational): Rational {
  if ('inf' in a && 'inf' in b && a.inf !== b.inf) throw new NotExact('inf - inf occurred');
  if ('inf' in a) return a;
  if ('inf' in b) return b;
  return rational(a.n * b.d + b.n * a.d, a.d * b.d);
}
const neg = (a: Rational): Rational => ('inf' in a ? { inf: a.inf === 1 ? -1 : 1 } : { n: -a.n, d: a.d });
function mul(a: Rational, b: Rational): Rational {
  if ('inf' in a || 'inf' in b) {
    const s = sign(a) * sign(b);
    if (s === 0) throw new NotExact('0 * inf occurred');
    return { inf: s as 1 | -1 };
  }
  return rational(a.n * b.n, a.d * b.d);
}
function div(a: Rational, b: Rational): Rational {
  if ('inf' in b) {
    if ('inf' in a) throw new NotExact('inf / inf occurred');
    return rational(0n);
  }
  if (b.n === 0n) throw new NotExact('a division by zero occurred');
  if ('inf' in a) return { inf: (a.inf * sign(b)) as 1 | -1 };
  return rational(a.n * b.d, a.d * b.n);
}

/**
 * Exact meanings of the table's piecewise-rational builtins (those marked `exact`). A builtin absent
 * here has no exact rational value, and the exact check is inapplicable to a combine that uses it.
 */
const exactMeaning: Readonly<Record<string, (...args: Rational[]) => Rational>> = {
  neg,
  abs: (a) => (sign(a) < 0 ? neg(a) : a),
  relu: (a) => (sign(a) < 0 ? rational(0n) : a),
  add,
  sub: (a, b) => add(a, neg(b)),
  mul,
  div,
  min: (a, b) => (cmp(a, b) <= 0 ? a : b),
  max: (a, b) => (cmp(a, b) >= 0 ? a : b),
};

/** The builtins the exact domain evaluates; a test checks that these are the table's `exact` ones. */
export const exactBuiltins: readonly string[] = Object.keys(exactMeaning);

export const exactDomain: Domain<Rational> = {
  constant: rationalOf,
  apply(fn, args) {
    const meaning = Object.hasOwn(exactMeaning, fn.name) ? exactMeaning[fn.name] : undefined;
    if (!meaning) throw new NotExact(`the combine uses \`${fn.name}\`, which has no exact rational value`);
    return meaning(...args);
  },
  // a ⋚ b exactly when cmp(a, b) ⋚ 0: the table's float64 comparison decides on the sign.
  compare: (fn, a, b) => fn.f64(cmp(a, b), 0),
  either() {
    throw new Error('exact comparisons always decide');
  },
};

// ---------------------------------------------------------------- float32 with an error bound

export type { Bounded };

/** A unit in the last place of a float32 near 1: |v| · ULP bounds one ulp of any normal float32 v. */
const ULP = 2 ** -23;
/** Half an ulp: the relative error of one correctly rounded float32 operation. */
export const UNIT_ROUNDOFF = ULP / 2;
const TINY = 2 ** -149;
/** `ulps` ulps of v, plus 2⁻¹⁴⁹ for underflow (and 1.0001 for v's own float64 error, about 2⁻⁵³ relative). */
const rounding = (v: number, ulps: number) => (Number.isFinite(v) ? ulps * ULP * 1.0001 * Math.abs(v) + TINY : 0);

/** The table's float64 meaning of a numeric builtin on plain numbers. */
const f64Of = (fn: UnaryBuiltin | BinaryBuiltin, x: number[]): number => (fn.kind === 'unary' ? fn.f64(x[0]!) : fn.f64(x[0]!, x[1]!));

export const float32Domain: Domain<Bounded> = {
  constant: (x) => ({ v: Math.fround(x), e: Math.fround(x) === x ? 0 : rounding(x, 0.5) }),
  apply(fn, [a, b]) {
    const exact = fn.kind === 'unary' ? fn.f64(a!.v) : fn.f64(a!.v, b!.v);
    const v = Math.fround(exact);
    const propagated = fn.kind === 'unary' ? fn.f32.propagate(a!) : fn.f32.propagate(a!, b!);
    // No rounding: the result is an operand (min, max, relu) or its negation or absolute value.
    if (fn.f32.ulps === 0) return { v, e: propagated };
    // An infinity is exact only when it is the exact result of exact operands (a semiring's 0 or 1 in,
    // e.g. -inf + 1); one that float32 rounding made (exp(89)) or inexact operands may have made is not.
    if (!Number.isFinite(v)) return { v, e: v === exact && a!.e === 0 && (b === undefined || b.e === 0) ? 0 : Infinity };
    return { v, e: propagated + rounding(v, fn.f32.ulps) };
  },
  compare(fn, a, b) {
    const gap = Math.abs(a.v - b.v);
    // Within rounding error the exact comparison could go either way.
    if ((a.e || b.e) && !(gap > a.e + b.e)) return undefined;
    return fn.f64(a.v, b.v);
  },
  either(t, f) {
    const e = Math.max(t.e, f.e) + Math.abs(t.v - f.v);
    return { v: t.v, e: Number.isNaN(e) ? Infinity : e };
  },
};

// ---------------------------------------------------------------- plain float64

/** Float64 with no error tracking, the table's meanings: for folding a plan on the CPU (tests, debugging a scan kernel). */
export const float64Domain: Domain<number> = {
  constant: (x) => x,
  apply: f64Of,
  compare: (fn, x, y) => fn.f64(x, y),
  either: (t) => t,
};
