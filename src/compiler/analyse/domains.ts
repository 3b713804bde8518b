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
// propagate through each operation's derivative bound). Two expressions that are equal in exact
// arithmetic therefore differ by at most e₁ + e₂ in float32: a larger difference is a counterexample.
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

export const exactDomain: Domain<Rational> = {
  constant: rationalOf,
  unary(fn, a) {
    if (fn === 'neg') return neg(a);
    if (fn === 'abs') return sign(a) < 0 ? neg(a) : a;
    if (fn === 'relu') return sign(a) < 0 ? rational(0n) : a;
    throw new NotExact(`the combine uses \`${fn}\`, which has no exact rational value`);
  },
  binary(fn, a, b) {
    switch (fn) {
      case 'add':
        return add(a, b);
      case 'sub':
        return add(a, neg(b));
      case 'mul':
        return mul(a, b);
      case 'div':
        return div(a, b);
      case 'min':
        return cmp(a, b) <= 0 ? a : b;
      case 'max':
        return cmp(a, b) >= 0 ? a : b;
      default:
        throw new NotExact(`the combine uses \`${fn}\`, which has no exact rational value`);
    }
  },
  compare(fn, a, b) {
    const c = cmp(a, b);
    return { lt: c < 0, le: c <= 0, gt: c > 0, ge: c >= 0, eq: c === 0, ne: c !== 0 }[fn];
  },
  either() {
    throw new Error('exact comparisons always decide');
  },
};

// ---------------------------------------------------------------- float32 with an error bound

export interface Bounded {
  /** The float32 value. */
  v: number;
  /** A bound on |v − exact value of the same expression on the same inputs|; Infinity when nothing is known. */
  e: number;
}

export const UNIT_ROUNDOFF = 2 ** -24;
const TINY = 2 ** -149;
/** One float32 rounding of a value computed in float64 (whose own error, about 2⁻⁵³ relative, is covered by the slack). */
const rounding = (v: number) => (Number.isFinite(v) ? UNIT_ROUNDOFF * 1.0001 * Math.abs(v) + TINY : 0);

function bounded(exact: number, propagated: number, operandErrors: number[]): Bounded {
  const v = Math.fround(exact);
  // Infinite operands are exact (a semiring's 0 or 1); an infinite result from finite ones is an overflow.
  if (!Number.isFinite(v)) return { v, e: operandErrors.every((e) => e === 0) ? 0 : Infinity };
  return { v, e: propagated + rounding(v) };
}

/** e · m, where an exact operand (e = 0) contributes nothing even when m is infinite. */
const scaled = (e: number, m: number) => (e === 0 ? 0 : e * m);

const sigmoid = (x: number) => (x >= 0 ? 1 / (1 + Math.exp(-x)) : Math.exp(x) / (1 + Math.exp(x)));
const softplus = (x: number) => Math.max(x, 0) + Math.log1p(Math.exp(-Math.abs(x)));
const logaddexp = (a: number, b: number) => {
  if (a === -Infinity) return b;
  if (b === -Infinity) return a;
  const m = Math.max(a, b);
  return m + Math.log1p(Math.exp(-Math.abs(a - b)));
};

export const float32Domain: Domain<Bounded> = {
  constant: (x) => ({ v: Math.fround(x), e: Math.fround(x) === x ? 0 : rounding(x) }),
  unary(fn, a) {
    const { v: x, e } = a;
    switch (fn) {
      case 'neg':
        return { v: -x, e };
      case 'abs':
        return { v: Math.abs(x), e };
      case 'relu':
        return { v: Math.max(x, 0), e };
      case 'exp':
        return bounded(Math.exp(x), Math.exp(x) * Math.expm1(e), [e]);
      case 'log':
        return bounded(Math.log(x), e < x ? -Math.log1p(-e / x) : Infinity, [e]);
      case 'sqrt':
        return bounded(Math.sqrt(x), Math.min(Math.sqrt(e), e / (Math.sqrt(Math.max(x, 0)) + Math.sqrt(Math.max(x - e, 0)))), [e]);
      case 'sigmoid':
        return bounded(sigmoid(x), e / 4, [e]);
      case 'tanh':
        return bounded(Math.tanh(x), e, [e]);
      case 'softplus':
        return bounded(softplus(x), e, [e]);
      default:
        throw new Error(`float32 domain: unknown function ${fn}`);
    }
  },
  binary(fn, a, b) {
    const [x, y, ex, ey] = [a.v, b.v, a.e, b.e];
    switch (fn) {
      case 'add':
        return bounded(x + y, ex + ey, [ex, ey]);
      case 'sub':
        return bounded(x - y, ex + ey, [ex, ey]);
      case 'mul':
        return bounded(x * y, scaled(ex, Math.abs(y)) + scaled(ey, Math.abs(x)) + scaled(ex, ey), [ex, ey]);
      case 'div':
        return bounded(x / y, ey < Math.abs(y) ? (Math.abs(x) * ey + Math.abs(y) * ex) / (Math.abs(y) * (Math.abs(y) - ey)) : Infinity, [ex, ey]);
      case 'min':
        return { v: Math.min(x, y), e: Math.max(ex, ey) };
      case 'max':
        return { v: Math.max(x, y), e: Math.max(ex, ey) };
      case 'logaddexp':
        // ∂/∂x + ∂/∂y = 1, both non-negative: the propagated error is at most the larger one.
        return bounded(logaddexp(x, y), Math.max(ex, ey), [ex, ey]);
      default:
        throw new Error(`float32 domain: unknown operation ${fn}`);
    }
  },
  compare(fn, a, b) {
    const gap = Math.abs(a.v - b.v);
    // Within rounding error the exact comparison could go either way.
    if ((a.e || b.e) && !(gap > a.e + b.e)) return undefined;
    const [x, y] = [a.v, b.v];
    return { lt: x < y, le: x <= y, gt: x > y, ge: x >= y, eq: x === y, ne: x !== y }[fn];
  },
  either(t, f) {
    const e = Math.max(t.e, f.e) + Math.abs(t.v - f.v);
    return { v: t.v, e: Number.isNaN(e) ? Infinity : e };
  },
};

// ---------------------------------------------------------------- plain float64

/** Float64 with no error tracking: for folding a plan on the CPU (tests, debugging a scan kernel). */
export const float64Domain: Domain<number> = {
  constant: (x) => x,
  unary(fn, x) {
    switch (fn) {
      case 'neg':
        return -x;
      case 'abs':
        return Math.abs(x);
      case 'relu':
        return Math.max(x, 0);
      case 'exp':
        return Math.exp(x);
      case 'log':
        return Math.log(x);
      case 'sqrt':
        return Math.sqrt(x);
      case 'sigmoid':
        return sigmoid(x);
      case 'tanh':
        return Math.tanh(x);
      case 'softplus':
        return softplus(x);
      default:
        throw new Error(`float64 domain: unknown function ${fn}`);
    }
  },
  binary(fn, x, y) {
    switch (fn) {
      case 'add':
        return x + y;
      case 'sub':
        return x - y;
      case 'mul':
        return x * y;
      case 'div':
        return x / y;
      case 'min':
        return Math.min(x, y);
      case 'max':
        return Math.max(x, y);
      case 'logaddexp':
        return logaddexp(x, y);
      default:
        throw new Error(`float64 domain: unknown operation ${fn}`);
    }
  },
  compare: (fn, x, y) => ({ lt: x < y, le: x <= y, gt: x > y, ge: x >= y, eq: x === y, ne: x !== y })[fn],
  either: (t) => t,
};
