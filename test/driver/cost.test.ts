// The planner counts what one step costs on the IR and refuses a cell over the limit with a coded
// error at its costliest expression (issue 12: 50 nested sums over D = 2, about 10^15 operations a
// step, checked, compiled, and then spun for minutes in `run`).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { stepCost } from '../../src/compiler/ir/cost.js';
import { compile } from '../../src/driver/index.js';
import { captureCli } from '../cli-run/rnnc.js';

const rnnc = captureCli();
const dir = mkdtempSync(join(tmpdir(), 'rnnc-cost-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nested = (levels: number) =>
  `rnn deep {\n  dims D = 2\n  input x[D]\n  state h[D] = 0\n  h[d] <- h[d] + ${Array.from({ length: levels }, (_, k) => `sum(j${k}: `).join('')}${Array.from({ length: levels }, (_, k) => `x[j${k}]`).join(' * ')}${')'.repeat(levels)}\n  output y[d] = h[d]\n}\n`;

describe('the cost of a step', () => {
  it('counts every node once per point of its index space', () => {
    // h[d] <- h[d] + sum(j0: sum(j1: x[j0] * x[j1])): the product depends on j0 and j1 only, not on d,
    // so it is counted (and computed by the reference) 4 times a step, not 8.
    const { compilation } = compile(nested(2), { mode: 'seq' });
    const cost = stepCost(compilation!.module, compilation!.sizes);
    expect(compilation!.plan.cost).toEqual({ ops: cost.ops, bytes: cost.bytes });
    expect(cost.hottest!.ops).toBe(2 * 2);
  });

  it('refuses 50 nested sums with RNN0801 at the costliest expression, in check, compile and run', async () => {
    const file = join(dir, 'deep.rnn');
    writeFileSync(file, nested(50));
    for (const args of [['check', file], ['compile', file, '-o', join(dir, 'out')], ['run', file]]) {
      const r = await rnnc(...args);
      expect(r.code, args[0]).toBe(1);
      expect(r.stderr).toMatch(new RegExp(`${file.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}:5:\\d+: error RNN0801: one step of this cell costs about 3\\.4e15 operations per sequence, over the limit of 4\\.3e9`));
      expect(r.stderr).toContain('rnnc: deep is too costly to run at these sizes');
    }
  }, 60_000);

  it('check reports the cost of a cell that fits', async () => {
    const r = await rnnc('check', 'examples/lstm.rnn', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).plan.cost.ops).toBeGreaterThan(0);
  });
});
