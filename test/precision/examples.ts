// Shared by the *.gpu.test.ts files here: every example in f16-storage mode, in one mode the planner
// offers it, against the float64 reference on the same f16-rounded inputs and params
// (src/driver/precision.ts). Per example and mode the kernels compile once and run three times: T = 1;
// T = 13 (a prime); T = 1000 with variable lengths 1, 13 and 1000 in one batch (a given initial state).
// Outputs (stored as f16) must be within KERNEL_BOUND + 2^-11 of the reference, final states (f32)
// within KERNEL_BOUND, both as |gpu - ref| / (1 + |ref|). docs/precision.md has the measured errors.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomRunData } from '../../src/driver/data.js';
import { openGpu, runPrepared } from '../../src/driver/run.js';
import { emit, plan } from '../../src/driver/compile.js';
import { storedData, verifyAtPrecision } from '../../src/driver/precision.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import type { Mode, Target } from '../../src/compiler/plan/plan.js';
import type { Device } from '../../src/runtime/device.js';
import type { RunArrays } from '../../backends/run-data.js';
import { roundHalf } from '../../src/compiler/plan/half.js';
import { ciCases } from '../helpers/matrix.js';

/**
 * The kernel's share of the error, |gpu - ref| / (1 + |ref|), per example: about 3x the largest seen
 * on lavapipe over the runs below in every mode (f32 arithmetic on f16 values; the f16 rounding of the
 * outputs, at most 2^-11 of them, comes on top). Exact for max/min selections.
 */
export const KERNEL_BOUND: Record<string, number> = {
  'aaren.rnn': 2e-5,
  'bimamba.rnn': 1e-6,
  'deltanet.rnn': 1e-6,
  'deltaproduct2.rnn': 2e-6,
  'deltaproduct3.rnn': 2e-6,
  'gated_deltanet.rnn': 1e-6,
  'gla.rnn': 1e-5,
  'gru.rnn': 1e-6,
  'gru_diag.rnn': 1e-6,
  'lru.rnn': 1e-6,
  'lstm.rnn': 1e-6,
  'lstm_diag.rnn': 1e-6,
  'mamba_s6.rnn': 2e-6,
  'maxplus.rnn': 2e-6,
  'mingru.rnn': 1e-6,
  'minmax.rnn': 0,
  'modcount.rnn': 2e-6,
  'parity.rnn': 2e-6,
  'rwkv7.rnn': 2e-6,
};

const allExamples = readdirSync('examples').filter((f) => f.endsWith('.rnn')).sort();
const isGrid = (file: string) => frontEnd(readFileSync(`examples/${file}`, 'utf8')).module?.grid !== undefined;
/** The grid cells (issue 18) are left out: these files check f16 storage in the time kernels (seq, scan, chunk). */
export const gridExamples = allExamples.filter(isGrid);
export const examples = allExamples.filter((f) => !isGrid(f));

/** [batch, T, lengths] */
const RUNS: [number, number, number[] | undefined][] = [
  [2, 1, undefined],
  [2, 13, undefined],
  [3, 1000, [1, 13, 1000]],
];

/**
 * Declares the tests of one mode: an example the planner does not offer `mode` to is listed with the
 * planner's reason (a test that checks the refusal is a refusal, not a crash). `target` plans for
 * another adapter (the scan's chained pass needs `lookBack`); `runs` replaces RUNS; `only` keeps the
 * plans it accepts (others are listed as 'not this variant').
 */
export function f16Examples(mode: Mode, options: { target?: Target; runs?: typeof RUNS; only?: (c: { plan: { decision: object } }) => boolean; unitDims?: boolean; ciHalf?: 0 | 1 } = {}) {
  let gpu: Device;
  beforeAll(async () => {
    gpu = await openGpu();
  });
  afterAll(async () => {
    await gpu?.close();
  });

  // ciHalf: CI runs every other example (by index) in this mode; the others' f16 storage runs in seq
  // (every example), and all of them here under RNNC_TEST_MATRIX=full.
  const files = options.ciHalf === undefined ? examples : ciCases(examples, (_f, k) => k % 2 === options.ciHalf);
  describe.each(files)(`%s, f16 storage, --mode ${mode}`, (file) => {
    const cell = frontEnd(readFileSync(`examples/${file}`, 'utf8')) as { module: Module; analysis: Analysis };
    const module = cell.module;
    // unitDims: every dim of size 1 (one float per step: what the scan's chained pass takes).
    const sizes = bindDims(module, options.unitDims ? Object.fromEntries(module.dims.map((d) => [d.name, 1])) : {});
    let refused: string | undefined;
    let compilation: ReturnType<typeof plan> | undefined;
    try {
      compilation = plan(module, cell.analysis, { mode, dims: sizes, precision: 'f16-storage', ...(options.target ? { target: options.target } : {}) });
      if (options.only && !options.only(compilation)) [refused, compilation] = ['not this variant', undefined];
    } catch (e) {
      refused = (e as Error).message;
      expect(refused).toContain(`cannot take --mode ${mode}`);
    }
    if (!compilation) {
      it(`is not offered ${mode}`, () => expect(refused).toBeTruthy());
      return;
    }
    const c = compilation;
    const compiled = emit(c);
    it.each(options.runs ?? RUNS)('batch %i, T %i, lengths %j', async (batch, T, lengths) => {
      const seed = batch * 1000 + T;
      const d = randomRunData(module, { batch, T, sizes }, seed, { initial: lengths !== undefined });
      const data = storedData(c.plan, {
        batch,
        T,
        inputs: d.inputs as Record<string, Float32Array>,
        params: d.params as Record<string, Float32Array>,
        ...(d.initial ? { initialState: d.initial as Record<string, Float32Array> } : {}),
        ...(lengths ? { lengths: Int32Array.from(lengths) } : {}),
      } satisfies RunArrays);
      const got = await runPrepared(gpu, compiled.prepare({ batch, T }), data, sizes);
      const ref = interpret(module, { batch, T, sizes, ...(data.lengths ? { lengths: data.lengths } : {}) }, { inputs: data.inputs, params: data.params, ...(data.initialState ? { initial: data.initialState } : {}) });
      const v = verifyAtPrecision(c.plan, got, ref, KERNEL_BOUND[file]!);
      const failing = v.tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index} (gpu ${t.worst?.gpu}, ref ${t.worst?.ref})`);
      expect(failing).toEqual([]);
      // Outputs went through f16: each is an f16 value.
      for (const y of Object.values(got.outputs)) expect(y.every((x) => roundHalf(x) === x)).toBe(true);
    });
  });
}
