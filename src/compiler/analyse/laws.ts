// The law checker: is a plan's combine associative, and is its identity an identity? Two checks on
// the combine definitions themselves (the IR a kernel is generated from):
//
// (a) exact: random triples of small rationals (p/q, |p| ≤ 12, q ≤ 4) evaluated in exact BigInt
//     rational arithmetic (see domains.ts). Any difference is a proof that the law fails. Agreement
//     on every triple is evidence, not proof: for a combine that is a polynomial (+, −, ×), a law
//     that fails does so outside a set of measure zero, so a random point finds it with high
//     probability (Schwartz–Zippel); min, max and select split the inputs into polyhedral pieces,
//     which random points with small denominators (ties included) visit. Applies only when the
//     combine uses +, −, ×, ÷, min, max, abs, relu, comparisons and select.
// (b) float32: random triples evaluated with float32 rounding after every operation, each value with
//     a running error bound; (x∘y)∘z and x∘(y∘z) must agree within the sum of their bounds.
//     This check applies to every combine (exp, log, logaddexp included).
//
// Dims are set to 2 for the check: a combine's laws do not depend on the sizes, and small elements
// keep counterexamples readable. Random numbers come from a fixed seed, so reports are reproducible.
import type { Span } from '../syntax/ast.js';
import type { Def, Module } from '../ir/ir.js';
import type { DimSizes } from '../ir/dims.js';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import type { LawReport, ScanPlan } from './types.js';
import { evaluateDefs, type Domain, type TensorValue } from './evaluate.js';
import { exactDomain, float32Domain, NotExact, rational, rationalEquals, rationalText, type Bounded, type Rational } from './domains.js';

export type Law = 'associativity' | 'left identity' | 'right identity';

export interface LawFailure {
  law: Law;
  arithmetic: 'exact' | 'float32';
  /** The field whose values differ. */
  field: string;
  /** The detail of the diagnostic: the counterexample and the two different results. */
  detail: string;
}

export interface LawCheck {
  report: Omit<LawReport, 'states'>;
  failures: LawFailure[];
}

/** A deterministic generator (mulberry32), so that the same file always gets the same verdict. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

type Element<V> = Map<string, TensorValue<V>>;

/** The shortest decimal that reads back as the same float32. */
export function float32Text(v: number): string {
  if (!Number.isFinite(v)) return Number.isNaN(v) ? 'NaN' : v > 0 ? 'inf' : '-inf';
  for (let p = 1; p < 10; p++) {
    const s = Number(v.toPrecision(p));
    if (Math.fround(s) === v) return String(s);
  }
  return String(v);
}

interface Algebra<V> {
  domain: Domain<V>;
  random: (rand: () => number) => V;
  equal: (a: V, b: V) => boolean | undefined;
  text: (v: V) => string;
}

const exactAlgebra: Algebra<Rational> = {
  domain: exactDomain,
  random: (rand) => rational(BigInt(Math.floor(rand() * 25) - 12), BigInt(1 + Math.floor(rand() * 4))),
  equal: rationalEquals,
  text: rationalText,
};

const float32Algebra: Algebra<Bounded> = {
  domain: float32Domain,
  random: (rand) => {
    const r = rand();
    // Mostly spread-out values, some small integers and zeros (ties, cancellations).
    const v = r < 0.7 ? (rand() * 8 - 4) : r < 0.95 ? Math.floor(rand() * 7) - 3 : 0;
    return { v: Math.fround(v), e: 0 };
  },
  equal: (a, b) => {
    if (Number.isNaN(a.v) || Number.isNaN(b.v) || a.e === Infinity || b.e === Infinity) return undefined;
    if (a.v === b.v) return true;
    return Math.abs(a.v - b.v) <= a.e + b.e;
  },
  text: (b) => float32Text(b.v),
};

class Checker<V> {
  constructor(
    private readonly plan: ScanPlan,
    private readonly sizes: DimSizes,
    private readonly alg: Algebra<V>,
  ) {}

  private fieldDefs(): Def[] {
    return this.plan.fields;
  }

  randomElement(rand: () => number): Element<V> {
    return new Map(this.fieldDefs().map((f) => {
      const dims = f.vars.map((v) => v.dim);
      const count = dims.reduce((n, d) => n * this.sizes[d]!, 1);
      return [f.target, { dims, data: Array.from({ length: count }, () => this.alg.random(rand)) }];
    }));
  }

  identity(): Element<V> {
    const values = evaluateDefs(this.plan.identity, () => undefined, this.sizes, this.alg.domain);
    return new Map(this.fieldDefs().map((f) => [f.target, values.get(f.target)!]));
  }

  combine(l: Element<V>, r: Element<V>): Element<V> {
    const values = evaluateDefs(this.plan.combine, (source, tensor) => (source === 'left' ? l.get(tensor) : source === 'right' ? r.get(tensor) : undefined), this.sizes, this.alg.domain);
    return new Map(this.fieldDefs().map((f) => [f.target, values.get(f.target)!]));
  }

  /** The first field entry where x and y differ, if any; `skipped` when no entry could be compared. */
  differ(x: Element<V>, y: Element<V>): { field: string; index: number; dims: string[] } | 'skipped' | undefined {
    let compared = false;
    for (const [field, t] of x) {
      const u = y.get(field)!;
      for (let i = 0; i < t.data.length; i++) {
        const eq = this.alg.equal(t.data[i]!, u.data[i]!);
        if (eq === false) return { field, index: i, dims: t.dims };
        if (eq === true) compared = true;
      }
    }
    return compared ? undefined : 'skipped';
  }

