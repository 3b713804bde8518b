// The builtin table's derivatives (src/compiler/builtins.ts), as the reverse modes read them: each
// form is well formed, its float64 value agrees with central differences at random points away from
// kinks, and the subgradient conventions hold where the function is not differentiable.
import { describe, expect, it } from 'vitest';
import { builtin, reduction, reducers, scalarBuiltins, type DerivativeForm, type ScalarBuiltin } from '../../src/compiler/builtins.js';
import { streamFor } from '../../src/driver/data.js';

const scalar = Object.values(scalarBuiltins);

/** The float64 meaning on numbers (a boolean operand is `!== 0`, a boolean result 1 or 0). */
function f64(b: ScalarBuiltin, args: number[]): number {
  if (b.kind === 'unary') return b.f64(args[0]!);
  if (b.kind === 'binary') return b.f64(args[0]!, args[1]!);
  if (b.kind === 'comparison') return b.f64(args[0]!, args[1]!) ? 1 : 0;
  return b.f64(args[0] !== 0, args[1]!, args[2]!);
}
function partials(b: ScalarBuiltin, args: number[]): number[] {
  const v = f64(b, args);
  if (b.kind === 'unary') return [b.derivative(args[0]!, v)];
  if (b.kind === 'binary') return b.derivative(args[0]!, args[1]!, v);
  if (b.kind === 'comparison') return b.derivative(args[0]!, args[1]!);
  return b.derivative(args[0] !== 0, args[1]!, args[2]!);
}

describe('forms', () => {
  const check = (f: DerivativeForm, arity: number, inReduction: boolean): void => {
    if ('arg' in f) expect(f.arg).toBeLessThan(arity);
    else if ('term' in f || 'sumOverTerms' in f) {
      expect(inReduction).toBe(true);
      if ('sumOverTerms' in f) check(f.sumOverTerms, arity, true);
    } else if ('fn' in f) {
      expect(builtin(f.fn).params.length).toBe(f.args.length);
      f.args.forEach((a) => check(a, arity, inReduction));
    }
  };
  it.each(scalar.map((b) => [b.name, b] as const))('%s: one partial per operand, over its operands and value', (_n, b) => {
    expect(b.partials).toHaveLength(b.params.length);
    b.partials.forEach((f) => check(f, b.params.length, false));
    // A condition never gets a gradient.
    b.params.forEach((p, k) => p === 'bool' && expect(b.partials[k]).toEqual({ const: 0 }));
  });
  it.each(reducers.map((r) => [r] as const))('reduction %s: a partial over the term, the value and sums over the terms', (r) => check(reduction(r).partial, 0, true));
});

describe('central differences at random points', () => {
  const smooth = (name: string, [x, y]: number[]): boolean => {
    if (name === 'log' || name === 'sqrt') return x! > 0.05;
    if (name === 'relu' || name === 'abs') return Math.abs(x!) > 1e-3;
    if (name === 'div') return Math.abs(y!) > 0.1;
    return !['min', 'max'].includes(name) || Math.abs(x! - y!) > 1e-3;
  };
  it.each(scalar.filter((b) => b.kind !== 'comparison').map((b) => [b.name, b] as const))('%s', (name, b) => {
    const next = streamFor(14, name);
    const draw = () => -4 + 8 * ((next() >>> 8) / 0x1000000);
    for (let run = 0; run < 200; run++) {
      const args = b.kind === 'select' ? [next() % 2, draw(), draw()] : b.params.map(draw);
      if (!smooth(name, args)) continue;
      partials(b, args).forEach((d, k) => {
        if (b.params[k] === 'bool') return;
        const h = 1e-6 * Math.max(1, Math.abs(args[k]!));
        const at = (t: number) => f64(b, args.map((a, j) => (j === k ? a + t : a)));
        const fd = (at(h) - at(-h)) / (2 * h);
        expect(Math.abs(d - fd), `${name}(${args}) ∂${k}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(d)));
      });
    }
  });
  it.each(reducers.map((r) => [r] as const))('reduction %s', (name) => {
    const r = reduction(name);
    const next = streamFor(15, name);
    for (let run = 0; run < 100; run++) {
      const terms = Array.from({ length: 1 + (next() % 5) }, () => -4 + 8 * ((next() >>> 8) / 0x1000000));
      const d = r.derivative(terms, r.f64(terms));
      d.forEach((dk, k) => {
        const at = (t: number) => r.f64(terms.map((a, j) => (j === k ? a + t : a)));
        const fd = (at(1e-6) - at(-1e-6)) / 2e-6;
        expect(Math.abs(dk - fd)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(dk)));
      });
    }
  });
});

describe('subgradient conventions', () => {
  const d = (name: string, ...args: number[]) => partials(builtin(name), args);
  it('max and min: to the operand the result is, ties to the first', () => {
    expect(d('max', 1, 1)).toEqual([1, 0]);
    expect(d('max', 1, 2)).toEqual([0, 1]);
    expect(d('min', 1, 1)).toEqual([1, 0]);
    expect(d('min', 2, 1)).toEqual([0, 1]);
  });
  it('max and min propagate NaN, and the gradient goes to the NaN operand (the first when both are)', () => {
    expect(d('max', NaN, 1)).toEqual([1, 0]);
    expect(d('max', 1, NaN)).toEqual([0, 1]);
    expect(d('min', 1, NaN)).toEqual([0, 1]);
    expect(d('min', NaN, NaN)).toEqual([1, 0]);
  });
  it('relu and abs: 0 at the kink; abs is the sign elsewhere', () => {
    expect(d('relu', 0)).toEqual([0]);
    expect(d('relu', 1e-300)).toEqual([1]);
    expect(d('abs', 0)).toEqual([0]);
    expect(d('abs', -2)).toEqual([-1]);
    expect(d('abs', 3)).toEqual([1]);
  });
  it('select: the taken branch; comparisons: nothing', () => {
    expect(d('select', 1, 5, 6)).toEqual([0, 1, 0]);
    expect(d('select', 0, 5, 6)).toEqual([0, 0, 1]);
    expect(d('lt', 1, 2)).toEqual([0, 0]);
  });
  it('the max and min reductions share ties evenly; a NaN term makes every partial NaN', () => {
    const of = (name: string, terms: number[]) => reduction(name).derivative(terms, reduction(name).f64(terms));
    expect(of('max', [1, 3, 3])).toEqual([0, 0.5, 0.5]);
    expect(of('min', [2, 2, 5, 2])).toEqual([1 / 3, 1 / 3, 0, 1 / 3]);
    expect(of('max', [1, NaN]).every(Number.isNaN)).toBe(true);
    expect(of('sum', [1, 2])).toEqual([1, 1]);
    const soft = of('logsumexp', [0, Math.log(3)]);
    expect(soft[0]).toBeCloseTo(0.25, 15);
    expect(soft[1]).toBeCloseTo(0.75, 15);
  });
});
