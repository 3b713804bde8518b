// The scan benchmark: for each associative cell, over T and a few batch sizes, time the scan kernel,
// the sequential kernel and two bandwidth yardsticks moving the same bytes (a tuned elementwise
// kernel, best of several shapes, and copyBufferToBuffer), all on the GPU (timestamp queries where
// the device has them) in one session. A cell the scan backend refuses at these sizes is timed
// sequentially only, with the planner's reason.
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
import { copyJob, elementwiseJob, ELEMENTWISE_SHAPES, shapeName, type ElementwiseShape } from '../../backends/wgsl/elementwise-kernel.js';
import type { BenchRow } from './bench-report.js';

export interface BenchOptions {
  /** log2 of the lengths to run. */
  log2T: number[];
  batches: number[];
  repeats: number;
  /** Skip a configuration whose buffers would exceed this many bytes (lavapipe runs in host memory). */
  maxBytes: number;
  /** Skip a row whose estimated run time (the last row's kernel times of the cell and batch, times the runs, scaled by T) is over this many seconds. */
  maxRowSeconds?: number;
  /** The elementwise yardstick's shapes to try (default ELEMENTWISE_SHAPES). */
  shapes?: readonly ElementwiseShape[];
  progress?: (line: string) => void;
}

export interface GpuRunner {
  run(job: GpuJob): Promise<GpuJobResult>;
  adapter: { limits: { maxStorageBufferBindingSize: number; maxComputeWorkgroupsPerDimension?: number }; features: readonly string[]; subgroupMinSize?: number };
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

/** Floats of all inputs of one step, all outputs of one step, all states of one sequence. */
function widths(module: Module, sizes: Record<string, number>) {
  const width = (role: 'input' | 'output' | 'state') => tensorsOf(module, role).reduce((n, t) => n + t.dims.reduce((m, d) => m * sizes[d]!, 1), 0);
  return { input: width('input'), output: width('output'), state: width('state') };
}

/** The best elementwise shape for these bytes, and the copy's time, both median over the repeats. */
async function yardsticks(gpu: GpuRunner, inBytes: number, outBytes: number, timing: NonNullable<GpuJob['timing']>, shapes: readonly ElementwiseShape[]) {
  const limits = gpu.adapter.limits;
  const common = { bindingLimit: limits.maxStorageBufferBindingSize, timing, shapes, ...(limits.maxComputeWorkgroupsPerDimension ? { maxWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension } : {}) };
  const all = elementwiseJob(inBytes, outBytes, common);
  const result = await gpu.run(all.job);
  let perShape: { shape: string; ns: number }[];
  if (result.perPassNs) {
    // One job, every shape a pass (per piece): its time is its passes' sum, per repeat.
    perShape = all.passesOf.map(({ shape, passes }) => ({ shape: shapeName(shape), ns: median(result.perPassNs!.map((row) => passes.reduce((s, i) => s + row[i]!, 0))) }));
  } else {
    // Wall-clock timing has no per-pass times: a job per shape.
    perShape = [];
    for (const shape of shapes) perShape.push({ shape: shapeName(shape), ns: median((await gpu.run(elementwiseJob(inBytes, outBytes, { ...common, shapes: [shape] }).job)).timingsNs!) });
  }
  const best = perShape.reduce((a, b) => (b.ns < a.ns ? b : a));
  const copy = copyJob(inBytes + outBytes, { bindingLimit: limits.maxStorageBufferBindingSize, repeats: timing.repeats, warmup: timing.warmup ?? 1 });
  const copyResult = await gpu.run(copy.job);
  return { elementwise: { ...best, bytes: all.bytes, pieces: all.pieces }, copy: { ns: median(copyResult.copyTimingsNs!), bytes: copy.bytes, method: copyResult.copyTimingMethod! } };
}

export interface BenchResult {
  rows: BenchRow[];
  skipped: string[];
  adapter: string;
  timingMethod: string;
  copyTimingMethod: string;
}

/**
 * Times a compilation planned with `auto`: the scan (as planned: its recorded layout and tile)
 * against the sequential kernel and the yardsticks; or, where the planner chose the sequential loop
 * (the scan refused the cell at these sizes), the sequential kernel alone, with the scan's refusal.
 */
export async function benchCell(gpu: GpuRunner, file: string, c: Compilation, options: BenchOptions): Promise<BenchResult> {
  const { module, sizes, plan } = c;
  const mode = plan.mode;
  if (mode !== 'scan' && mode !== 'seq') throw new Error(`bench: ${module.name} was planned as ${mode}, not scan or seq`);
  if (mode === 'scan' && (plan.decision.mode !== 'scan' || !c.analysis.plan)) throw new Error(`bench: ${module.name} has no scan decision`);
  // Why the scan did not run (the scan backend's refusal), for rows timed sequentially.
  const refusal = mode === 'seq' ? (plan.considered.find((m) => m.mode === 'scan' && !m.ok)?.why ?? plan.why) : undefined;
  // The scan's internals (layout, schedule, traffic) are what the report is about, so it builds the kernels itself, as planned.
  const kernels = mode === 'scan' && plan.decision.mode === 'scan' ? compileScan(module, c.analysis.plan!, sizes, { tile: plan.decision.tile, subgroups: plan.decision.subgroups }) : undefined;
  const seq = emitSeq(module, sizes);
  const width = widths(module, sizes);
  const rows: BenchRow[] = [];
  const skipped: string[] = [];
  const out: BenchResult = { rows, skipped, adapter: '', timingMethod: '', copyTimingMethod: '' };
  const timing = { repeats: options.repeats, warmup: 1 };
  const bindingLimit = gpu.adapter.limits.maxStorageBufferBindingSize;
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  for (const batch of options.batches) {
    let last: { T: number; ms: number } | undefined;
    for (const lg of options.log2T) {
      const T = 2 ** lg;
      const estimate = last ? (last.ms * T) / last.T / 1e3 : 0; // the kernels' time grows with T
      if (options.maxRowSeconds !== undefined && estimate > options.maxRowSeconds) {
        const why = `an estimated ${estimate.toFixed(0)} s of runs > the ${options.maxRowSeconds} s a row may take`;
        skipped.push(`${module.name} T = 2^${lg}, batch ${batch}: ${why}`);
        options.progress?.(`${basename(file)}: skipping T = 2^${lg}, batch ${batch} (${why})`);
        continue;
      }
      const perStep = 4 * batch * (width.input + width.output);
      const scanBinding = kernels ? 4 * batch * T * Math.max(kernels.layout.inputWidth, kernels.layout.outputWidth) : 0;
      const largestBinding = Math.max(scanBinding, ...seq.layout.buffers.map((b) => 4 * bufferElements(b, batch, T)));
      if (perStep * T > options.maxBytes || largestBinding > bindingLimit) {
        const why = perStep * T > options.maxBytes ? `${mib(perStep * T)} of inputs and outputs > the ${mib(options.maxBytes)} cap` : `a ${mib(largestBinding)} binding > the adapter's ${mib(bindingLimit)} limit`;
        skipped.push(`${module.name} T = 2^${lg}, batch ${batch}: ${why}`);
        options.progress?.(`${basename(file)}: skipping T = 2^${lg}, batch ${batch} (${why})`);
        continue;
      }
      const data = benchData(module, sizes, batch, T);
      const scan = kernels ? buildScanJob(module, kernels, data, { timing }) : undefined;
      const scanResult = scan ? await gpu.run(scan.job) : undefined;
      const packed = packRun(module, seq, data);
      const seqResult = await gpu.run({ shaders: [{ label: 'seq', code: seq.wgsl, entryPoint: 'main' }], buffers: packed.buffers, passes: [{ shader: 'seq', bindings: packed.bindings, dispatch: packed.dispatch }], timing });
      // The yardsticks move what a single pass must: every input and the initial states read, every output and the final states written.
      const inBytes = 4 * batch * (T * width.input + width.state);
      const outBytes = 4 * batch * (T * width.output + width.state);
      const idealBytes = inBytes + outBytes;
      const y = await yardsticks(gpu, inBytes, outBytes, timing, options.shapes ?? ELEMENTWISE_SHAPES);
      out.adapter ||= seqResult.adapter.description;
      out.timingMethod ||= seqResult.timingMethod ?? 'wall';
      out.copyTimingMethod ||= y.copy.method;
      const seqNs = median(seqResult.timingsNs!);
      const gbs = (bytes: number, ns: number) => bytes / ns;
      const row: BenchRow = {
        example: module.name,
        T,
        batch,
        channels: batch * width.state,
        mode,
        ...(refusal !== undefined ? { reason: refusal } : {}),
        strategy: scan ? scan.schedule.strategy : 'sequential',
        split: kernels ? kernels.tile.split : '—',
        dispatches: scan ? scan.schedule.passes.length : 1,
        seqNs,
        elementwiseNs: y.elementwise.ns,
        elementwiseShape: y.elementwise.shape,
        elementwiseBytes: y.elementwise.bytes,
        copyNs: y.copy.ns,
        copyBytes: y.copy.bytes,
        idealBytes,
        seqGBs: gbs(idealBytes, seqNs),
        elementwiseGBs: gbs(y.elementwise.bytes, y.elementwise.ns),
        copyGBs: gbs(y.copy.bytes, y.copy.ns),
      };
      if (scan && kernels && scanResult) {
        // Traffic of the schedule: the inputs are read once per pass over the steps.
        // A single pass (scan_single, scan_chained) reads them once.
        const stepPasses = Math.max(1, scan.schedule.passes.filter((p) => p.kernel === 'scan_steps' || p.kernel === 'reduce_steps').length);
        const aggBytes = 4 * kernels.layout.members.length * scan.schedule.aggElements * 2;
        row.scanNs = median(scanResult.timingsNs!);
        row.scanBytes = scan.idealBytes + (stepPasses - 1) * 4 * batch * T * kernels.layout.inputWidth + (scan.schedule.strategy === 'carry' ? 0 : aggBytes);
        row.scanGBs = gbs(scan.idealBytes, row.scanNs);
        row.scanPerElementwise = row.scanGBs / row.elementwiseGBs;
        row.scanPerCopy = row.scanGBs / row.copyGBs;
      }
      rows.push(row);
      // What the row's runs took on the GPU (each kernel runs once, warms up once and runs the repeats; every
      // elementwise shape as long as the best, at least), not its wall time, which holds the pipeline compiles.
      const runs = options.repeats + 2;
      last = { T, ms: (runs * ((row.scanNs ?? 0) + row.seqNs + (options.shapes ?? ELEMENTWISE_SHAPES).length * row.elementwiseNs + row.copyNs)) / 1e6 };
      const ms = (ns: number | undefined) => (ns === undefined ? '—' : `${(ns / 1e6).toFixed(2)} ms`);
      options.progress?.(
        `${module.name} T=2^${lg} batch=${batch} (${mode}): scan ${ms(row.scanNs)}, seq ${ms(row.seqNs)}, elementwise ${ms(row.elementwiseNs)} (${row.elementwiseShape}), copy ${ms(row.copyNs)}`,
      );
    }
  }
  return out;
}

/** A bench cell through the front end (analysed once); its errors are the user's. */
export function readCell(file: string): { module: Module; analysis: Analysis } {
  const fe = frontEnd(readFileSync(file, 'utf8'));
  if (!fe.module || !fe.analysis) throw new RnncError(`rnnc: ${file} does not compile (see rnnc check ${file})`);
  return { module: fe.module, analysis: fe.analysis };
}