  elementText(x: Element<V>): string {
    const parts = [...x].map(([field, t]) => `${field} = ${t.dims.length ? `[${t.data.map(this.alg.text).join(', ')}]` : this.alg.text(t.data[0]!)}`);
    return `(${parts.join(', ')})`;
  }

  entryText(x: Element<V>, at: { field: string; index: number; dims: string[] }): string {
    const coords: number[] = [];
    let rest = at.index;
    for (let k = at.dims.length - 1; k >= 0; k--) {
      coords.unshift(rest % this.sizes[at.dims[k]!]!);
      rest = Math.floor(rest / this.sizes[at.dims[k]!]!);
    }
    return `${at.field}${coords.length ? `[${coords.join(', ')}]` : ''} = ${this.alg.text(x.get(at.field)!.data[at.index]!)}`;
  }
}

interface RunResult {
  failures: LawFailure[];
  triples: number;
  skipped: number;
}

function run<V>(plan: ScanPlan, sizes: DimSizes, alg: Algebra<V>, arithmetic: 'exact' | 'float32', triples: number, seed: number): RunResult {
  const c = new Checker(plan, sizes, alg);
  const rand = seededRandom(seed);
  const failures: LawFailure[] = [];
  let skipped = 0;
  const bound = (x: unknown) => (arithmetic === 'float32' ? ` (float32 error bound ${float32Text((x as Bounded).e)})` : '');
  const e = c.identity();
  for (let k = 0; k < triples && failures.length === 0; k++) {
    const [a, b, d] = [c.randomElement(rand), c.randomElement(rand), c.randomElement(rand)];
    const left = c.combine(c.combine(a, b), d);
    const right = c.combine(a, c.combine(b, d));
    const diff = c.differ(left, right);
    if (diff === 'skipped') skipped++;
    else if (diff) {
      const [lv, rv] = [left.get(diff.field)!.data[diff.index], right.get(diff.field)!.data[diff.index]];
      failures.push({
        law: 'associativity',
        arithmetic,
        field: diff.field,
        detail: `with a = ${c.elementText(a)}, b = ${c.elementText(b)}, c = ${c.elementText(d)} (${arithmetic} arithmetic): (a∘b)∘c gives ${c.entryText(left, diff)}${bound(lv)} but a∘(b∘c) gives ${c.entryText(right, diff)}${bound(rv)}`,
      });
    }
    for (const [law, value] of [
      ['left identity', c.combine(e, a)],
      ['right identity', c.combine(a, e)],
    ] as const) {
      if (failures.length) break;
      const diff2 = c.differ(value, a);
      if (diff2 && diff2 !== 'skipped') {
        const expr = law === 'left identity' ? 'e∘a' : 'a∘e';
        failures.push({ law, arithmetic, field: diff2.field, detail: `with e = ${c.elementText(e)} and a = ${c.elementText(a)} (${arithmetic} arithmetic): ${expr} gives ${c.entryText(value, diff2)}${bound(value.get(diff2.field)!.data[diff2.index])} instead of ${c.entryText(a, diff2)}` });
      }
    }
  }
  return { failures, triples, skipped };
}

export interface LawOptions {
  /** Random float32 triples (default 200); the exact check uses a quarter as many, at least 20. */
  triples?: number;
  seed?: number;
}

export function checkLaws(module: Module, plan: ScanPlan, options: LawOptions = {}): LawCheck {
  const sizes: DimSizes = Object.fromEntries(module.dims.map((d) => [d.name, 2]));
  const triples = options.triples ?? 200;
  const seed = options.seed ?? 0x5eed;
  if (triples === 0) return { report: { exact: { notApplicable: 'not run' }, float32: { triples: 0, skipped: 0, passed: true } }, failures: [] };
  let exact: LawReport['exact'];
  const failures: LawFailure[] = [];
  try {
    const r = run(plan, sizes, exactAlgebra, 'exact', Math.max(20, Math.ceil(triples / 4)), seed);
    exact = r.failures.length ? 'failed' : 'passed';
    failures.push(...r.failures);
  } catch (e) {
    if (!(e instanceof NotExact)) throw e;
    exact = { notApplicable: e.message };
  }
  const f = run(plan, sizes, float32Algebra, 'float32', triples, seed + 1);
  // One counterexample per law is enough: the exact one when there is one (it needs no error bound).
  for (const x of f.failures) if (!failures.some((y) => y.law === x.law)) failures.push(x);
  return { report: { exact, float32: { triples: f.triples, skipped: f.skipped, passed: f.failures.length === 0 } }, failures };
}

/**
 * RNN0608 / RNN0609 for each failed law: at the combine definition of the field that differs
 * (associativity) or at its identity (identity laws) when those have spans in the source, else at `fallback`.
 */
export function lawDiagnostics(check: LawCheck, plan: ScanPlan, fallback: Span, origin: 'monoid' | 'derived'): Diagnostic[] {
  const notes = origin === 'derived' ? ['this combine was derived by rnnc for an inferred algebra: this is a compiler bug, please report it; the cell falls back to a sequential kernel'] : [];
  return check.failures.map((f) => {
    const defs = f.law === 'associativity' ? plan.combine : plan.identity;
    const span = origin === 'monoid' ? (defs.find((d) => d.target === f.field && d.kind !== 'let')?.span ?? fallback) : fallback;
    return diagnostic(f.law === 'associativity' ? 'RNN0608' : 'RNN0609', span, { detail: f.detail }, { notes });
  });
}
