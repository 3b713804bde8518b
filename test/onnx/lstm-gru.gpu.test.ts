// The sequential LSTM and GRU kernels on Dawn against ONNX Runtime's LSTM and GRU operators given
// the same weights, inputs, initial states and sequence lengths: outputs and final states agree to
// 1e-5 (|gpu - ort| / (1 + |ort|), both float32), scaled by the square root of the terms a gate's
// sums add up (/ 16) where that is larger: both round every term, in different orders.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { runPrepared } from '../../src/driver/run.js';
import { prepareRun } from '../../src/driver/compile.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { tensorError } from '../../src/driver/verify.js';
import { ortCell } from './oracle.js';

const TOLERANCE = 1e-5;

const gpu = fileGpu();

describe.each([
  { op: 'LSTM' as const, file: 'examples/lstm.rnn', states: ['h', 'c'] },
  { op: 'GRU' as const, file: 'examples/gru.rnn', states: ['h'] },
])('$op kernel vs ONNX Runtime', ({ op, file, states }) => {
  const cell = frontEnd(readFileSync(file, 'utf8')) as { module: Module; analysis: Analysis };
  const module = cell.module;

  // [batch, T, X, H]: the example's sizes, then a wider state than one workgroup's invocations share
  // evenly (and rows not a multiple of 4: no vec4 loads), then one unit, and sizes whose input
  // projections (pre-pass) and recurrent products run 4 terms at a time, one of them over X = 1000
  // (few steps: at H = 128 random weights make GRU chaotic, float32 differences double every ~2 steps).
  it.each([
    [1, 1, 4, 8],
    [5, 67, 4, 8],
    [3, 40, 7, 37],
    [2, 5, 1, 1],
    [4, 6, 64, 128],
    [2, 6, 1000, 300],
  ])('batch %i, T %i, X %i, H %i, variable lengths and a given initial state', async (batch, T, X, H) => {
    const sizes = bindDims(module, { X, H });
    const seed = batch * 100 + T;
    const lengths = batch > 1 ? randomLengths(batch, T, seed) : Int32Array.from([T]);
    const d = randomRunData(module, { batch, T, sizes }, seed, { initial: true });
    const f32 = (r: Record<string, Float32Array | Float64Array>) => r as Record<string, Float32Array>;
    const got = await runPrepared(gpu, prepareRun(cell, { mode: 'seq', dims: sizes }, { batch, T }), { batch, T, inputs: f32(d.inputs), params: f32(d.params), initialState: f32(d.initial!), lengths }, sizes);
    const ort = await ortCell(op, { batch, T, X, H, x: f32(d.inputs)['x']!, params: f32(d.params), initialState: f32(d.initial!), lengths });

    const tolerance = TOLERANCE * Math.max(1, Math.sqrt((X + H) / 16));
    const errors = [tensorError('y', 'output', got.outputs['y']!, ort.y, tolerance), ...states.map((s) => tensorError(s, 'state', got.finalState[s]!, ort.state[s]!, tolerance))];
    expect(errors.filter((e) => !e.ok).map((e) => `${e.name}: ${e.maxErr} at ${e.worst?.index}`)).toEqual([]);
    // A real comparison: the outputs are not all zero.
    expect(got.outputs['y']!.some((v) => Math.abs(v) > 0.05)).toBe(true);
  });
});
