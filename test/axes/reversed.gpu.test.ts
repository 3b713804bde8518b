// Reversed cells (`rnn name reversed {`) in every mode against the reference interpreter, and the
// reference itself against an independent oracle: reverse each sequence's data by hand over its own
// length, run the forward cell in the reference, and reverse the outputs back. Lengths 1, a prime
// and a power of two plus one; variable lengths (a sequence shorter than T reverses over its own
// length); given initial states. One Dawn session for the file.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims, type DimSizes } from '../../src/compiler/ir/dims.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { interpret, type RunData } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { runPrepared } from '../../src/driver/run.js';
import { prepareRun } from '../../src/driver/compile.js';
import { run as runApi } from '../../src/driver/api.js';
import { verifyRun } from '../../src/driver/verify.js';
import type { RunArrays } from '../../backends/backend.js';
import type { Mode } from '../../src/compiler/plan/plan.js';
import { compileChunk, prepareChunk } from '../../backends/wgsl-chunk/index.js';
import { reversedText, reverseSteps } from './helpers.js';

type Cell = { module: Module; analysis: Analysis };

const load = (text: string): Cell => {
  const r = frontEnd(text);
  if (!r.module || !r.analysis) throw new Error(r.diagnostics.map((d) => d.message).join('\n'));
  return r as Cell;
};

/** Example, the modes it runs in, tolerance (float32 kernels against the float64 reference). */
const CELLS: [string, Mode[], number][] = [
  ['mamba_s6', ['seq', 'scan'], 1e-5],
  ['aaren', ['seq', 'scan'], 1e-4],
  ['deltanet', ['seq', 'chunk'], 1e-5],
  ['lstm', ['seq'], 1e-5],
];

/** [batch, T, variable lengths, given initial state] */
const CASES: [number, number, boolean, boolean][] = [
  [1, 1, false, false],
  [3, 37, true, true],
  [2, 65, false, true],
  [5, 257, true, false],
];

const gpu = fileGpu();

function dataFor(module: Module, sizes: DimSizes, batch: number, T: number, variable: boolean, initial: boolean) {
  const seed = batch * 1000 + T;
  const lengths = variable ? randomLengths(batch, T, seed) : undefined;
  const d = randomRunData(module, { batch, T, sizes }, seed, { initial });
  const arrays: RunArrays = {
    batch,
    T,
    inputs: d.inputs as Record<string, Float32Array>,
    params: d.params as Record<string, Float32Array>,
    ...(d.initial ? { initialState: d.initial as Record<string, Float32Array> } : {}),
    ...(lengths ? { lengths } : {}),
  };
  return { d, arrays, lengths };
}

describe.each(CELLS)('%s reversed', (name, modes, tolerance) => {
  const text = readFileSync(`examples/${name}.rnn`, 'utf8');
  const forward = load(text);
  const reversed = load(reversedText(text));
  const sizes = bindDims(reversed.module);

  it('is marked reversed in the IR; the forward cell is not', () => {
    expect(reversed.module.reversed).toBe(true);
    expect(forward.module.reversed).toBeUndefined();
  });

  it.each(CASES)('reference = forward cell on reversed data (batch %i, T %i, variable %s, initial %s)', (batch, T, variable, initial) => {
    const { d, lengths } = dataFor(reversed.module, sizes, batch, T, variable, initial);
    const shape = { batch, T, sizes, ...(lengths ? { lengths } : {}) };
    const got = interpret(reversed.module, shape, d);
    const flipped: RunData = { ...d, inputs: Object.fromEntries(tensorsOf(forward.module, 'input').map((t) => [t.name, reverseSteps(d.inputs[t.name]!, batch, T, lengths)])) };
    const oracle = interpret(forward.module, shape, flipped);
    for (const o of tensorsOf(forward.module, 'output')) expect(got.outputs[o.name]).toEqual(reverseSteps(oracle.outputs[o.name]!, batch, T, lengths));
    for (const s of tensorsOf(forward.module, 'state')) expect(got.final[s.name]).toEqual(oracle.final[s.name]);
  });

  describe.each(modes)('mode %s', (mode) => {
    it.each(CASES)('= reference (batch %i, T %i, variable %s, initial %s)', async (batch, T, variable, initial) => {
      const { d, arrays, lengths } = dataFor(reversed.module, sizes, batch, T, variable, initial);
      const got = await runPrepared(gpu, prepareRun(reversed, { mode, dims: sizes }, { batch, T }), arrays, sizes);
      const ref = interpret(reversed.module, { batch, T, sizes, ...(lengths ? { lengths } : {}) }, d);
      const failing = verifyRun(got, ref, tolerance)
        .tensors.filter((t) => !t.ok)
        .map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index} (gpu ${t.worst?.gpu}, ref ${t.worst?.ref})`);
      expect(failing).toEqual([]);
    });
  });
});

describe('segmented runs of a reversed cell', () => {
  it.each([['seq'], ['scan']] as [Mode][])('%s: pieces of 16 steps, run last piece first, give the one-piece result', async (mode) => {
    const text = reversedText(readFileSync('examples/mamba_s6.rnn', 'utf8'));
    const cell = load(text);
    const sizes = bindDims(cell.module);
    const [batch, T] = [3, 53];
    const { d, arrays, lengths } = dataFor(cell.module, sizes, batch, T, true, true);
    const got = await runApi(text, arrays, { device: gpu, segment: 16, plan: { mode } });
    const ref = interpret(cell.module, { batch, T, sizes, lengths: lengths! }, d);
    expect(verifyRun(got, ref, 1e-5).tensors.filter((t) => !t.ok)).toEqual([]);
  });
});

describe('chunked kernels of a reversed cell: several chunks, both forms, both replays', () => {
  // [spec, chunk, replay]: the dense form (test/chunk/fixtures/dense.rnn), and the WY form fused and in parallel.
  const FORMS: [string, number, 'fused' | 'parallel'][] = [
    ['test/chunk/fixtures/dense.rnn', 8, 'fused'],
    ['examples/deltanet.rnn', 8, 'fused'],
    // Chunks of 8: at 16 the parallel replay's carry pass took 17 s of lavapipe CPU to compile cold.
    ['examples/deltanet.rnn', 8, 'parallel'],
  ];
  it.each(FORMS)('%s, chunks of %i, %s replay, = reference (batch 3, T 37 and 65, variable lengths, given initial state)', async (path, chunk, replay) => {
    const cell = load(reversedText(readFileSync(path, 'utf8')));
    const sizes = bindDims(cell.module);
    const kernels = compileChunk(cell.module, sizes, { chunk, analysis: cell.analysis, replay });
    expect(kernels.shape.time.reversed).toBe(true);
    if (kernels.shape.form === 'wy') expect(Object.keys(kernels.passes).length).toBe(replay === 'fused' ? 2 : 3);
    for (const T of [37, 65]) {
      const { d, arrays, lengths } = dataFor(cell.module, sizes, 3, T, true, true);
      const got = await runPrepared(gpu, prepareChunk(cell.module, kernels, { batch: 3, T }), arrays, sizes);
      const ref = interpret(cell.module, { batch: 3, T, sizes, lengths: lengths! }, d);
      expect(verifyRun(got, ref, 1e-5).tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: ${t.maxErr}`), `T=${T}`).toEqual([]);
    }
  });
});
