// The builtin table (src/compiler/builtins.ts) is the one definition of every builtin. These tests
// check that each entry is complete and consistent with itself (derivatives against finite
// differences, error bounds against float64), that special values follow IEEE/NumPy, and that the
// consumers that read it — the reference interpreter, the law checker's domains — agree with it.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  binaryFunctions,
  builtin,
  callableBuiltins,
  foldOf,
  functionArity,
  infixBuiltins,
  isReducer,
  jsFunctions,
  reducers,
  reduction,
  reductions,
  scalarBuiltins,
  unaryFunctions,
  wgslFormOf,
  type BinaryBuiltin,
  type ScalarBuiltin,
  type UnaryBuiltin,
} from '../../src/compiler/builtins.js';
import { exactBuiltins, exactDomain, float32Domain, float64Domain, NotExact, rationalOf, type Rational } from '../../src/compiler/analyse/domains.js';
import { helperName } from '../../backends/wgsl/math.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { moduleOf } from '../reference/helpers.js';

const scalar = Object.values(scalarBuiltins);
const numeric = scalar.filter((b): b is UnaryBuiltin | BinaryBuiltin => b.kind === 'unary' || b.kind === 'binary');
const arityOf = (b: ScalarBuiltin) => b.params.length;

/** The float64 meaning of any scalar builtin on numbers (a boolean operand is `!== 0`, a boolean result 1 or 0). */
function f64(b: ScalarBuiltin, args: number[]): number {
  switch (b.kind) {
    case 'unary':
      return b.f64(args[0]!);
    case 'binary':
      return b.f64(args[0]!, args[1]!);
    case 'comparison':
      return b.f64(args[0]!, args[1]!) ? 1 : 0;
    case 'select':
      return b.f64(args[0] !== 0, args[1]!, args[2]!);
  }
}

describe('every entry is complete', () => {
  it.each(scalar.map((b) => [b.name, b] as const))('%s', (name, b) => {
    expect(scalarBuiltins[name]).toBe(b);
    expect(b.f64.length).toBe(arityOf(b));
    expect(typeof b.derivative).toBe('function');
    const expected = { unary: [['f32'], 'f32'], binary: [['f32', 'f32'], 'f32'], comparison: [['f32', 'f32'], 'bool'], select: [['bool', 'f32', 'f32'], 'f32'] }[b.kind];
    expect([b.params, b.result]).toEqual(expected);
    // Source form.
    if ('prefix' in b.source) expect(arityOf(b)).toBe(1);
    if ('infix' in b.source) expect(arityOf(b)).toBe(2);
    if ('call' in b.source) expect(functionArity[b.source.call]).toBe(arityOf(b));
    // JS form: a called name is bound to the float64 meaning itself, and no generated name is shadowed.
    if ('call' in b.js) {
      expect(b.js.call).toMatch(/^[a-z][a-z0-9]*$/);
      expect(b.js.call).not.toMatch(/^(fr|arrays|offsets|[aonmsr]\d+)$/);
      expect(jsFunctions[b.js.call]).toBe(b.f64);
    }
    if ('operator' in b.js && arityOf(b) === 1) expect(b.js.operator).toBe('-');
    if ('conditional' in b.js) expect(b.kind).toBe('select');
    // WGSL form: a helper that backends/wgsl/math.ts defines; a call that uses every operand once.
    const w = wgslFormOf(name);
    if ('helper' in w) expect(Object.keys(helperName)).toContain(w.helper);
    if ('operator' in w && arityOf(b) === 1) expect(w.operator).toBe('-');
    if ('builtin' in w && w.args) {
      const operands = w.args.flatMap((a) => ('operand' in a ? [a.operand] : []));
      expect([...operands].sort()).toEqual(Array.from({ length: arityOf(b) }, (_, k) => k));
    }
    // Float32 rule: exact operands propagate no error.
    if (b.kind === 'unary') expect(b.f32.propagate({ v: 1.5, e: 0 })).toBe(0);
    if (b.kind === 'binary') expect(b.f32.propagate({ v: 1.5, e: 0 }, { v: -2.5, e: 0 })).toBe(0);
    // The exact domain evaluates exactly the builtins the table marks exact (comparisons and select by their own methods).
    if (b.kind === 'unary' || b.kind === 'binary') expect(exactBuiltins.includes(name)).toBe(b.exact);
    else expect(b.exact).toBe(true);
  });

  it.each(reducers.map((r) => [r, reduction(r)] as const))('reduction %s folds with a binary builtin from its identity', (name, r) => {
    const fold = foldOf(name);
    expect(fold.kind).toBe('binary');
    expect(r.identity).toBe(fold.identity);
    expect(r.f64([])).toBe(r.identity);
    for (const x of [0, -3.5, 7, Infinity, -Infinity]) {
      expect(fold.f64(r.identity, x)).toBe(x);
      expect(fold.f64(x, r.identity)).toBe(x);
    }
    expect(typeof r.derivative).toBe('function');
  });

  it('the names the front end knows are derived from the table', () => {
    expect(unaryFunctions).toEqual(['exp', 'log', 'sigmoid', 'tanh', 'softplus', 'relu', 'sqrt', 'abs']);
    expect(binaryFunctions).toEqual(['min', 'max', 'logaddexp']);
    expect(reducers).toEqual(['sum', 'max', 'min', 'logsumexp']);
    expect(Object.keys(functionArity)).toEqual([...unaryFunctions, ...binaryFunctions, 'select']);
    expect(Object.keys(callableBuiltins)).toEqual(Object.keys(functionArity));
    expect(Object.fromEntries(Object.entries(infixBuiltins).map(([op, b]) => [op, b.name]))).toEqual({ '+': 'add', '-': 'sub', '*': 'mul', '/': 'div', '<': 'lt', '<=': 'le', '>': 'gt', '>=': 'ge', '==': 'eq', '!=': 'ne' });
    expect(isReducer('logsumexp') && !isReducer('logaddexp') && !isReducer('toString')).toBe(true);
  });

  it('an unknown name is an error, never undefined', () => {
    expect(() => builtin('frobnicate')).toThrow(/no builtin named `frobnicate`/);
    expect(() => builtin('toString')).toThrow(/no builtin/);
    expect(() => reduction('prod')).toThrow(/no reduction named `prod`/);
    expect(() => wgslFormOf('frobnicate')).toThrow(/no builtin/);
  });
});

