// The chunked kernels of every matrix-affine example match the sequential kernel and the reference
// interpreter (float64): lengths that are not multiples of the chunk size (and shorter than one
// chunk), batch sizes 1 to 33, variable lengths and given initial states, several chunk sizes.
// And the parity cell stays exact over random bit strings of 10,000 steps. One Dawn session.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { runPrepared } from '../../src/driver/run.js';
import { prepareRun } from '../../src/driver/compile.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { verifyRun } from '../../src/driver/verify.js';
import type { RunArrays } from '../../backends/wgsl-seq/pack.js';
import { compileChunk, prepareChunk } from '../../backends/wgsl-chunk/index.js';
import { ciCases } from '../helpers/matrix.js';

const load = (path: string) => frontEnd(readFileSync(path, 'utf8')) as { module: Module; analysis: Analysis };

/**
 * Largest allowed |gpu - ref| / (1 + |ref|) (float32 kernels vs the float64 reference), 3-5x the
 * largest error seen on lavapipe over CASES for either kernel.
 */
const CELLS: [string, number][] = [
  ['examples/deltanet.rnn', 2e-6],
  ['examples/gated_deltanet.rnn', 2e-6],
  ['examples/deltaproduct2.rnn', 3e-6],
  ['examples/deltaproduct3.rnn', 3e-6],
  ['examples/rwkv7.rnn', 2e-6],
  ['examples/modcount.rnn', 1e-7],
  ['test/chunk/fixtures/dense.rnn', 1e-6],
];

/** [batch, T, chunk size, variable lengths, given initial state] */
const CASES: [number, number, number, boolean, boolean][] = [
  [1, 1, 4, false, false],
  [2, 3, 4, true, true],
  [1, 29, 4, false, true],
  [5, 29, 8, true, false],
  [33, 13, 4, true, true],
  [3, 100, 32, true, true],
  [2, 257, 16, false, false],
];

const gpu = fileGpu();

/**
 * Each chunk size is a kernel compiled cold (3-10 s on 2 cores). CI runs every cell's chunk-4 cases, and
 * each other chunk size for one of the first three cells, so that every size and every cell still runs.
 */
const casesOf = (cell: number) => ciCases(CASES, ([, , chunk]) => chunk === 4 || chunk === OTHER_CHUNKS[cell]);
const OTHER_CHUNKS = [8, 32, 16];

describe.each(CELLS.map((c, k) => [...c, k] as const))('%s chunked', (path, tolerance, k) => {
  const cell = load(path);
  const module = cell.module;
  const sizes = bindDims(module);

  it.each(casesOf(k))('batch %i, T %i, chunk %i (variable lengths: %s, given initial state: %s)', async (batch, T, chunk, variable, initial) => {
    const seed = batch * 1000 + T + chunk;
    const lengths = variable ? randomLengths(batch, T, seed) : undefined;
    const d = randomRunData(module, { batch, T, sizes }, seed, { initial });
    const data: RunArrays = {
      batch,
      T,
      inputs: d.inputs as Record<string, Float32Array>,
      params: d.params as Record<string, Float32Array>,
      ...(d.initial ? { initialState: d.initial as Record<string, Float32Array> } : {}),
      ...(lengths ? { lengths } : {}),
    };
    const ref = interpret(module, { batch, T, sizes, ...(lengths ? { lengths } : {}) }, d);
    const chunked = await runPrepared(gpu, prepareRun(cell, { mode: 'chunk', chunk, dims: sizes }, { batch, T }), data, sizes);
    const seq = await runPrepared(gpu, prepareRun(cell, { mode: 'seq', dims: sizes }, { batch, T }), data, sizes);
    for (const [kernel, got] of [['chunk', chunked], ['seq', seq]] as const) {
      const v = verifyRun(got, ref, tolerance);
      expect(v.tensors.filter((t) => !t.ok).map((t) => `${kernel} ${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index}`)).toEqual([]);
    }
    // Steps past a sequence's length write zeros.
    if (lengths) {
      const [name, y] = Object.entries(chunked.outputs)[0]!;
      const per = y.length / (batch * T);
      for (let b = 0; b < batch; b++) expect(y.subarray((b * T + lengths[b]!) * per, (b + 1) * T * per).every((x) => x === 0), `${name} past length, sequence ${b}`).toBe(true);
    }
  });
});

