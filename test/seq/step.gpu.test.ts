// The step kernel (backends/wgsl-seq/emit.ts SeqStepKernel): at sizes where a step outweighs a
// dispatch, the seq backend runs a nonlinear cell's step as a kernel of its own, dispatched once per
// step, its states swapping between two buffers. The planner records it (decision and why); runs
// match the float64 reference interpreter with variable lengths and a given initial state: a full
// tile of 4 sequences and a partial one (batch 5), one sequence (a tile of 1, emitted for the batch),
// rows that are not a multiple of the workgroup (H = 160), a cell reversed in time, a state too large
// for the loop kernel's workgroup memory (H = 512), lanes over 8 sequences from a batch of 8
// (step-subgroup.ts: batch 9, one live lane in the second subgroup), and the loop kernel below the
// size bound.
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
// GRU reversed in time: a sequence of length L takes its steps at positions L-1 .. 0.
const gruReversed = cellOf(readFileSync('examples/gru.rnn', 'utf8').replace('rnn gru {', 'rnn gru_reversed reversed {'));

describe('the step kernel', () => {
  it('is planned at sizes where a step outweighs a dispatch, with its tile and why; the loop below', () => {
    const big = plan(lstm.module, lstm.analysis, { mode: 'seq', dims: bindDims(lstm.module, { X: 64, H: 128 }) }).plan;
    expect(big.decision).toEqual({ mode: 'seq', step: 'dispatch', tile: 4, lanes: 'sequences', prepass: 'subgroups' });
    expect(big.why).toMatch(/from a batch of 8, the step with lanes over 8 sequences, each recurrent weight vec4 loaded once and shared by subgroupBroadcast/);
    // Without subgroups: the tile only.
    expect(plan(lstm.module, lstm.analysis, { mode: 'seq', dims: bindDims(lstm.module, { X: 64, H: 128 }), target: { subgroups: false } }).plan.decision).toEqual({ mode: 'seq', step: 'dispatch', tile: 4 });
    expect(big.why).toMatch(/one dispatch per step .*2 workgroups of 64 elements per sequence.*4 sequences per invocation/);
    expect(plan(lstm.module, lstm.analysis, { mode: 'seq', dims: bindDims(lstm.module, { X: 4, H: 512 }) }).plan.decision).toEqual({ mode: 'seq', step: 'dispatch', tile: 4, lanes: 'sequences', prepass: 'subgroups' });
    const small = plan(lstm.module, lstm.analysis, { mode: 'seq', dims: bindDims(lstm.module) }).plan;
    expect(small.decision).toEqual({ mode: 'seq' });
    expect(emit(plan(lstm.module, lstm.analysis, { mode: 'seq', dims: bindDims(lstm.module) })).kernels.map((k) => k.file)).not.toContain('lstm.step.wgsl');
    // f16 storage keeps the loop kernel.
    expect(plan(lstm.module, lstm.analysis, { mode: 'seq', dims: bindDims(lstm.module, { X: 64, H: 128 }), precision: 'f16-storage' }).plan.decision).toEqual({ mode: 'seq' });
  });

  it.each([
    ['lstm', 64, 128, 5, 7, lstm],
    ['lstm', 64, 128, 1, 5, lstm],
    ['gru', 32, 160, 3, 6, gru],
    ['gru reversed', 32, 160, 3, 6, gruReversed],
    // Past the loop kernel's workgroup memory (it runs one invocation per sequence there): the step
    // kernel keeps its lets in registers and stages only h.
    ['lstm', 4, 512, 3, 4, lstm],
    // From a batch of 8, lanes over 8 sequences (step-subgroup.ts): a full subgroup and one lane of a second.
    ['lstm', 64, 128, 9, 5, lstm],
    ['gru reversed', 32, 160, 8, 6, gruReversed],
  ] as const)('%s X %i H %i, batch %i, T %i = the reference (variable lengths, given initial state)', async (_, X, H, batch, T, cell) => {
    const module = cell.module;
    const sizes = bindDims(module, { X, H });
    const compiled = emit(plan(module, cell.analysis, { mode: 'seq', dims: sizes }));
    expect(compiled.kernels.map((k) => k.file)).toContain(`${module.name}.step.wgsl`);
    const prepared = compiled.prepare({ batch, T });
    expect(prepared.dispatches.map((d) => d.label)).toContain(`${module.name}.seq.step (x${T}, one per step)`);
    expect(prepared.shaders[`${module.name}.seq.step`]!.includes('subgroupBroadcast')).toBe(batch >= 8);
    const seed = batch * 1000 + T;
    const lengths = batch > 1 ? randomLengths(batch, T, seed) : undefined;
    const d = randomRunData(module, { batch, T, sizes }, seed, { initial: true });
    // Weights at a tenth of the default scale: at H = 128 the default makes the cells chaotic, and
    // float32 differences double every few steps.
    const params = Object.fromEntries(Object.entries(d.params).map(([k, v]) => [k, Float32Array.from(v, (x) => x / 10)]));
    const data: RunArrays = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params, initialState: d.initial as Record<string, Float32Array>, ...(lengths ? { lengths } : {}) };
    const got = await runPrepared(gpu, prepared, data, sizes);
    const ref = interpret(module, { batch, T, sizes, ...(lengths ? { lengths } : {}) }, { ...d, params });
    const v = verifyRun(got, ref, TOLERANCE);
    expect(v.tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index}`)).toEqual([]);
    const y = got.outputs['y']!;
    expect(y.some((x) => Math.abs(x) > 0.05)).toBe(true);
    // Steps past a sequence's length write zeros.
    if (lengths) for (let b = 0; b < batch; b++) expect(y.subarray((b * T + lengths[b]!) * H, (b + 1) * T * H).every((x) => x === 0), `y past length, sequence ${b}`).toBe(true);
  });
});