describe('special values follow IEEE 754 and NumPy', () => {
  const inf = Infinity;
  // [builtin, operands, what NumPy gives (np.exp, np.log, np.logaddexp, np.maximum, ...)]
  const cases: [string, number[], number][] = [
    ['exp', [-inf], 0], ['exp', [inf], inf], ['exp', [NaN], NaN], ['exp', [1000], inf],
    ['log', [0], -inf], ['log', [-0], -inf], ['log', [-1], NaN], ['log', [inf], inf],
    ['sigmoid', [inf], 1], ['sigmoid', [-inf], 0], ['sigmoid', [NaN], NaN], ['sigmoid', [-1000], 0], ['sigmoid', [0], 0.5],
    ['tanh', [inf], 1], ['tanh', [-inf], -1], ['tanh', [NaN], NaN], ['tanh', [-0], -0],
    ['softplus', [inf], inf], ['softplus', [-inf], 0], ['softplus', [NaN], NaN], ['softplus', [1000], 1000], ['softplus', [0], Math.LN2],
    ['relu', [NaN], NaN], ['relu', [-inf], 0], ['relu', [inf], inf], ['relu', [-0], 0], ['relu', [-2], 0],
    ['sqrt', [-1], NaN], ['sqrt', [inf], inf], ['sqrt', [-0], -0],
    ['abs', [-inf], inf], ['abs', [NaN], NaN], ['abs', [-0], 0],
    ['neg', [inf], -inf], ['neg', [0], -0], ['neg', [NaN], NaN],
    ['logaddexp', [inf, inf], inf], ['logaddexp', [-inf, -inf], -inf], ['logaddexp', [inf, -inf], inf], ['logaddexp', [-inf, inf], inf],
    ['logaddexp', [NaN, 0], NaN], ['logaddexp', [0, NaN], NaN], ['logaddexp', [NaN, -inf], NaN], ['logaddexp', [inf, NaN], NaN],
    ['logaddexp', [0, 0], Math.LN2], ['logaddexp', [1000, 1000], 1000 + Math.LN2], ['logaddexp', [-inf, 3], 3],
    ['min', [NaN, 1], NaN], ['min', [1, NaN], NaN], ['min', [-inf, 1], -inf], ['max', [NaN, 1], NaN], ['max', [1, NaN], NaN], ['max', [inf, 1], inf],
    ['add', [inf, -inf], NaN], ['sub', [inf, inf], NaN], ['mul', [0, inf], NaN], ['div', [1, 0], inf], ['div', [1, -0], -inf], ['div', [0, 0], NaN],
    ['lt', [NaN, 1], 0], ['ge', [NaN, NaN], 0], ['eq', [NaN, NaN], 0], ['ne', [NaN, NaN], 1], ['le', [-inf, -inf], 1], ['eq', [0, -0], 1],
  ];
  it.each(cases)('%s(%s) = %s', (name, args, expected) => {
    expect(f64(builtin(name), args)).toEqual(expected);
  });

  const reductionCases: [string, number[], number][] = [
    ['logsumexp', [inf, inf], inf], ['logsumexp', [-inf, -inf], -inf], ['logsumexp', [inf, -inf], inf], ['logsumexp', [NaN, 0], NaN], ['logsumexp', [inf, NaN], NaN],
    ['logsumexp', [1000, 1000], 1000 + Math.LN2], ['logsumexp', [-inf, 0, -inf], 0],
    ['sum', [inf, -inf], NaN], ['max', [NaN, 1], NaN], ['max', [1, NaN], NaN], ['min', [-inf, NaN], NaN], ['max', [-inf, -inf], -inf],
  ];
  it.each(reductionCases)('%s(%s) = %s', (name, terms, expected) => {
    expect(reduction(name).f64(terms)).toEqual(expected);
  });
});

