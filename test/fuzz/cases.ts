// The fuzzer's cases as arbitraries: generated cells (all, and the tame ones that are run on Dawn)
// and mutated specs (of the examples and of generated cells). Case k of a run with seed S is
// `sampleOne(arbitrary, caseSeed(S, k))`, so every failure is reproduced from two numbers.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fromChoices } from './choices.js';
import { generateCell } from './generate.js';
import { mutate } from './mutate.js';

const examplesDir = join(import.meta.dirname, '..', '..', 'examples');
export const exampleTexts: string[] = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.rnn'))
  .sort()
  .map((f) => readFileSync(join(examplesDir, f), 'utf8'));

export const cellArbitrary = fromChoices((c) => generateCell(c));
export const tameCellArbitrary = fromChoices((c) => generateCell(c, { tame: true }));
/** A mutant of an example or of a generated cell (which reaches the checker's corners more often). */
export const mutantArbitrary = fromChoices((c) => mutate(c, c.chance(0.5) ? c.pick(exampleTexts) : generateCell(c).text));
