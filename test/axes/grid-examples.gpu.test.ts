// The grid examples (issue 18) on Dawn: each one's wavefront kernel (its seq plan) = the reference
// interpreter, which test/axes/grid-examples.test.ts holds against independent implementations of the
// published formulas; and the separable one (mamba_rows) also as its parallel form, a scan along the
// rows (src/driver/grid-scan.ts). Odd grids, batch 2, given initial states. One Dawn session.
//
// Cold, the wavefront kernel of an example at its own dims compiles in 15-20 s on lavapipe (load ~11 on
// 2 cores), against 2-7 s with every dim 2: CI runs the examples with every dim 2 (as `--dim` would),
// RNNC_TEST_MATRIX=full at the dims the files give.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { frontEnd } from '../../src/driver/front-end.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { analyseGrid } from '../../src/compiler/analyse/grid.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { plan } from '../../src/driver/compile.js';
import { runGridKernel } from '../../src/driver/grid.js';
import { runGridAlongAxis } from '../../src/driver/grid-scan.js';
import { verifyRun } from '../../src/driver/verify.js';
import type { RunArrays, RunResult } from '../../backends/backend.js';
import { gridProblem, oracles } from './grid-examples-oracles.js';
import { FULL_MATRIX } from '../helpers/matrix.js';

type Cell = { module: Module; analysis: Analysis };
const load = (name: string): Cell => {
  const r = frontEnd(readFileSync(`examples/${name}.rnn`, 'utf8'));
  if (!r.module || !r.analysis) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r as Cell;
};

const gpu = fileGpu();

const GRIDS: [number, number][] = [
  [1, 1],
  [1, 9],
  [9, 1],
  [7, 13],
];

/** Every dim 2 in CI; the example's own sizes under RNNC_TEST_MATRIX=full. */
const dimsOf = (m: Module): Record<string, number> => (FULL_MATRIX ? {} : Object.fromEntries(m.dims.map((d) => [d.name, 2])));

/** The run's data and the reference's results for a grid of one example. */
function problem(cell: Cell, H: number, W: number) {
  const p = gridProblem(cell.module, 2, H, W, 1000 * H + W, dimsOf(cell.module));
  const data: RunArrays = { batch: 2, T: H * W, inputs: p.data.inputs as Record<string, Float32Array>, params: p.data.params as Record<string, Float32Array>, initialState: p.data.initial as Record<string, Float32Array> };
  const want = interpret(cell.module, { batch: 2, T: H * W, sizes: p.sizes, grid: { H, W } }, { inputs: p.data.inputs, params: p.data.params, initial: p.data.initial! });
  return { data, want, sizes: p.sizes };
}

function expectVerified(got: RunResult, want: ReturnType<typeof interpret>) {
  const v = verifyRun(got, want, 1e-5);
  expect(v.tensors.filter((t) => !t.ok)).toEqual([]);
  expect(v.tensors.length).toBe(Object.keys(want.outputs).length + Object.keys(want.final).length);
}

describe.each(Object.keys(oracles))('examples/%s.rnn on the GPU', (name) => {
  const cell = load(name);
  it.each(GRIDS)('the wavefront kernel = the reference at %i x %i, batch 2, given initial states', async (H, W) => {
    const { data, want, sizes } = problem(cell, H, W);
    const c = plan(cell.module, cell.analysis, { mode: 'seq', verb: 'run', dims: sizes });
    expect(c.plan.why).toMatch(/wavefront/);
    expectVerified(await runGridKernel(gpu, c, data, { batch: 2, H, W }), want);
  });
});

describe('examples/mamba_rows.rnn as its parallel form', () => {
  const cell = load('mamba_rows');
  const grid = analyseGrid(cell.module);
  it.each(GRIDS)('a scan along the rows = the reference at %i x %i, batch 2, given initial states', async (H, W) => {
    expect([grid.form, grid.scan]).toEqual(['rows', true]);
    const { data, want, sizes } = problem(cell, H, W);
    const got = await runGridAlongAxis(cell.module, grid, sizes, { batch: 2, H, W }, data, gpu, { mode: 'scan' });
    expect([got.axis, got.compilation.plan.mode]).toEqual(['rows', 'scan']);
    expectVerified(got, want);
  });
});

