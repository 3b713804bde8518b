// The wavefront kernel of grid cells (issue 18, backends/wgsl-grid) against the float64 reference
// interpreter: a linear 2-D SSM with a learned initial state, a gated cell nonlinear in both
// neighbours with two states, a 2-D RNN whose state mixes through weight matrices, and a
// matrix-valued state (small, and past the register budget); over 1x1, 1xN, Nx1, prime sides, a grid
// taller than the workgroup (its rows loop), batch > 1, and given initial states; a state no update
// writes; the library's run(). One Dawn session for the file.
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomRunData } from '../../src/driver/data.js';
import { plan } from '../../src/driver/compile.js';
import { runGridKernel } from '../../src/driver/grid.js';
import { verifyRun } from '../../src/driver/verify.js';
import type { RunArrays } from '../../backends/backend.js';
import { GRID_WORKGROUP, gridWorkgroupFor, PRIVATE_STATE_FLOATS } from '../../backends/wgsl-grid/emit.js';
import { run as runApi } from '../../src/driver/api.js';
import { RnncError } from '../../src/driver/errors.js';
import { ciCases } from '../helpers/matrix.js';

const ssm2d = `rnn ssm2d grid {
  dims D = 3
  input  x[D], a[D], b[D]
  param  h0[D]
  state  h[D] = h0
  h[d] <- 0.5 * a[d] * h.left[d] + 0.5 * b[d] * h.up[d] + x[d]
  output y[d] = h[d]
}
`;

const gated = `rnn gated2d grid {
  dims D = 3
  input  x[D]
  param  u[D], v[D]
  state  h[D] = 0
  state  c[D] = 0.5
  let g[d] = sigmoid(u[d] * h.left[d] - v[d] * c.up[d])
  h[d] <- tanh(g[d] * h.up[d] + (1 - g[d]) * h.left[d] + x[d])
  c[d] <- 0.5 * c.left[d] * g[d] + 0.5 * h[d]
  output y[d] = h[d] * c[d]
  output z[d] = h.left[d] + c[d]
}
`;

const rnn2d = `rnn rnn2d grid {
  dims X = 2, H = 4
  input  x[X]
  param  U[H, H], V[H, H], Wx[H, X], bias[H]
  state  h[H] = 0
  h[i] <- tanh(sum(j: U[i, j] * h.left[j]) + sum(j: V[i, j] * h.up[j]) + sum(k: Wx[i, k] * x[k]) + bias[i])
  output y[i] = h[i]
}
`;

const matrix = `rnn mat2d grid {
  dims N = 3
  input  k[N], v[N], q[N]
  state  S[N, N] = 0
  S[i, j] <- 0.5 * S.left[i, j] + 0.4 * S.up[i, j] + k[i] * v[j]
  output o[i] = sum(j: S[i, j] * q[j])
}
`;

// Past the kernel's register budget (PRIVATE_STATE_FLOATS): the new state is computed in its carry slot.
const large = matrix.replace('mat2d', 'mat2d_large').replace('dims N = 3', 'dims N = 9');

type Cell = { module: Module; analysis: Analysis };
const load = (text: string): Cell => {
  const r = frontEnd(text);
  if (!r.module || !r.analysis) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r as Cell;
};

const gpu = fileGpu();

/** [H, W, batch, given initial states]: 8-wide workgroups up to 8 rows, 64-wide (its rows looping) past 64 (gridWorkgroupFor). */
const GRIDS: [number, number, number, boolean][] = [
  [1, 1, 1, false],
  [1, 13, 2, true],
  [7, 1, 2, false],
  [7, 13, 3, true],
  [GRID_WORKGROUP + 7, 3, 2, true],
];

it('picks the workgroup from the grid height: 8 to 64 invocations', () => {
  expect([1, 7, 8, 9, 33, 64, 71, 1000].map(gridWorkgroupFor)).toEqual([8, 8, 8, 16, 64, 64, 64, 64]);
});

