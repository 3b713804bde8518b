// The random source of the generators: a few kinds of choice, drawn through fast-check's `gen()`
// so that a failing case shrinks choice by choice (every draw shrinks towards 0: the first option of
// a `pick`, `false` for a `chance`), and a seed reproduces it exactly.
import fc from 'fast-check';

export interface Choices {
  /** An integer in [min, max]. */
  int(min: number, max: number): number;
  /** One of `options`; put the simplest first, it is where shrinking goes. */
  pick<T>(options: readonly T[]): T;
  /** True with probability p. */
  chance(p: number): boolean;
}

type Gen = fc.GeneratorValue;

export function choicesOf(g: Gen): Choices {
  const int = (min: number, max: number) => (max <= min ? min : g(fc.integer, { min, max }));
  return {
    int,
    pick: (options) => options[int(0, options.length - 1)]!,
    // Drawn as "not yet": shrinking moves the draw to 0, i.e. towards leaving the optional part out.
    chance: (p) => g(fc.integer, { min: 0, max: 999 }) >= 1000 * (1 - p),
  };
}

/** An arbitrary built from a function of the choices. */
export const fromChoices = <T>(make: (c: Choices) => T): fc.Arbitrary<T> => fc.gen().map((g) => make(choicesOf(g)));

/**
 * The `index`-th case of a run with seed `seed`: each case has its own seed, so a case is reproduced
 * without generating the ones before it (scripts/fuzz.ts prints it with each failure).
 */
export function caseSeed(seed: number, index: number): number {
  let h = (seed ^ Math.imul(index + 1, 0x9e3779b1)) >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) | 0;
}

export function sampleOne<T>(arb: fc.Arbitrary<T>, seed: number): T {
  return fc.sample(arb, { seed, numRuns: 1 })[0]!;
}
