// The fuzzer's fixed-seed CI sample, on the CPU: generated cells check clean and emit in every mode
// their analysis offers; generated and mutated specs never make the front end throw. fast-check
// shrinks a failing case before reporting it. Longer runs: `npm run fuzz -- --count N --seed S`.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellArbitrary, mutantArbitrary } from './cases.js';
import { cellProblems, frontEndProblems, FUZZ_LAW_TRIPLES, type Problem } from './properties.js';
import { emitProblems } from './emit.js';
import { knownBug } from './known.js';

const SEED = 20261201;
const CELLS = 2000;
/** With the generated cells above, 20,000 specs through the front end. */
const MUTANTS = 18000;
/**
 * To fit the sample in its time budget, one cell in LAW_EVERY runs the analysis's law check and one in
 * NOSUB_EVERY also emits the scan for adapters without subgroups (each costs as much as the rest of
 * a cell); the mutants skip the law check. `npm run fuzz` does all of it for every case.
 */
const LAW_EVERY = 10;
const NOSUB_EVERY = 4;

const unknown = (problems: Problem[]) => problems.filter((p) => !knownBug(p));
const report = (problems: Problem[]) => problems.map((p) => `${p.kind}: ${p.message}`).join('\n');

describe('fuzz (fixed seed)', () => {
  it(`${CELLS} generated cells check clean and emit in every mode offered`, () => {
    const seen = { modes: new Map<string, number>(), families: new Set<string>(), declined: 0 };
    let k = 0;
    fc.assert(
      fc.property(cellArbitrary, (cell) => {
        k++;
        const { problems, checked } = cellProblems(cell, k % LAW_EVERY === 0 ? FUZZ_LAW_TRIPLES : 0);
        if (checked) {
          const emitted = emitProblems(checked, { withoutSubgroups: k % NOSUB_EVERY === 0 });
          problems.push(...emitted.problems);
          for (const m of new Set(emitted.emission.kernels.map((k) => k.mode))) seen.modes.set(m, (seen.modes.get(m) ?? 0) + 1);
          seen.declined += emitted.emission.declined.length;
        }
        cell.families.forEach((f) => seen.families.add(f));
        const bad = unknown(problems);
        if (bad.length > 0) throw new Error(`${report(bad)}\n${cell.text}`);
      }),
      { seed: SEED, numRuns: CELLS },
    );
    // The sample reaches every family and every backend (else the generator has drifted).
    expect([...seen.families].sort()).toEqual(
      [
        ...['diagonal/sum_prod', 'diagonal/max_plus', 'diagonal/max_min', 'diagonal/log'],
        ...['dense/sum_prod', 'dense/max_plus', 'dense/max_min', 'dense/log', 'lowrank/sum_prod'],
        ...['nonlinear', 'independent', 'gated', 'monoid/affine', 'monoid/maxsum', 'monoid/softmax'],
      ].sort(),
    );
    expect(seen.modes.get('seq')).toBe(CELLS);
    expect(seen.modes.get('scan')).toBeGreaterThan(CELLS / 2);
    expect(seen.modes.get('chunk')).toBeGreaterThan(20);
  });

  it(`${MUTANTS} mutated specs get diagnostics, never an exception`, () => {
    let clean = 0;
    fc.assert(
      fc.property(mutantArbitrary, (text) => {
        const { problems, result } = frontEndProblems(text, 0);
        if (result?.module) clean++;
        if (problems.length > 0) throw new Error(`${report(problems)}\n${JSON.stringify(text)}`);
      }),
      { seed: SEED, numRuns: MUTANTS },
    );
    // Some mutants stay valid (a changed number, a renamed index): those reach the analysis too.
    expect(clean).toBeGreaterThan(MUTANTS / 50);
  });
});
