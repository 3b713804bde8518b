// The pre-pass over subgroups (backends/wgsl-seq/prepass-subgroup.ts): lanes over 8 step rows, each
// weight vec4 loaded once and shared by subgroupBroadcast. The planner takes it where the target has
// subgroups and the rows pre-pass would run (weights of at least 4096 floats in its sums), and
// records it; runs match the float64 reference interpreter with variable lengths and batch * T not a
// multiple of 8 (a workgroup with lanes past the last row): LSTM (four projections in one loop), GRU
// with X = 72 (18 quads: a second, ragged block), a cell whose pre-pass applies a bias and tanh to its
// sum, and the rows pre-pass without subgroups (the fallback).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { runPrepared } from '../../src/driver/run.js';
import { emit, plan } from '../../src/driver/compile.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { verifyRun } from '../../src/driver/verify.js';
import type { RunArrays } from '../../backends/wgsl-seq/pack.js';

const TOLERANCE = 1e-4;

const gpu = fileGpu();

const cellOf = (source: string) => frontEnd(source) as { module: Module; analysis: Analysis };
const lstm = cellOf(readFileSync('examples/lstm.rnn', 'utf8'));
const gru = cellOf(readFileSync('examples/gru.rnn', 'utf8'));
// A pre-pass definition that is more than its sum: the whole let `a` is state-independent.
const gated = cellOf(`rnn gated {
  dims X = 72, H = 64
  input  x[X]
  param  W[H, X], b[H], U[H, H]
  state  h[H] = 0
  let a[k] = tanh(sum(j: W[k, j] * x[j]) + b[k])
  h[k] <- a[k] * tanh(sum(m: U[k, m] * h[m])) + 0.5 * h[k]
  output y[k] = h[k]
}
`);

describe('the subgroup pre-pass', () => {
  it('is planned where the target has subgroups and the rows pre-pass would run, and says why', () => {
    const sizes = bindDims(lstm.module, { X: 32, H: 32 });
    const chosen = plan(lstm.module, lstm.analysis, { mode: 'seq', dims: sizes }).plan;
    expect(chosen.decision).toEqual({ mode: 'seq', prepass: 'subgroups' });
    expect(chosen.why).toMatch(/its pre-pass runs 8 step rows per subgroup, each weight vec4 loaded once and shared by subgroupBroadcast/);
    expect(plan(lstm.module, lstm.analysis, { mode: 'seq', dims: sizes, target: { subgroups: false } }).plan.decision).toEqual({ mode: 'seq' });
    // The example's own sizes (128 weight floats) keep the one-invocation-per-row pre-pass; f16 storage keeps the rows one.
    expect(plan(lstm.module, lstm.analysis, { mode: 'seq', dims: bindDims(lstm.module) }).plan.decision).toEqual({ mode: 'seq' });
    expect(plan(lstm.module, lstm.analysis, { mode: 'seq', dims: sizes, precision: 'f16-storage' }).plan.decision).toEqual({ mode: 'seq' });
    // With the step kernel too.
    expect(plan(lstm.module, lstm.analysis, { mode: 'seq', dims: bindDims(lstm.module, { X: 64, H: 128 }) }).plan.decision).toEqual({ mode: 'seq', step: 'dispatch', tile: 4, lanes: 'sequences', prepass: 'subgroups' });
    // The files `rnnc compile` writes keep the rows pre-pass (the host module does not check for subgroups).
    const compiled = emit(plan(lstm.module, lstm.analysis, { mode: 'seq', dims: sizes }));
    expect(compiled.kernels.find((k) => k.file === 'lstm.project.wgsl')!.wgsl).not.toContain('subgroupBroadcast');
    expect(compiled.prepare({ batch: 2, T: 3 }).shaders['lstm.seq.project']).toContain('subgroupBroadcast');
  });

  it.each([
    ['lstm X 32 H 32, the four projections in one loop', lstm, { X: 32, H: 32 }, 3, 5, true],
    ['gru X 72 H 24, a ragged second block', gru, { X: 72, H: 24 }, 3, 7, true],
    ['a pre-pass with a bias and tanh after its sum, two blocks', gated, { X: 72, H: 64 }, 2, 5, true],
    ['lstm X 32 H 32 without subgroups: the rows pre-pass', lstm, { X: 32, H: 32 }, 3, 5, false],
  ] as const)('%s = the reference (variable lengths, batch * T not a multiple of 8)', async (_, cell, dims, batch, T, subgroups) => {
    const module = cell.module;
    const sizes = bindDims(module, dims);
    const compiled = emit(plan(module, cell.analysis, { mode: 'seq', dims: sizes, target: { subgroups } }));
    const prepared = compiled.prepare({ batch, T });
    expect(prepared.shaders[`${module.name}.seq.project`]!.includes('subgroupBroadcast')).toBe(subgroups);
    const seed = batch * 1000 + T;
    const lengths = randomLengths(batch, T, seed);
    const d = randomRunData(module, { batch, T, sizes }, seed, { initial: true });
    const data: RunArrays = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, initialState: d.initial as Record<string, Float32Array>, lengths };
    const job = prepared.job(data);
    expect(job.requiredFeatures ?? []).toEqual(subgroups ? ['subgroups'] : []);
    const got = await runPrepared(gpu, prepared, data, sizes);
    const ref = interpret(module, { batch, T, sizes, lengths }, d);
    const v = verifyRun(got, ref, TOLERANCE);
    expect(v.tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index}`)).toEqual([]);
    expect(got.outputs['y']!.some((x) => Math.abs(x) > 0.05)).toBe(true);
  });
});
