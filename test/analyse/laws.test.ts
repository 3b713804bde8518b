// The law checker: rejects non-associative combines and false identities with a counterexample
// (exactly where it can, in float32 otherwise), accepts the correct ones, and its float32 error
// bound holds (it bounds the distance to the exact value).
import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { parse } from '../../src/compiler/syntax/build-ast.js';
import { check } from '../../src/compiler/check/checker.js';
import { lower } from '../../src/compiler/ir/lower.js';
import { checkLaws } from '../../src/compiler/analyse/laws.js';
import { monoidPlan } from '../../src/compiler/analyse/element.js';
import { evaluateDefs } from '../../src/compiler/analyse/evaluate.js';
import { exactDomain, float32Domain, rationalOf, type Bounded, type Rational } from '../../src/compiler/analyse/domains.js';
import type { Module } from '../../src/compiler/ir/ir.js';

/** A scalar monoid over one state h with the given combine and identity. */
function monoidModule(combine: string, identity = '0'): Module {
  const text = `rnn m {
  input x
  state h = 0
  monoid {
    element h = x
    identity h = ${identity}
    combine(l, r) { h = ${combine} }
  }
  output o = h
}`;
  const parsed = parse(text);
  const { checked, diagnostics } = check(parsed.ast!);
  if (diagnostics.some((d) => d.severity === 'error')) throw new Error(diagnostics.map((d) => d.message).join('; '));
  return lower(parsed.ast!, checked);
}

const lawsOf = (combine: string, identity = '0') => {
  const m = monoidModule(combine, identity);
  return checkLaws(m, monoidPlan(m));
};

/** `(a∘b)∘c gives h = X but a∘(b∘c) gives h = Y`: the two results, which must differ. */
function results(detail: string): [string, string] {
  const m = /\(a∘b\)∘c gives h = (\S+).* but a∘\(b∘c\) gives h = (\S+)/.exec(detail);
  if (!m) throw new Error(`no results in: ${detail}`);
  return [m[1]!, m[2]!];
}