/**
 * The low-rank examples at K = V = 64 (and DeltaNet at 128), where only the WY form fits: ragged
 * lengths, a given initial state, a partial last chunk. [path, K, batch, T, chunk, tolerance]
 */
const LARGE: [string, number, number, number, number, number, 'fused' | 'parallel'][] = [
  ['examples/deltanet.rnn', 64, 3, 75, 32, 1e-5, 'fused'],
  ['examples/gated_deltanet.rnn', 64, 3, 75, 32, 1e-5, 'fused'],
  ['examples/deltaproduct2.rnn', 64, 2, 70, 16, 1e-5, 'fused'],
  ['examples/deltaproduct3.rnn', 64, 2, 70, 32, 1e-5, 'fused'],
  ['examples/rwkv7.rnn', 64, 3, 75, 32, 1e-5, 'fused'],
  ['examples/deltanet.rnn', 128, 2, 40, 32, 1e-5, 'fused'],
  // The parallel steps pass (ChunkOptions.replay), with and without a decay.
  ['examples/deltanet.rnn', 64, 3, 75, 16, 1e-5, 'parallel'],
  ['examples/rwkv7.rnn', 64, 3, 75, 32, 1e-5, 'parallel'],
];

describe('the low-rank examples at large K, in WY form', () => {
  it.each(LARGE)('%s at K = V = %i (batch %i, T %i, chunk %i, replay %s)', async (path, K, batch, T, chunk, tolerance, replay) => {
    const cell = load(path);
    const sizes = bindDims(cell.module, { K, V: K });
    const seed = K + T;
    const lengths = randomLengths(batch, T, seed);
    lengths[0] = T; // one sequence runs to the end
    const d = randomRunData(cell.module, { batch, T, sizes }, seed, { initial: true });
    const data: RunArrays = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, initialState: d.initial as Record<string, Float32Array>, lengths };
    const prepared =
      replay === 'fused'
        ? prepareRun(cell, { mode: 'chunk', chunk, dims: sizes }, { batch, T })
        : prepareChunk(cell.module, compileChunk(cell.module, sizes, { chunk, analysis: cell.analysis, replay }), { batch, T });
    expect(Object.keys(prepared.shaders).length).toBe(replay === 'fused' ? 2 : 3);
    const got = await runPrepared(gpu, prepared, data, sizes);
    const ref = interpret(cell.module, { batch, T, sizes, lengths }, d);
    const v = verifyRun(got, ref, tolerance);
    expect(v.tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index}`)).toEqual([]);
    const [name, y] = Object.entries(got.outputs)[0]!;
    const per = y.length / (batch * T);
    for (let b = 0; b < batch; b++) expect(y.subarray((b * T + lengths[b]!) * per, (b + 1) * T * per).every((x) => x === 0), `${name} past length, sequence ${b}`).toBe(true);
  });
});

describe('modcount.rnn solves parity exactly', () => {
  const cell = load('examples/modcount.rnn');
  const module = cell.module;
  const sizes = bindDims(module);

  it('on random bit strings of 10,000 steps (batch 4), chunked and sequential', async () => {
    const [batch, T] = [4, 10_000];
    const bits = randomRunData(module, { batch, T, sizes }, 2025).inputs.bit!.map((x) => (x > 0 ? 1 : 0));
    const data: RunArrays = { batch, T, inputs: { bit: Float32Array.from(bits) }, params: {} };
    const expected = new Float32Array(batch * T);
    for (let b = 0; b < batch; b++) for (let t = 0, odd = 0; t < T; t++) expected[b * T + t] = odd ^= bits[b * T + t]!;
    expect(expected.reduce((n, x) => n + x, 0)).toBeGreaterThan(T); // both parities occur, often
    for (const options of [{ mode: 'chunk', chunk: 64 }, { mode: 'chunk' }, { mode: 'seq' }] as const) {
      const got = await runPrepared(gpu, prepareRun(cell, { ...options, dims: sizes }, { batch, T }), data, sizes);
      expect(Array.from(got.outputs.odd!)).toEqual(Array.from(expected));
      const finalOdd = Array.from({ length: batch }, (_, b) => expected[b * T + T - 1]!);
      expect(Array.from(got.finalState.h!)).toEqual(finalOdd.flatMap((o) => (o ? [-1, -1] : [1, 1])));
    }
  });
});
