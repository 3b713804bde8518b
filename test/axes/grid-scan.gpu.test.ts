// The parallel form of separable grid cells (issue 18, src/driver/grid-scan.ts): a 'rows' form cell run
// as batch·H time sequences of W steps by the scan (and seq) kernels, a 'columns' form as batch·W
// sequences of H steps on transposed data, a 'pointwise' cell along the rows, against the reference
// interpreter's grid semantics, over odd grids with batch > 1 and given initial states; and the cells
// no single axis runs, refused with the reason.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { analyseGrid } from '../../src/compiler/analyse/grid.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { randomRunData } from '../../src/driver/data.js';
import { chooseGridAxis, gridScanRefusal, runGridAlongAxis } from '../../src/driver/grid-scan.js';
import { RnncError } from '../../src/driver/errors.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import type { RunArrays } from '../../backends/backend.js';
import { expectClose } from '../scan/helpers.js';

// A selective diagonal recurrence along each row (Mamba-style, input-dependent decay), a second state
// with a learned initial value, and an output that reads the along-axis neighbour.
const rows = `rnn rowscan grid {
  dims D = 4
  input  x[D], a[D]
  param  h0[D], u[D]
  state  h[D] = h0
  state  c[D] = 0.25
  h[d] <- sigmoid(a[d]) * h.left[d] + x[d]
  c[d] <- c.left[d] * (1 - sigmoid(a[d])) + u[d] * x[d]
  output y[d] = u[d] * h[d] + h.left[d] - c[d]
}
`;
// The same kind of recurrence down each column.
const columns = `rnn colscan grid {
  dims D = 3
  input  x[D], a[D]
  param  u[D]
  state  h[D] = 0
  h[d] <- a[d] * h.up[d] + u[d] * x[d]
  output y[d] = h[d] * x[d]
}
`;
// No update reads a neighbour; an output reads the one to the left (so along the rows).
const pointwise = `rnn pointwise grid {
  dims D = 2
  input  x[D]
  param  u[D]
  state  h[D] = 0
  h[d] <- tanh(u[d] * x[d])
  output y[d] = h[d] + 0.5 * h.left[d]
}
`;

function cell(text: string): { module: Module; grid: ReturnType<typeof analyseGrid> } {
  const r = frontEnd(text);
  expect(r.diagnostics).toEqual([]);
  return { module: r.module!, grid: analyseGrid(r.module!) };
}

/** Seeded data [batch, H, W, ...] with initial states given, and the reference's grid run on it (float32 results). */
function problem(module: Module, batch: number, H: number, W: number, seed: number) {
  const sizes = bindDims(module);
  const shape = { batch, T: H * W, sizes, grid: { H, W } };
  const d = randomRunData(module, shape, seed, { initial: true });
  const data: RunArrays = { batch, T: H * W, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, initialState: d.initial as Record<string, Float32Array> };
  const r = interpret(module, shape, { inputs: d.inputs, params: d.params, initial: d.initial! });
  const f32 = (x: Record<string, Float64Array>) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, Float32Array.from(v)]));
  return { sizes, data, want: { outputs: f32(r.outputs), finalState: f32(r.final) } };
}

let gpu: GpuSession;
beforeAll(async () => {
  gpu = await GpuSession.open();
});
afterAll(async () => {
  await gpu?.close();
});

const grids: [H: number, W: number][] = [
  [1, 1],
  [1, 9],
  [9, 1],
  [7, 13],
  [13, 7],
];

describe.each([
  { name: 'rows', text: rows, form: 'rows', axis: 'rows' },
  { name: 'columns', text: columns, form: 'columns', axis: 'columns' },
  { name: 'pointwise', text: pointwise, form: 'pointwise', axis: 'rows' },
] as const)('a $name-form cell along its axis = the reference on the grid', ({ text, form, axis }) => {
  const { module, grid } = cell(text);
  it('has the form and axis', () => {
    expect(grid.form).toBe(form);
    expect(gridScanRefusal(module, grid)).toBeUndefined();
    const choice = chooseGridAxis(module, grid);
    expect(typeof choice === 'string' ? choice : choice.axis).toBe(axis);
  });
  it.each(grids)('scan at %i x %i, batch 3, given initial states', async (H, W) => {
    const { sizes, data, want } = problem(module, 3, H, W, 17 * H + W);
    const got = await runGridAlongAxis(module, grid, sizes, { batch: 3, H, W }, data, gpu, { mode: 'scan' });
    expect([got.axis, got.compilation.plan.mode]).toEqual([axis, 'scan']);
    expectClose(got, want, 1e-5, `${H}x${W}`);
  });
  it('seq along the axis at 7 x 13, batch 2', async () => {
    const { sizes, data, want } = problem(module, 2, 7, 13, 5);
    const got = await runGridAlongAxis(module, grid, sizes, { batch: 2, H: 7, W: 13 }, data, gpu, { mode: 'seq' });
    expect(got.compilation.plan.mode).toBe('seq');
    expectClose(got, want, 1e-5, '7x13 seq');
  });
});

describe('grid cells no single axis runs', () => {
  it('a wavefront cell is refused, naming the wavefront kernel', async () => {
    const { module, grid } = cell(rows.replace('sigmoid(a[d]) * h.left[d] + x[d]', 'sigmoid(a[d]) * h.left[d] + 0.5 * h.up[d] + x[d]'));
    expect(grid.form).toBe('wavefront');
    expect(gridScanRefusal(module, grid)).toMatch(/^rnnc: rowscan reads both neighbours in its updates \(form wavefront: .*\): no scan along one axis runs it; the wavefront kernel does$/);
    const { sizes, data } = problem(module, 1, 2, 2, 1);
    await expect(runGridAlongAxis(module, grid, sizes, { batch: 1, H: 2, W: 2 }, data, gpu)).rejects.toThrow(RnncError);
  });
  it('a rows-form cell whose output reads `.up` (the previous row) is refused', () => {
    const { module, grid } = cell(rows.replace('+ h.left[d] - c[d]', '+ h.up[d] - c[d]'));
    expect(grid.form).toBe('rows');
    expect(gridScanRefusal(module, grid)).toBe("rnnc: rowscan cannot run as independent rows: an output reads `.up` (across the rows, the previous row's state); the wavefront kernel runs it");
  });
  it('a pointwise cell whose outputs read both neighbours is refused', () => {
    const { module, grid } = cell(pointwise.replace('0.5 * h.left[d]', '0.5 * h.left[d] - h.up[d]'));
    expect(grid.form).toBe('pointwise');
    expect(gridScanRefusal(module, grid)).toBe('rnnc: pointwise cannot run as independent rows or columns: outputs read both `.left` and `.up`; the wavefront kernel runs it');
  });
  it('a view that is not a scan is refused by the planner for --mode scan, and runs as seq', async () => {
    const { module, grid } = cell(columns.replace('a[d] * h.up[d] + u[d] * x[d]', 'tanh(a[d] * h.up[d]) + u[d] * x[d]'));
    expect([grid.form, grid.scan]).toEqual(['columns', false]);
    const { sizes, data, want } = problem(module, 2, 5, 3, 9);
    await expect(runGridAlongAxis(module, grid, sizes, { batch: 2, H: 5, W: 3 }, data, gpu, { mode: 'scan' })).rejects.toThrow(/cannot take --mode scan/);
    expectClose(await runGridAlongAxis(module, grid, sizes, { batch: 2, H: 5, W: 3 }, data, gpu, { mode: 'seq' }), want, 1e-5, 'nonlinear columns, seq');
  });
});