describe('law checker', () => {
  it.each([
    ['subtraction', 'l.h - r.h'],
    ['averaging', '(l.h + r.h) / 2'],
    ['a*b + 1', 'l.h * r.h + 1'],
    ['squared sum', '(l.h + r.h) * (l.h + r.h)'],
  ])('rejects %s exactly, with a counterexample triple and two different results', (_, combine) => {
    const c = lawsOf(combine);
    const failure = c.failures.find((f) => f.law === 'associativity')!;
    expect(failure).toMatchObject({ arithmetic: 'exact', field: 'h' });
    expect(failure.detail).toMatch(/^with a = \(h = -?[\d/]+\), b = \(h = -?[\d/]+\), c = \(h = -?[\d/]+\) \(exact arithmetic\)/);
    const [l, r] = results(failure.detail);
    expect(l).not.toBe(r);
    expect(c.report.exact).toBe('failed');
  });

  it('recomputes the counterexample: (a∘b)∘c and a∘(b∘c) really are the printed values', () => {
    const failure = lawsOf('l.h - r.h').failures[0]!;
    const [a, b, c] = [...failure.detail.matchAll(/h = (-?\d+(?:\/\d+)?)/g)].slice(0, 3).map((m) => eval(m[1]!) as number);
    const [l, r] = results(failure.detail).map((x) => eval(x) as number);
    expect(l).toBeCloseTo(a! - b! - c!, 12);
    expect(r).toBeCloseTo(a! - (b! - c!), 12);
  });

  it('rejects a wrong composition of affine maps (the earlier coefficient on the earlier offset)', () => {
    const r = frontEnd(readFileSync('test/fixtures/analysis/monoid_affine_mixed_up.rnn', 'utf8'));
    expect(r.module).toBeUndefined();
    expect(r.diagnostics.map((d) => d.code)).toEqual(['RNN0608']);
    expect(r.diagnostics[0]!.message).toMatch(/^the combine is not associative: with a = \(h = .*, g = .*\), b = .* gives h = .* but a∘\(b∘c\) gives h = /);
  });

  it('rejects a non-associative combine built from exp and log in float32 (no exact check applies)', () => {
    const c = lawsOf('log(exp(l.h) + exp(r.h)) + 1', '-inf');
    expect(c.report.exact).toEqual({ notApplicable: 'the combine uses `exp`, which has no exact rational value' });
    const failure = c.failures.find((f) => f.law === 'associativity')!;
    expect(failure.arithmetic).toBe('float32');
    expect(failure.detail).toMatch(/\(float32 arithmetic\): \(a∘b\)∘c gives h = \S+ \(float32 error bound [\d.e-]+\) but a∘\(b∘c\) gives h = \S+ \(float32 error bound [\d.e-]+\)$/);
  });

  it('rejects an identity that is not one (RNN0609), exactly', () => {
    const c = lawsOf('max(l.h, r.h)', '0');
    expect(c.failures.map((f) => [f.law, f.arithmetic])).toEqual([['left identity', 'exact']]);
    expect(c.failures[0]!.detail).toMatch(/^with e = \(h = 0\) and a = \(h = -[\d/]+\) \(exact arithmetic\): e∘a gives h = 0 instead of h = -[\d/]+$/);
  });

  it.each([
    ['sum', 'l.h + r.h', '0'],
    ['max', 'max(l.h, r.h)', '-inf'],
    ['min', 'min(l.h, r.h)', 'inf'],
    ['product', 'l.h * r.h', '1'],
    ['logaddexp', 'logaddexp(l.h, r.h)', '-inf'],
    ['log-sum-exp by hand', 'max(l.h, r.h) + log(exp(l.h - max(l.h, r.h)) + exp(r.h - max(l.h, r.h)))', '-inf'],
  ])('accepts %s', (_, combine, identity) => {
    const c = lawsOf(combine, identity);
    expect(c.failures).toEqual([]);
    expect(c.report.float32.passed).toBe(true);
  });

  it("accepts Aaren's log-sum-exp monoid on 3000 float32 triples (the bound is not too tight)", () => {
    const r = frontEnd(readFileSync('examples/aaren.rnn', 'utf8'));
    const c = checkLaws(r.module!, r.analysis!.plan!, { triples: 3000, seed: 12345 });
    expect(c.failures).toEqual([]);
    expect(c.report.float32).toEqual({ triples: 3000, skipped: 0, passed: true });
  });

  it('accepts every derived combine of the examples on 1000 triples, exactly where it applies', () => {
    for (const name of ['deltanet', 'deltaproduct2', 'gla', 'lru', 'mamba_s6', 'maxplus', 'mingru', 'minmax', 'parity']) {
      const r = frontEnd(readFileSync(`examples/${name}.rnn`, 'utf8'));
      const c = checkLaws(r.module!, r.analysis!.plan!, { triples: 1000 });
      expect(c.failures, name).toEqual([]);
      expect(c.report.exact, name).toBe('passed');
    }
    // About 3 s of CPU: 9 examples x 1000 exact-rational triples; more when the GPU tests share the cores.
  }, 60_000);

  it('the float32 error bound holds: |float32 value - exact value| <= bound, on the DeltaNet combine', () => {
    const r = frontEnd(readFileSync('examples/deltanet.rnn', 'utf8'));
    const plan = r.analysis!.plan!;
    const sizes = { K: 3, V: 2 };
    const element = (vals: number[]) => {
      let k = 0;
      return new Map(plan.fields.map((f) => {
        const dims = f.vars.map((v) => v.dim);
        const n = dims.reduce((p, d) => p * sizes[d as 'K' | 'V'], 1);
        return [f.target, { dims, data: Array.from({ length: n }, () => vals[k++ % vals.length]!) }];
      }));
    };
    fc.assert(
      fc.property(fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: 30, maxLength: 30 }), fc.array(fc.float({ min: -4, max: 4, noNaN: true }), { minLength: 30, maxLength: 30 }), (x, y) => {
        const [l, rr] = [element(x), element(y)];
        const f32 = evaluateDefs(plan.combine, (s, t) => {
          const v = (s === 'left' ? l : rr).get(t)!;
          return { dims: v.dims, data: v.data.map((d): Bounded => ({ v: d, e: 0 })) };
        }, sizes, float32Domain);
        const exact = evaluateDefs(plan.combine, (s, t) => {
          const v = (s === 'left' ? l : rr).get(t)!;
          return { dims: v.dims, data: v.data.map((d): Rational => rationalOf(d)) };
        }, sizes, exactDomain);
        for (const f of plan.fields) {
          f32.get(f.target)!.data.forEach((b, k) => {
            const e = exact.get(f.target)!.data[k]!;
            const value = 'inf' in e ? e.inf * Infinity : Number(e.n) / Number(e.d);
            expect(Math.abs(b.v - value)).toBeLessThanOrEqual(b.e * (1 + 1e-9) + 1e-300);
          });
        }
      }),
      { numRuns: 100 },
    );
  });
});