describe('derivatives agree with central finite differences in float64', () => {
  /** Where each builtin is smooth: log and sqrt on positives, div away from y = 0, kinks and ties avoided. */
  const smooth = (name: string, args: number[]): boolean => {
    const [x, y] = args as [number, number];
    if (name === 'log' || name === 'sqrt') return x > 0.05;
    if (name === 'relu' || name === 'abs') return Math.abs(x) > 1e-3;
    if (name === 'div') return Math.abs(y) > 0.1;
    if (name === 'min' || name === 'max' || builtin(name).kind === 'comparison') return Math.abs(x - y) > 1e-3;
    return true;
  };
  const partials = (b: ScalarBuiltin, args: number[]): number[] => {
    const value = f64(b, args);
    switch (b.kind) {
      case 'unary':
        return [b.derivative(args[0]!, value)];
      case 'binary':
        return b.derivative(args[0]!, args[1]!, value);
      case 'comparison':
        return b.derivative(args[0]!, args[1]!);
      case 'select':
        return b.derivative(args[0] !== 0, args[1]!, args[2]!);
    }
  };
  const central = (f: (x: number) => number, x: number): number => {
    const h = 1e-6 * Math.max(1, Math.abs(x));
    return (f(x + h) - f(x - h)) / (2 * h);
  };

  it.each(scalar.map((b) => [b.name, b] as const))('%s', (name, b) => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -6, max: 6, noNaN: true }), { minLength: 3, maxLength: 3 }), (raw) => {
        // A select's condition is 0 or 1; everything else is a number in [-6, 6].
        const args = b.kind === 'select' ? [raw[0]! > 0 ? 1 : 0, raw[1]!, raw[2]!] : raw.slice(0, arityOf(b));
        fc.pre(smooth(name, args));
        const d = partials(b, args);
        expect(d).toHaveLength(arityOf(b));
        d.forEach((dk, k) => {
          if (b.params[k] === 'bool') {
            expect(dk).toBe(0);
            return;
          }
          const fd = central((t) => f64(b, args.map((a, j) => (j === k ? t : a))), args[k]!);
          expect(Math.abs(dk - fd)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(dk)));
        });
      }),
      { seed: 0xd1ff, numRuns: 300 },
    );
  });

  it.each(reducers.map((r) => [r, reduction(r)] as const))('reduction %s', (_name, r) => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: -6, max: 6, noNaN: true }), { minLength: 1, maxLength: 5 }), (terms) => {
        // max and min: no tie for the extremum.
        const sorted = [...terms].sort((a, b) => a - b);
        fc.pre(sorted.every((x, k) => k === 0 || x - sorted[k - 1]! > 1e-3));
        const d = r.derivative(terms, r.f64(terms));
        expect(d).toHaveLength(terms.length);
        d.forEach((dk, k) => {
          const fd = central((t) => r.f64(terms.map((a, j) => (j === k ? t : a))), terms[k]!);
          expect(Math.abs(dk - fd)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(dk)));
        });
      }),
      { seed: 0xd1ff, numRuns: 200 },
    );
  });
});

