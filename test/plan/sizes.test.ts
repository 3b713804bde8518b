// No size makes an internal error (issue 13): for every example and bench cell, every mode and both
// targets, over dims from 1 to 300, the planner either builds kernels that the backend compiles and
// prepares a run for, or refuses with an RnncError that says which limit is hit.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { emit, plan } from '../../src/driver/compile.js';
import { RnncError } from '../../src/driver/errors.js';

const root = join(import.meta.dirname, '../..');
const files = ['examples', 'bench/cells'].flatMap((d) => readdirSync(join(root, d)).filter((f) => f.endsWith('.rnn')).map((f) => join(root, d, f)));
const SIZES = [1, 3, 17, 64, 300];

describe('every size binding plans or is refused with a user error', () => {
  for (const file of files)
    it(basename(file, '.rnn'), () => {
      const { module, analysis } = frontEnd(readFileSync(file, 'utf8'));
      if (!module || !analysis) throw new Error(`${file} does not check`);
      const outcomes = { compiled: 0, refused: 0 };
      for (const n of SIZES)
        for (const mode of ['seq', 'scan', 'chunk', 'auto'] as const)
          for (const subgroups of [true, false]) {
            const dims = Object.fromEntries(module.dims.map((d) => [d.name, n]));
            try {
              // A grid cell (issue 18) prepares for a grid: 7 x 10 = T.
              emit(plan(module, analysis, { mode, dims, target: { subgroups } })).prepare({ batch: 3, T: 70, ...(module.grid ? { grid: { H: 7, W: 10 } } : {}) });
              outcomes.compiled++;
            } catch (e) {
              if (!(e instanceof RnncError)) throw new Error(`${mode} at ${n} (subgroups ${subgroups}): ${(e as Error).message}`);
              expect(e.message).toMatch(/^rnnc: /);
              outcomes.refused++;
            }
          }
      // seq and auto always run; every cell compiles in at least those two modes at every size, but a grid
      // cell whose lets or outputs pass a WGSL array (the wavefront keeps them per position: RNN0803).
      const runs = (n: number) => !module.grid || module.step.every((d) => d.kind === 'update' || n ** d.vars.length <= 65535);
      expect(outcomes.compiled).toBeGreaterThanOrEqual(SIZES.filter(runs).length * 2 * 2);
    });
});
