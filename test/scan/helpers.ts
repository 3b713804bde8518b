// Running scan and sequential kernels for tests: one Dawn session per test file, results unpacked
// into per-tensor arrays, compared with a tolerance scaled to the values.
import { expect } from 'vitest';
import type { ScanPlan } from '../../src/compiler/analyse/types.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import { buildScanJob, compileScan, type ScanCompileOptions, type ScanRunData, type ScanRunResult, type ScheduleOptions } from '../../backends/wgsl-scan/index.js';
import { emitSeq } from '../../backends/wgsl-seq/emit.js';
import { packRun, unpackRun } from '../../backends/wgsl-seq/pack.js';
import type { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';

/** Random inputs and params for `batch` sequences of T steps (variable lengths and initial states when `variable`). */
export function runData(module: Module, batch: number, T: number, seed: number, variable: boolean): ScanRunData {
  const sizes = bindDims(module);
  const lengths = variable ? randomLengths(batch, T, seed) : undefined;
  const d = randomRunData(module, { batch, T, sizes, ...(lengths ? { lengths } : {}) }, seed, { initial: variable });
  return { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, ...(d.initial ? { initialState: d.initial as Record<string, Float32Array> } : {}), ...(lengths ? { lengths } : {}) };
}

/** The reference interpreter's results (float64) as float32 arrays with the kernels' names. */
export function referenceRun(module: Module, d: ScanRunData): ScanRunResult {
  const r = interpret(module, { batch: d.batch, T: d.T, sizes: bindDims(module), ...(d.lengths ? { lengths: d.lengths } : {}) }, { inputs: d.inputs, params: d.params, ...(d.initialState ? { initial: d.initialState } : {}) });
  const f32 = (x: Record<string, Float64Array>) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, Float32Array.from(v)]));
  return { outputs: f32(r.outputs), finalState: f32(r.final) };
}

export async function runScan(gpu: GpuSession, module: Module, plan: ScanPlan, sizes: DimSizes, data: ScanRunData, options: ScanCompileOptions & ScheduleOptions = {}): Promise<ScanRunResult & { levels: number[]; strategy: string }> {
  const kernels = compileScan(module, plan, sizes, options);
  const job = buildScanJob(module, kernels, data, options);
  const result = await gpu.run(job.job);
  return { ...job.decode(result.buffers), levels: job.schedule.levels, strategy: job.schedule.strategy };
}

export async function runSeq(gpu: GpuSession, module: Module, sizes: DimSizes, data: ScanRunData): Promise<ScanRunResult> {
  const k = emitSeq(module, sizes);
  const packed = packRun(module, k, data);
  const result = await gpu.run({ shaders: [{ label: 'seq', code: k.wgsl, entryPoint: 'main' }], buffers: packed.buffers, passes: [{ shader: 'seq', bindings: packed.bindings, dispatch: packed.dispatch }] });
  return unpackRun(k, data.batch, data.T, result.buffers);
}

/** Outputs and final states agree: |got - want| <= tol · (1 + |want|) elementwise; the first failing position is named. */
export function expectClose(got: ScanRunResult, want: ScanRunResult, tol: number, what: string): void {
  for (const part of ['outputs', 'finalState'] as const) {
    expect(Object.keys(got[part]).sort(), `${what}: ${part}`).toEqual(Object.keys(want[part]).sort());
    for (const name of Object.keys(want[part])) {
      const g = got[part][name]!;
      const w = want[part][name]!;
      expect(g.length, `${what}: length of ${name}`).toBe(w.length);
      for (let i = 0; i < w.length; i++) {
        const ok = (Number.isNaN(w[i]!) && Number.isNaN(g[i]!)) || g[i] === w[i] || Math.abs(g[i]! - w[i]!) <= tol * (1 + Math.abs(w[i]!));
        if (!ok) expect.fail(`${what}: ${part} ${name}[${i}] = ${g[i]}, expected ${w[i]} (tolerance ${tol})`);
      }
    }
  }
}
