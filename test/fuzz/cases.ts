// The fuzzer's cases as arbitraries: generated cells (all, and the tame ones that are run on Dawn)
// and mutated specs (of the examples and of generated cells). Case k of a run with seed S is
// `sampleOne(arbitrary, caseSeed(S, k))`, so every failure is reproduced from two numbers.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { caseSeed, fromChoices, sampleOne } from './choices.js';
import { generateCell } from './generate.js';
import { mutate } from './mutate.js';

const examplesDir = join(import.meta.dirname, '..', '..', 'examples');
export const exampleTexts: string[] = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.rnn'))
  .sort()
  .map((f) => readFileSync(join(examplesDir, f), 'utf8'));

export const cellArbitrary = fromChoices((c) => generateCell(c));
export const tameCellArbitrary = fromChoices((c) => generateCell(c, { tame: true }));
/**
 * What mutants are made from: the examples and a fixed set of generated cells (which reach the
 * checker's corners more often); a fixed set, so that a mutant costs a mutation, not a generation.
 */
export const mutationBases: string[] = [...exampleTexts, ...Array.from({ length: 64 }, (_, k) => sampleOne(cellArbitrary, caseSeed(0x6d757461, k)).text)];
export const mutantArbitrary = fromChoices((c) => mutate(c, c.pick(mutationBases)));