describe('the law checker domains agree with float64', () => {
  const f32 = (min: number, max: number) => fc.double({ min, max, noNaN: true }).map(Math.fround);
  /** Operand ranges that exercise each builtin (log and sqrt cross 0; exp up to overflow). */
  const range: Record<string, [number, number]> = { exp: [-100, 100], log: [-1, 50], sqrt: [-1, 50], div: [-10, 10] };

  it.each(numeric.map((b) => [b.name, b] as const))('float32: %s stays within its error bound', (name, b) => {
    const [lo, hi] = range[name] ?? [-30, 30];
    // Relative errors and offsets are powers of two and eighths, so that the float64 operand x + t·e is exact.
    // The ends of the interval (t = ±1) are where a bound is tight: half of the draws.
    const offset = fc.oneof(fc.constantFrom(-1, 1), fc.integer({ min: -8, max: 8 }).map((k) => k / 8));
    const operand = fc.record({ v: f32(lo, hi), relative: fc.constantFrom(0, 2 ** -23, 2 ** -13, 2 ** -7), t: offset });
    type Operand = { v: number; relative: number; t: number };
    const check = (ops: Operand[]) => {
      const args = ops.map((o) => ({ v: o.v, e: o.relative * Math.abs(o.v) }));
      // The exact value of some operands within their bounds: the result's bound must cover its distance.
      const exactOperands = ops.map((o, k) => (args[k]!.e === 0 ? o.v : o.v + o.t * args[k]!.e));
      const exact = f64(b, exactOperands);
      const r = float32Domain.apply(b, args);
      expect(Math.fround(r.v)).toBe(r.v);
      if (args.every((a) => a.e === 0)) expect(r.v).toEqual(Math.fround(exact));
      if (r.e === Infinity || Number.isNaN(exact)) return;
      if (Number.isFinite(r.v)) expect(Math.abs(r.v - exact), JSON.stringify({ ops, r, exact })).toBeLessThanOrEqual(r.e);
      else expect(r.v).toBe(exact);
    };
    fc.assert(fc.property(fc.array(operand, { minLength: arityOf(b), maxLength: arityOf(b) }), check), { seed: 0xf32, numRuns: 2000 });
    // Every corner of a grid: operands at either end of their intervals, where the bounds are tight.
    const grid = [lo, lo / 2, -1.5, -0.25, 0, 0.375, 1, 2.5, hi / 3, hi].map(Math.fround);
    for (const relative of [2 ** -7, 2 ** -20]) {
      const corners = grid.flatMap((v) => [-1, 1].map((t) => ({ v, relative, t })));
      if (arityOf(b) === 1) corners.forEach((o) => check([o]));
      else corners.forEach((o) => corners.forEach((p) => check([o, p])));
    }
  });

  const rationalNumber = (r: Rational) => ('inf' in r ? r.inf * Infinity : Number(r.n) / Number(r.d));
  // Small dyadic numbers (exact in float64), ties and zeros among them, and the infinities of the semirings.
  const dyadic = fc.oneof(fc.integer({ min: -64, max: 64 }).chain((n) => fc.constantFrom(n, n / 4, n / 1024)), fc.constantFrom(0, -0, Infinity, -Infinity));

  it.each(numeric.map((b) => [b.name, b] as const))('exact: %s equals float64, or is inapplicable where it has no exact value', (_name, b) => {
    fc.assert(
      fc.property(fc.array(dyadic, { minLength: 2, maxLength: 2 }), (raw) => {
        const x = raw.slice(0, arityOf(b));
        const expected = f64(b, x);
        let value: Rational;
        try {
          value = exactDomain.apply(b, x.map(rationalOf));
        } catch (e) {
          expect(e).toBeInstanceOf(NotExact);
          // Only what has no exact rational value: a transcendental builtin, an undefined form (∞ − ∞, 0 × ∞), a division by zero.
          if (b.exact) expect(Number.isNaN(expected) || (b.name === 'div' && x[1] === 0)).toBe(true);
          return;
        }
        expect(b.exact).toBe(true);
        const v = rationalNumber(value);
        if (Number.isFinite(expected)) expect(Math.abs(v - expected)).toBeLessThanOrEqual(2 ** -52 * Math.abs(expected));
        else expect(v).toBe(expected);
      }),
      { seed: 0xe4ac7, numRuns: 500 },
    );
  });

  it.each(scalar.filter((b) => b.kind === 'comparison').map((b) => [b.name, b] as const))('comparison %s decides like float64 in every domain', (_name, b) => {
    fc.assert(
      fc.property(dyadic, dyadic, (x, y) => {
        if (b.kind !== 'comparison') throw new Error('not a comparison');
        const expected = b.f64(x, y);
        expect(exactDomain.compare(b, rationalOf(x), rationalOf(y))).toBe(expected);
        expect(float32Domain.compare(b, { v: x, e: 0 }, { v: y, e: 0 })).toBe(expected);
        expect(float64Domain.compare(b, x, y)).toBe(expected);
      }),
      { seed: 0xc0, numRuns: 300 },
    );
  });

  it('float64 domain is the table', () => {
    for (const b of numeric) for (const x of [-2.5, 0, 3, Infinity]) expect(float64Domain.apply(b, [x, 0.75])).toEqual(f64(b, [x, 0.75]));
  });
});

