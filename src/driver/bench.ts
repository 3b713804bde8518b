// The scan benchmark: for each associative example, over T and a few batch sizes, time the scan
// kernel, the sequential kernel and an elementwise kernel that moves the same bytes, all on the GPU
// (timestamp queries where the device has them) in one session.
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { frontEnd } from './front-end.js';
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import type { Analysis } from '../compiler/analyse/types.js';
import type { Compilation } from '../compiler/plan/plan.js';
import { RnncError } from './errors.js';
import { buildScanJob, compileScan, type ScanRunData } from '../../backends/wgsl-scan/index.js';
import { emitSeq } from '../../backends/wgsl-seq/emit.js';
import { bufferElements } from '../../backends/wgsl-seq/layout.js';
import { packRun } from '../../backends/wgsl-seq/pack.js';
import type { GpuJob, GpuJobResult } from '../../backends/job.js';
import { copyJob } from '../../backends/wgsl/copy-kernel.js';
import type { BenchRow } from './bench-report.js';

export interface BenchOptions {
  /** log2 of the lengths to run. */
  log2T: number[];
  batches: number[];
  repeats: number;
  /** Skip a configuration whose buffers would exceed this many bytes (lavapipe runs in host memory). */
  maxBytes: number;
  progress?: (line: string) => void;
}

export interface GpuRunner {
  run(job: GpuJob): Promise<GpuJobResult>;
  adapter: { limits: { maxStorageBufferBindingSize: number }; features: readonly string[]; subgroupMinSize?: number };
}

/** Seeded uniform data in [-1, 1) for every input and param (values do not change the work done). */
export function benchData(module: Module, sizes: Record<string, number>, batch: number, T: number, seed = 1): ScanRunData {
  let s = seed >>> 0;
  const next = () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 2 ** 32;
  };
  const size = (dims: string[]) => dims.reduce((n, d) => n * sizes[d]!, 1);
  const fill = (n: number) => Float32Array.from({ length: n }, () => 2 * next() - 1);
  const inputs: Record<string, Float32Array> = {};
  for (const t of tensorsOf(module, 'input')) inputs[t.name] = fill(batch * T * size(t.dims));
  const params: Record<string, Float32Array> = {};
  for (const t of tensorsOf(module, 'param')) params[t.name] = fill(size(t.dims));
  return { batch, T, inputs, params };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Times a compilation planned for the scan (its recorded layout and tile) against the sequential and copy kernels. */
export async function benchExample(gpu: GpuRunner, file: string, c: Compilation, options: BenchOptions): Promise<{ rows: BenchRow[]; skipped: string[]; adapter: string; timingMethod: string }> {
  const { module, sizes, plan } = c;
  if (plan.decision.mode !== 'scan' || !c.analysis.plan) throw new Error(`bench: ${module.name} was not planned as a scan`);
  // The scan's internals (layout, schedule, traffic) are what the report is about, so it builds the kernels itself, as planned.
  const kernels = compileScan(module, c.analysis.plan, sizes, { tile: plan.decision.tile, subgroups: plan.decision.subgroups });
  const seq = emitSeq(module, sizes);
  const rows: BenchRow[] = [];
  const skipped: string[] = [];
  let adapter = '';
  let timingMethod = '';
  const timing = { repeats: options.repeats, warmup: 1 };
  for (const batch of options.batches) {
    for (const lg of options.log2T) {
      const T = 2 ** lg;
      const { layout } = kernels;
      const perStep = 4 * batch * (layout.inputWidth + layout.outputWidth);
      const largestBinding = 4 * Math.max(batch * T * Math.max(layout.inputWidth, layout.outputWidth), ...seq.layout.buffers.map((b) => bufferElements(b, batch, T)));
      const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
      const bindingLimit = gpu.adapter.limits.maxStorageBufferBindingSize;
      if (perStep * T > options.maxBytes || largestBinding > bindingLimit) {
        const why = perStep * T > options.maxBytes ? `${mib(perStep * T)} of inputs and outputs > the ${mib(options.maxBytes)} cap` : `a ${mib(largestBinding)} binding > the adapter's ${mib(bindingLimit)} limit`;
        skipped.push(`${module.name} T = 2^${lg}, batch ${batch}: ${why}`);
        options.progress?.(`${basename(file)}: skipping T = 2^${lg}, batch ${batch} (${why})`);
        continue;
      }
      const data = benchData(module, sizes, batch, T);
      const scan = buildScanJob(module, kernels, data, { timing });
      const scanResult = await gpu.run(scan.job);
      const packed = packRun(module, seq, data);
      const seqResult = await gpu.run({ shaders: [{ label: 'seq', code: seq.wgsl, entryPoint: 'main' }], buffers: packed.buffers, passes: [{ shader: 'seq', bindings: packed.bindings, dispatch: packed.dispatch }], timing });
      const inFloats = batch * T * layout.inputWidth;
      const outFloats = batch * T * layout.outputWidth;
      const copyResult = await gpu.run(copyJob(inFloats, outFloats, timing));
      adapter = scanResult.adapter.description;
      timingMethod = scanResult.timingMethod ?? 'wall';
      // Traffic of the schedule: the inputs are read once per pass over the steps.
      const stepPasses = scan.schedule.passes.filter((p) => p.kernel === 'scan_steps' || p.kernel === 'reduce_steps').length;
      const aggBytes = 4 * layout.members.length * scan.schedule.aggElements * 2;
      const row: BenchRow = {
        example: module.name,
        T,
        batch,
        channels: batch * layout.stateWidth,
        strategy: scan.schedule.strategy,
        split: kernels.tile.split,
        dispatches: scan.schedule.passes.length,
        scanNs: median(scanResult.timingsNs!),
        seqNs: median(seqResult.timingsNs!),
        copyNs: median(copyResult.timingsNs!),
        idealBytes: scan.idealBytes,
        scanBytes: scan.idealBytes + (stepPasses - 1) * 4 * inFloats + (scan.schedule.strategy === 'carry' ? 0 : aggBytes),
      };
      rows.push(row);
      options.progress?.(
        `${module.name} T=2^${lg} batch=${batch}: scan ${(row.scanNs / 1e6).toFixed(2)} ms, seq ${(row.seqNs / 1e6).toFixed(2)} ms, copy ${(row.copyNs / 1e6).toFixed(2)} ms`,
      );
    }
  }
  return { rows, skipped, adapter, timingMethod };
}

/** A bench cell through the front end (analysed once); its errors are the user's. */
export function readCell(file: string): { module: Module; analysis: Analysis } {
  const fe = frontEnd(readFileSync(file, 'utf8'));
  if (!fe.module || !fe.analysis) throw new RnncError(`rnnc: ${file} does not compile (see rnnc check ${file})`);
  return { module: fe.module, analysis: fe.analysis };
}
