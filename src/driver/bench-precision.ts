// f16 storage against f32 for one cell (issue 17; `rnnc bench --precision`, scripts/bench-precision.ts,
// docs/precision.md): the same plan request, sizes and data compiled once per precision through the
// planner and the backends, each job timed on the device (timestamp queries where it has them, else
// wall clock), the two alternating run by run after one warm-up each: the median and the fastest run. The bytes are the footprint of the buffers
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
  /** Medians over the repeats, and the fastest run of each. */
  f32Ms: number;
  f16Ms: number;
  f32MinMs: number;
  f16MinMs: number;
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
  // Both precisions built first, then timed alternately one run at a time (after a warm-up each): on a
  // machine shared with other work the load drifts, and alternating spreads the drift over both.
  const built = (['f32', options.precision] as const).map((precision) => {
    const c = plan(cell.module, cell.analysis, { mode: options.mode, dims: options.dims, precision, target: options.target, verb: 'bench' });
    const run = emit(c).prepare({ batch, T });
    checkLimits(run, gpu.adapter.limits, c.sizes, { batch, T });
    return { c, run, bytes: run.footprint.filter((b) => HALVED.has(b.buffer)).reduce((n, b) => n + b.bytes, 0), ns: [] as number[] };
  });
  const data = benchData(cell.module, built[0]!.c.sizes, batch, T);
  const jobs = built.map((b) => b.run.job(storedData(b.c.plan, data)));
  let timing = 'wall';
  for (let r = 0; r < options.repeats; r++)
    for (const [k, b] of built.entries()) {
      const result = await gpu.run({ ...jobs[k]!, timing: { repeats: 1, warmup: r === 0 ? 1 : 0 } });
      timing = result.timingMethod ?? 'wall';
      b.ns.push(result.timingsNs![0]!);
    }
  const [f32, f16] = built as [(typeof built)[0], (typeof built)[0]];
  const sizes = f32.c.sizes;
  return {
    cell: cell.module.name,
    mode: f32.c.plan.mode,
    dims: sizes,
    batch,
    T,
    precision: options.precision,
    f32Bytes: f32.bytes,
    f16Bytes: f16.bytes,
    f32Ms: median(f32.ns) / 1e6,
    f16Ms: median(f16.ns) / 1e6,
    f32MinMs: Math.min(...f32.ns) / 1e6,
    f16MinMs: Math.min(...f16.ns) / 1e6,
    speedup: median(f32.ns) / median(f16.ns),
    timing,
  };
}