describe('every entry through the reference interpreter', () => {
  const specials = [0, -0, 1, -1, 0.5, 2, -3.25, 20, -20, 100, 1000, -1000, 1e-30, Infinity, -Infinity, NaN];
  const pairs = specials.flatMap((x) => specials.map((y) => [x, y] as const));
  const N = pairs.length;
  const x = Float64Array.from(pairs.map((p) => p[0]));
  const y = Float64Array.from(pairs.map((p) => p[1]));
  const c = Float64Array.from(pairs.map((_, k) => (k % 3 === 0 ? 1 : -1)));

  /** `expr` written the way the source writes builtin b on operands x[i], y[i] (a boolean one: c[i] > 0). */
  function expression(b: ScalarBuiltin): string {
    const operands = ['x[i]', 'y[i]'];
    const args = b.params.map((t) => (t === 'bool' ? 'c[i] > 0' : operands.shift()!));
    const applied = 'call' in b.source ? `${b.source.call}(${args.join(', ')})` : 'infix' in b.source ? `${args[0]} ${b.source.infix} ${args[1]}` : `${b.source.prefix}${args[0]}`;
    return b.result === 'bool' ? `select(${applied}, 1, 0)` : applied;
  }
  const cell = (output: string, n: number) => `
rnn probe {
  dims N = ${n}
  input x[N], y[N], c[N]
  state h = 0
  h <- h + 1
  ${output}
}`;
  const uses = (m: Module, fn: string, op: string) => m.step.some((d) => d.nodes.some((n) => n.op === op && (op === 'select' || ('fn' in n && n.fn === fn))));

  it.each(scalar.map((b) => [b.name, b] as const))('%s', (name, b) => {
    const m = moduleOf(cell(`output o[i] = ${expression(b)}`, N));
    expect(uses(m, name, b.kind === 'select' ? 'select' : b.kind === 'unary' ? 'unary' : 'binary')).toBe(true);
    const operands = (k: number, round: (v: number) => number) => b.params.map((t, j) => (t === 'bool' ? (c[k]! > 0 ? 1 : 0) : round((j === 0 || b.kind === 'select' && j === 1 ? x : y)[k]!)));
    const shape = { batch: 1, T: 1, sizes: { N } };
    const data = { inputs: { x, y, c }, params: {} };
    const out64 = interpret(m, shape, data).outputs.o!;
    expect(Array.from(out64)).toEqual(pairs.map((_, k) => f64(b, operands(k, (v) => v))));
    // In float32 the operands and the result are rounded.
    const out32 = interpret(m, shape, data, { precision: 'f32' }).outputs.o!;
    expect(Array.from(out32)).toEqual(pairs.map((_, k) => Math.fround(f64(b, operands(k, Math.fround)))));
  });

  const vectors = [
    [1, 2, 3, 4], [-1000, 1000, 0.5, -0], [Infinity, Infinity, 0, 1], [-Infinity, -Infinity, -Infinity, -Infinity],
    [Infinity, -Infinity, 2, 2], [NaN, 0, 1, 2], [0, 1, 2, NaN], [1e-30, -1e-30, 20, -20], [Infinity, NaN, -Infinity, 0],
  ];
  it.each(reducers.map((r) => [r, reduction(r)] as const))('reduction %s', (name, r) => {
    const m = moduleOf(cell(`output o = ${name}(i: x[i])`, 4));
    expect(m.step.some((d) => d.nodes.some((n) => n.op === 'reduce' && n.fn === name))).toBe(true);
    const shape = { batch: vectors.length, T: 1, sizes: { N: 4 } };
    const zeros = new Float64Array(vectors.length * 4);
    const data = { inputs: { x: Float64Array.from(vectors.flat()), y: zeros, c: zeros }, params: {} };
    expect(Array.from(interpret(m, shape, data).outputs.o!)).toEqual(vectors.map((v) => r.f64(v)));
    // In float32 every term and every step of the fold is rounded.
    const fold = foldOf(name);
    const folded32 = (v: number[]) => v.reduce((acc, t) => Math.fround(fold.f64(acc, Math.fround(t))), r.identity);
    expect(Array.from(interpret(m, shape, data, { precision: 'f32' }).outputs.o!)).toEqual(vectors.map(folded32));
  });
});
