// f16 storage against f32 for one cell (issue 17; `rnnc bench --precision`, scripts/bench-precision.ts,
// docs/precision.md): the same plan request, sizes and data compiled once per precision through the
// planner and the backends, each job timed on the device (timestamp queries where it has them, else
// wall clock), median of the repeats after one warm-up. The bytes are the footprint of the buffers
// f16 storage halves (inputs, params, outputs).
import type { Analysis } from '../compiler/analyse/types.js';
import type { Module } from '../compiler/ir/ir.js';
import type { ModeRequest, Target } from '../compiler/plan/plan.js';
import type { PrecisionRequest } from '../compiler/plan/precision.js';
import type { Device } from '../runtime/device.js';
import { benchData } from './bench.js';
import { emit, plan } from './compile.js';
import { storedData } from './precision.js';
import { checkLimits } from './run.js';

export interface PrecisionRow {
  cell: string;
  mode: string;
  dims: Record<string, number>;
  batch: number;
  T: number;
  precision: PrecisionRequest;
  /** Bytes of the inputs, params and outputs buffers, in f32 and in f16. */
  f32Bytes: number;
  f16Bytes: number;
  f32Ms: number;
  f16Ms: number;
  /** f32 time over f16 time (above 1: f16 storage is faster). */
  speedup: number;
  timing: string;
}

const HALVED = new Set(['inputs', 'weights', 'params', 'outputs']);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export async function benchPrecision(
  gpu: Device,
  cell: { module: Module; analysis: Analysis },
  options: { mode: ModeRequest; dims: Record<string, number>; batch: number; T: number; repeats: number; precision: PrecisionRequest; target: Target },
): Promise<PrecisionRow> {
  const { batch, T } = options;
  const timed: Record<'f32' | 'f16', { ms: number; bytes: number; mode: string; timing: string }> = {} as never;
  let sizes: Record<string, number> = {};
  let data;
  for (const [key, precision] of [['f32', 'f32'], ['f16', options.precision]] as const) {
    const c = plan(cell.module, cell.analysis, { mode: options.mode, dims: options.dims, precision, target: options.target, verb: 'bench' });
    sizes = c.sizes;
    data ??= benchData(cell.module, c.sizes, batch, T);
    const run = emit(c).prepare({ batch, T });
    checkLimits(run, gpu.adapter.limits, c.sizes, { batch, T });
    const result = await gpu.run({ ...run.job(storedData(c.plan, data)), timing: { repeats: options.repeats, warmup: 1 } });
    timed[key] = { ms: median(result.timingsNs!) / 1e6, bytes: run.footprint.filter((b) => HALVED.has(b.buffer)).reduce((n, b) => n + b.bytes, 0), mode: c.plan.mode, timing: result.timingMethod ?? 'wall' };
  }
  return {
    cell: cell.module.name,
    mode: timed.f32.mode,
    dims: sizes,
    batch,
    T,
    precision: options.precision,
    f32Bytes: timed.f32.bytes,
    f16Bytes: timed.f16.bytes,
    f32Ms: timed.f32.ms,
    f16Ms: timed.f16.ms,
    speedup: timed.f32.ms / timed.f16.ms,
    timing: timed.f32.timing,
  };
}