async function expectReference(cell: Cell, H: number, W: number, batch: number, initial: boolean) {
  const sizes = bindDims(cell.module);
  const T = H * W;
  const d = randomRunData(cell.module, { batch, T, sizes, grid: { H, W } }, 1000 * H + W, { initial });
  const data: RunArrays = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, ...(d.initial ? { initialState: d.initial as Record<string, Float32Array> } : {}) };
  const c = plan(cell.module, cell.analysis, { mode: 'seq', verb: 'run' });
  expect(c.plan.why).toMatch(/wavefront/);
  const got = await runGridKernel(gpu, c, data, { batch, H, W });
  const want = interpret(cell.module, { batch, T, sizes, grid: { H, W } }, { inputs: d.inputs, params: d.params, ...(d.initial ? { initial: d.initial } : {}) });
  const v = verifyRun(got, want, 1e-5);
  expect(v.tensors.filter((t) => !t.ok)).toEqual([]);
  expect(Object.keys(got.outputs).length + Object.keys(got.finalState).length).toBe(v.tensors.length);
}

// A grid taller than 8 rows takes a wider workgroup: a second kernel, compiled cold (about 20 s for the
// matrix state on 2 cores). CI runs it for the first two cells; RNNC_TEST_MATRIX=full for all four.
describe.each([
  ['a linear 2-D SSM (h0 a param)', ssm2d, 0],
  ['a gated cell, nonlinear in both neighbours, two states', gated, 1],
  ['a 2-D RNN mixing its state through weights', rnn2d, 2],
  ['a matrix-valued state', matrix, 3],
] as const)('the wavefront kernel = the reference: %s', (_name, text, k) => {
  const cell = load(text);
  it.each(ciCases(GRIDS, ([H]) => k < 2 || H <= GRID_WORKGROUP))('%i x %i, batch %i, given initial states %s', async (H, W, batch, initial) => {
    await expectReference(cell, H, W, batch, initial);
  });
});

describe('the wavefront kernel = the reference: a matrix-valued state of 9 x 9 (new values in the carry slot)', () => {
  const cell = load(large);
  it('is past the register budget', () => expect(81).toBeGreaterThan(PRIVATE_STATE_FLOATS));
  it.each([GRIDS[0]!, GRIDS[3]!])('%i x %i, batch %i, given initial states %s', async (H, W, batch, initial) => {
    await expectReference(cell, H, W, batch, initial);
  });
});

describe('the library: run() on a grid cell', () => {
  it('runs the wavefront kernel given options.grid, and says it needs one otherwise', async () => {
    const cell = load(ssm2d);
    const [batch, H, W] = [2, 3, 4];
    const sizes = bindDims(cell.module);
    const d = randomRunData(cell.module, { batch, T: H * W, sizes, grid: { H, W } }, 7);
    const data: RunArrays = { batch, T: H * W, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array> };
    const got = await runApi(ssm2d, data, { device: gpu, grid: { H, W } });
    const want = interpret(cell.module, { batch, T: H * W, sizes, grid: { H, W } }, { inputs: d.inputs, params: d.params });
    expect(verifyRun(got, want, 1e-5).ok).toBe(true);
    await expect(runApi(ssm2d, data, { device: gpu })).rejects.toThrow(RnncError);
    await expect(runApi(ssm2d, data, { device: gpu, grid: { H: 4, W: 4 } })).rejects.toThrow(/ssm2d is a grid cell: run\(\) needs its rows and columns as options.grid = \{ H, W \} with H \* W = data.T \(12\), not 4 x 4/);
  });
});

describe('a state no update writes', () => {
  it('keeps its initial value at every position, in the kernel and the reference', async () => {
    const cell = load('rnn f grid {\n  input x\n  state h = 0\n  state k = 1\n  h <- 0.5 * h.left + 0.25 * h.up + x + k.left\n  output y = h\n}\n');
    const data: RunArrays = { batch: 1, T: 4, inputs: { x: new Float32Array(4) }, params: {} };
    const want = interpret(cell.module, { batch: 1, T: 4, sizes: {}, grid: { H: 2, W: 2 } }, { inputs: data.inputs, params: {} });
    // (0,0): 1; (0,1): 0.5 + 1; (1,0): 0.25 + 1; (1,1): 0.5 * 1.25 + 0.25 * 1.5 + 1.
    expect(Array.from(want.outputs['y']!)).toEqual([1, 1.5, 1.25, 2]);
    expect(Array.from(want.final['k']!)).toEqual([1]);
    const got = await runGridKernel(gpu, plan(cell.module, cell.analysis, {}), data, { batch: 1, H: 2, W: 2 });
    expect(verifyRun(got, want, 0).ok).toBe(true);
  });
});
