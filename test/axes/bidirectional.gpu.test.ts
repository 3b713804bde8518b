// A bidirectional cell (examples/bimamba.rnn: a forward selective scan and, in its `reversed { ... }`
// block, a backward one) against an independent oracle built from forward cells only: the forward
// part is Mamba on the data as given; the backward part is Mamba (without the skip term) on each
// sequence's data reversed by hand over its own length, its outputs reversed back. Then every mode
// that takes the cell (seq, scan in several splits and schedules) against the reference, over
// lengths 1, a prime and a power of two plus one, variable lengths and given initial states. Chunk
// would run it as its two parts (bidirectional-parts.gpu.test.ts), and refuses its diagonal forward part.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims, type DimSizes } from '../../src/compiler/ir/dims.js';
import { type Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { interpret, type RunData } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { runPrepared } from '../../src/driver/run.js';
import { plan, prepareRun } from '../../src/driver/compile.js';
import { verifyRun } from '../../src/driver/verify.js';
import type { RunArrays } from '../../backends/backend.js';
import type { Mode } from '../../src/compiler/plan/plan.js';
import { compileScan } from '../../backends/wgsl-scan/index.js';
import { buildScanJob } from '../../backends/wgsl-scan/index.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { expectClose, referenceRun } from '../scan/helpers.js';
import { reverseSteps } from './helpers.js';

type Cell = { module: Module; analysis: Analysis };
const load = (text: string): Cell => {
  const r = frontEnd(text);
  if (!r.module || !r.analysis) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  return r as Cell;
};

const bimamba = load(readFileSync('examples/bimamba.rnn', 'utf8'));
const sizes = bindDims(bimamba.module);
const forwardMamba = load(readFileSync('examples/mamba_s6.rnn', 'utf8'));
/** The backward part as a forward cell of its own (Mamba without the skip term). */
const backwardPart = load(`rnn back {
  dims D = 8, N = 4
  input  x[D], dt[D], B[N], C[N]
  param  A_log[D, N]
  state  h[D, N] = 0
  let step[d] = softplus(dt[d])
  h[d, n] <- exp(-step[d] * exp(A_log[d, n])) * h[d, n] + step[d] * B[n] * x[d]
  output y[d] = sum(n: h[d, n] * C[n])
}
`);

/** [batch, T, variable lengths, given initial state] */
const CASES: [number, number, boolean, boolean][] = [
  [1, 1, false, false],
  [3, 37, true, true],
  [2, 65, false, true],
  [4, 257, true, false],
];

function dataFor(batch: number, T: number, variable: boolean, initial: boolean, seed = batch * 1000 + T) {
  const lengths = variable ? randomLengths(batch, T, seed) : undefined;
  const d = randomRunData(bimamba.module, { batch, T, sizes }, seed, { initial });
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

describe('bimamba: the reference against forward cells', () => {
  it.each(CASES)('batch %i, T %i (variable %s, initial %s)', (batch, T, variable, initial) => {
    const { d, lengths } = dataFor(batch, T, variable, initial);
    const shape = { batch, T, sizes, ...(lengths ? { lengths } : {}) };
    const got = interpret(bimamba.module, shape, d);
    const i = d.inputs;
    const fwd = interpret(forwardMamba.module, shape, {
      inputs: { x: i['x']!, dt: i['dt_f']!, B: i['B_f']!, C: i['C_f']! },
      params: { A_log: d.params['A_log_f']!, Dskip: d.params['Dskip']! },
      ...(d.initial ? { initial: { h: d.initial['hf']! } } : {}),
    });
    const flip = (a: Float32Array | Float64Array) => reverseSteps(a, batch, T, lengths);
    const back: RunData = {
      inputs: { x: flip(i['x']!), dt: flip(i['dt_b']!), B: flip(i['B_b']!), C: flip(i['C_b']!) },
      params: { A_log: d.params['A_log_b']! },
      ...(d.initial ? { initial: { h: d.initial['hb']! } } : {}),
    };
    const bwd = interpret(backwardPart.module, shape, back);
    expect(got.outputs['yf']).toEqual(fwd.outputs['y']);
    expect(got.final['hf']).toEqual(fwd.final['h']);
    expect(got.outputs['yb']).toEqual(flip(bwd.outputs['y']!));
    expect(got.final['hb']).toEqual(bwd.final['h']);
  });
});

const gpu = fileGpu();

describe.each(['seq', 'scan'] as Mode[])('bimamba in mode %s', (mode) => {
  it.each(CASES)('= reference (batch %i, T %i, variable %s, initial %s)', async (batch, T, variable, initial) => {
    const { d, arrays, lengths } = dataFor(batch, T, variable, initial);
    const got = await runPrepared(gpu, prepareRun(bimamba, { mode, dims: sizes }, { batch, T }), arrays, sizes);
    const ref = interpret(bimamba.module, { batch, T, sizes, ...(lengths ? { lengths } : {}) }, d);
    const failing = verifyRun(got, ref, 1e-5)
      .tensors.filter((t) => !t.ok)
      .map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index} (gpu ${t.worst?.gpu}, ref ${t.worst?.ref})`);
    expect(failing).toEqual([]);
  });
});

describe('bimamba: other scan forms, and chunk', () => {
  it.each([
    ['tile', 'reduce-then-scan'],
    ['thread', 'reduce-then-scan'],
    ['tile', 'carry'],
  ] as const)('%s split, %s, tiny tiles, T = 65 with variable lengths', async (split, strategy) => {
    const session = await GpuSession.open();
    try {
      const { arrays } = dataFor(3, 65, true, true, 7);
      const options = { tile: split === 'tile' ? { split, runs: 2, runLength: 2 } : { split, runLength: 2, width: 4 }, subgroups: false, strategy, targetBlocks: 1000, topMax: 4 } as const;
      const kernels = compileScan(bimamba.module, bimamba.analysis.plan!, sizes, options);
      const job = buildScanJob(bimamba.module, kernels, arrays, options);
      expect(job.schedule.strategy).toBe(strategy);
      const got = job.decode((await session.run(job.job)).buffers);
      expectClose(got, referenceRun(bimamba.module, arrays), 1e-5, `${split} ${strategy}`);
    } finally {
      await session.close();
    }
  });

  it('chunk: it would run as two parts, and the forward one (diagonal) is refused, named', () => {
    expect(() => plan(bimamba.module, bimamba.analysis, { mode: 'chunk', dims: sizes as DimSizes })).toThrow(/bimamba cannot take --mode chunk: it would run as two parts, one direction of time each, and its forward statements \(bimamba_forward\) cannot: `hf` is not a dense or low-rank/);
  });
});
