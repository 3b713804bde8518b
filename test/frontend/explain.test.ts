// Golden tests of `rnnc explain`: the printed IR of every example is pinned under test/golden/explain/,
// and every lowered module passes the IR verifier.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { printModule } from '../../src/compiler/ir/print.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';

const examplesDir = join(import.meta.dirname, '../../examples');
const examples = readdirSync(examplesDir)
  .filter((f) => f.endsWith('.rnn'))
  .map((f) => basename(f, '.rnn'))
  .sort();

describe('rnnc explain on every example', () => {
  it('finds the examples', () => {
    expect(examples.length).toBeGreaterThanOrEqual(12);
  });

  it.each(examples)('%s', async (name) => {
    const result = frontEnd(readFileSync(join(examplesDir, `${name}.rnn`), 'utf8'));
    expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    const module = result.module!;
    expect(verifyModule(module)).toEqual([]);
    await expect(printModule(module)).toMatchFileSnapshot(`../golden/explain/${name}.ir`);
  });
});
