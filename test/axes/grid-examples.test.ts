// The grid examples (issue 18) on the reference interpreter against small independent implementations
// written here from the published formulas (plain loops over rows and columns, float64), not from the
// IR: examples/ssm2d.rnn (a 2-D selective SSM), examples/plstm.rnn (pLSTM's propagation mode on a 2-D
// grid) and examples/mamba_rows.rnn (Mamba along image rows). Odd grids, batch 2, given initial states.
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { gridProblem, oracles } from './grid-examples-oracles.js';

const load = (name: string): Module => {
  const r = frontEnd(readFileSync(`examples/${name}.rnn`, 'utf8'));
  expect(r.diagnostics).toEqual([]);
  return r.module!;
};

const grids: [number, number][] = [
  [1, 1],
  [1, 7],
  [7, 1],
  [3, 5],
  [5, 3],
  [7, 13],
];

describe('the grid examples on the reference = independent implementations of their formulas', () => {
  it('covers every grid example', () => {
    const grid = readdirSync('examples')
      .filter((f) => f.endsWith('.rnn'))
      .map((f) => f.slice(0, -4))
      .filter((name) => frontEnd(readFileSync(`examples/${name}.rnn`, 'utf8')).module?.grid)
      .sort();
    expect(grid).toEqual(Object.keys(oracles).sort());
  });

  describe.each(Object.keys(oracles))('%s', (name) => {
    const m = load(name);
    it.each(grids)('%i x %i, batch 2, given initial states', (H, W) => {
      const p = gridProblem(m, 2, H, W, 31 * H + W);
      const got = interpret(m, { batch: 2, T: H * W, sizes: p.sizes, grid: { H, W } }, { inputs: p.data.inputs, params: p.data.params, initial: p.data.initial! });
      const want = oracles[name]!(p);
      for (const part of ['outputs', 'final'] as const) {
        expect(Object.keys(got[part]).sort()).toEqual(Object.keys(want[part]).sort());
        for (const [tensor, w] of Object.entries(want[part])) {
          const g = got[part][tensor]!;
          expect(g.length, `${part} ${tensor}`).toBe(w.length);
          for (let i = 0; i < w.length; i++) if (!(Math.abs(g[i]! - w[i]!) <= 1e-12 * (1 + Math.abs(w[i]!)))) expect.fail(`${part} ${tensor}[${i}] = ${g[i]}, the formula gives ${w[i]}`);
        }
      }
    });
  });

  it('the pLSTM transitions are scaled (P-mode) on this data: some |T| sums exceed 1', () => {
    // Otherwise the test above would not tell the scaled Transitions from the raw ones.
    const p = gridProblem(load('plstm'), 2, 7, 13, 31 * 7 + 13);
    const t = (n: string) => Array.from(p.inputs[n]!, Math.tanh);
    const [rr, dr] = [t('t_rr'), t('t_dr')];
    expect(rr.some((x, i) => Math.abs(x) + Math.abs(dr[i]!) > 1)).toBe(true);
  });
});
