// The fuzzer's fixed-seed CI sample, on the CPU: generated cells check clean and emit in every mode
// the planner offers; generated and mutated specs never make the front end throw. fast-check shrinks
// a failing case before reporting it. Longer runs: `npm run fuzz -- --count N --seed S`.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { cellArbitrary, mutantArbitrary } from './cases.js';
import { cellProblems, frontEndProblems, FUZZ_LAW_TRIPLES, type Problem } from './properties.js';
import { emitProblems } from './emit.js';
import { knownBug } from './known.js';
import { FULL_MATRIX } from '../helpers/matrix.js';

const SEED = 20261201;
/**
 * In CI 1,000 cells through check, analysis and every backend, and 9,000 mutants through the front end
 * (about 35 s on 2 cores); RNNC_TEST_MATRIX=full doubles both to 2,000 and 18,000 (the parts are seeded
 * in turn, so CI's are the first of the full run's).
 */
const CELL_PARTS = FULL_MATRIX ? 4 : 2;
const CELLS_PER_PART = 500;
const MUTANT_PARTS = FULL_MATRIX ? 6 : 3;
const MUTANTS_PER_PART = 3000;
/**
 * To fit the sample in its time budget, one cell in LAW_EVERY runs the analysis's law check and one in
 * NOSUB_EVERY also emits the scan for adapters without subgroups (each costs as much as the rest of
 * a cell); the mutants skip the law check. `npm run fuzz` does all of it for every case.
 */
const LAW_EVERY = 10;
const NOSUB_EVERY = 4;

const report = (problems: Problem[]) => problems.map((p) => `${p.kind}: ${p.message}`).join('\n');
const range = (n: number) => Array.from({ length: n }, (_, k) => k);

// What the whole sample reached: every family, every backend (else the generator has drifted).
const seen = { modes: new Map<string, number>(), families: new Set<string>() };

describe('fuzz (fixed seed): generated cells check clean and emit in every mode offered', () => {
  it.each(range(CELL_PARTS))(`part %i: ${CELLS_PER_PART} cells`, (part) => {
    let k = 0;
    fc.assert(
      fc.property(cellArbitrary, (cell) => {
        k++;
        const { problems, checked } = cellProblems(cell, k % LAW_EVERY === 0 ? FUZZ_LAW_TRIPLES : 0);
        if (checked) {
          const emitted = emitProblems(checked, { withoutSubgroups: k % NOSUB_EVERY === 0 });
          problems.push(...emitted.problems);
          for (const m of new Set(emitted.emission.kernels.map((x) => x.mode))) seen.modes.set(m, (seen.modes.get(m) ?? 0) + 1);
        }
        cell.families.forEach((f) => seen.families.add(f));
        const unknown = problems.filter((p) => !knownBug(p));
        if (unknown.length > 0) throw new Error(`${report(unknown)}\n${cell.text}`);
      }),
      { seed: SEED + part, numRuns: CELLS_PER_PART },
    );
  });

  it('reached every family of updates and every backend', () => {
    expect([...seen.families].sort()).toEqual(
      [
        ...['diagonal/sum_prod', 'diagonal/max_plus', 'diagonal/max_min', 'diagonal/log'],
        ...['dense/sum_prod', 'dense/max_plus', 'dense/max_min', 'dense/log', 'lowrank/sum_prod'],
        ...['nonlinear', 'independent', 'gated', 'monoid/affine', 'monoid/maxsum', 'monoid/softmax'],
      ].sort(),
    );
    // Counted per property run, shrinking included: lower bounds.
    const cells = CELL_PARTS * CELLS_PER_PART;
    expect(seen.modes.get('seq')).toBeGreaterThanOrEqual(cells);
    expect(seen.modes.get('scan')).toBeGreaterThan(cells / 2);
    expect(seen.modes.get('chunk')).toBeGreaterThan(cells / 100);
  });
});

describe('fuzz (fixed seed): mutated specs get diagnostics, never an exception', () => {
  let clean = 0;
  it.each(range(MUTANT_PARTS))(`part %i: ${MUTANTS_PER_PART} mutants`, (part) => {
    fc.assert(
      fc.property(mutantArbitrary, (text) => {
        const { problems, result } = frontEndProblems(text, 0);
        if (result?.module) clean++;
        if (problems.length > 0) throw new Error(`${report(problems)}\n${JSON.stringify(text)}`);
      }),
      { seed: SEED + part, numRuns: MUTANTS_PER_PART },
    );
  });

  it('kept some mutants valid, so that they reached the analysis too', () => {
    expect(clean).toBeGreaterThan((MUTANT_PARTS * MUTANTS_PER_PART) / 50);
  });
});

describe('fuzz regressions on the CPU', () => {
  // Found by the fuzzer (regressions/slow/analysis_let_chain.rnn): the analysis expands lets that read
  // the state into a tree, so a chain of lets each reading the previous one twice cost 2^n. The expansion
  // now stops at MAX_EXPANDED_NODES and the state runs sequentially; 500 ms leaves room for a loaded
  // machine. Not run on Dawn: the front end is the point.
  it('a chain of 12 lets that read the state is analysed within 500 ms', () => {
    const text = readFileSync(join(import.meta.dirname, 'regressions', 'slow', 'analysis_let_chain.rnn'), 'utf8');
    const started = performance.now();
    const { problems } = frontEndProblems(text, 0);
    expect(problems).toEqual([]);
    expect(performance.now() - started).toBeLessThan(500);
  });
});
