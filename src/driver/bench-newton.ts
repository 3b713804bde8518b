// The newton benchmark (issue 16): for a cell at one size binding, per batch and T, --mode newton
// against --mode seq on one device. Both get the same seeded data; each time is the median of the
// timed repeats after one warm-up run (which compiles the kernels), wall clock around the whole call
// (newton's split into the linearisation's runs, the system's scans and the host's work between
// them). Newton's outputs and final states are compared with seq's. `rnnc bench --mode newton` and
// scripts/bench-newton.ts both run this.
import { performance } from 'node:perf_hooks';
import type { Analysis } from '../compiler/analyse/types.js';
import type { Module } from '../compiler/ir/ir.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import type { RunArrays, RunResult } from '../../backends/backend.js';
import type { Device } from '../runtime/device.js';
import { plan } from './compile.js';
import { randomRunData } from './data.js';
import { checkNewtonMemory, deviceRunner, newtonCell, planNewton, runNewton, type ModuleRunner } from './newton.js';
import { RnncError } from './errors.js';
import { targetOf } from './run.js';
import { fitRun, runSegmented } from './segments.js';

export interface NewtonBenchOptions {
  /** Dim sizes of the cell (its defaults otherwise). */
  dims?: Record<string, number>;
  batches: number[];
  log2T: number[];
  repeats: number;
  tol?: number;
  maxIter?: number;
  /** Skip a row whose estimated time (the row before's, scaled by T, times the runs) is over this many seconds. */
  maxRowSeconds?: number;
  /** The data's seed (default 1). */
  seed?: number;
  progress?: (line: string) => void;
}

export interface NewtonBenchRow {
  cell: string;
  dims: DimSizes;
  /** diagonal or dense. */
  jacobian: string;
  batch: number;
  T: number;
  log2T: number;
  iterations: number;
  residual: number;
  /** Median wall time of a newton call, and the split of that call. */
  newtonMs: number;
  linearisationMs: number;
  systemMs: number;
  hostMs: number;
  /** Median wall time of the sequential kernel's run. */
  seqMs: number;
  /** newtonMs / seqMs. */
  ratio: number;
  /** The largest |newton − seq| / (1 + |seq|) over every output and final state. */
  maxRelDiffVsSeq: number;
}

export interface NewtonBenchResult {
  rows: NewtonBenchRow[];
  skipped: string[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** The largest |a − b| / (1 + |b|) over b's outputs and final states (NaN wins). */
function maxRelDiff(a: RunResult, b: RunResult): number {
  let worst = 0;
  for (const [mine, theirs] of [
    [a.outputs, b.outputs],
    [a.finalState, b.finalState],
  ] as const)
    for (const [name, want] of Object.entries(theirs)) {
      const got = mine[name]!;
      for (let i = 0; i < want.length; i++) {
        const d = Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!));
        if (!(d <= worst)) worst = d;
      }
    }
  return worst;
}

/**
 * Times newton against seq for one cell. A cell newton cannot take, or a system the scan refuses at
 * these sizes, is the RnncError newtonCell or planNewton throws; non-convergence is runNewton's.
 */
export async function benchNewton(device: Device, module: Module, analysis: Analysis, options: NewtonBenchOptions): Promise<NewtonBenchResult> {
  const target = targetOf(device.adapter);
  const cell = newtonCell(module, options.dims);
  const p = planNewton(cell, target);
  const seq = plan(module, analysis, { mode: 'seq', dims: cell.sizes, target });
  const newtonOptions = { ...(options.tol !== undefined ? { tol: options.tol } : {}), ...(options.maxIter !== undefined ? { maxIter: options.maxIter } : {}) };
  const rows: NewtonBenchRow[] = [];
  const skipped: string[] = [];
  for (const batch of options.batches) {
    let last: { T: number; ms: number } | undefined;
    for (const lg of options.log2T) {
      const T = 2 ** lg;
      // The warm-up and the repeats, each a newton call and a seq run.
      const estimate = last ? (last.ms * (options.repeats + 1) * T) / last.T / 1e3 : 0;
      let tooBig = options.maxRowSeconds !== undefined && estimate > options.maxRowSeconds ? `an estimated ${estimate.toFixed(0)} s of runs > the ${options.maxRowSeconds} s a row may take` : undefined;
      try {
        checkNewtonMemory(cell, { batch, T });
      } catch (e) {
        if (!(e instanceof RnncError)) throw e;
        tooBig ??= e.message.replace(/^rnnc: /, '').replace(/ Lower .*$/, '');
      }
      if (tooBig) {
        const why = `${module.name} T = 2^${lg}, batch ${batch}: ${tooBig}`;
        skipped.push(why);
        options.progress?.(`skipping ${why}`);
        continue;
      }
      const d = randomRunData(module, { batch, T, sizes: cell.sizes }, options.seed ?? 1);
      const data: RunArrays = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array> };
      // Wall time per module, for the split.
      const spent = { linearisation: 0, system: 0 };
      // A bidirectional cell's parts (NewtonCell.parts) are timed into the same sums.
      const timedOf = (inner: ModuleRunner): ModuleRunner => ({
        async run(which, x) {
          const t0 = performance.now();
          const out = await inner.run(which, x);
          spent[which] += performance.now() - t0;
          return out;
        },
        ...(inner.part ? { part: (k: number) => timedOf(inner.part!(k)) } : {}),
      });
      const timed = timedOf(deviceRunner(device, p));
      const { prepare, segments } = fitRun(seq, device.adapter.limits, { batch, T });
      const runSeq = () => runSegmented(device, module, prepare, data, seq.sizes, segments);
      // Warm-up: compiles every kernel.
      const first = await runNewton(cell, data, timed, newtonOptions);
      const maxRelDiffVsSeq = maxRelDiff(first, await runSeq());
      const runs: { newton: number; seq: number; linearisation: number; system: number }[] = [];
      for (let k = 0; k < options.repeats; k++) {
        spent.linearisation = spent.system = 0;
        let t0 = performance.now();
        await runNewton(cell, data, timed, newtonOptions);
        const newton = performance.now() - t0;
        const split = { ...spent };
        t0 = performance.now();
        await runSeq();
        runs.push({ newton, seq: performance.now() - t0, ...split });
      }
      const n = median(runs.map((r) => r.newton));
      const s = median(runs.map((r) => r.seq));
      const split = runs.find((r) => r.newton === n)!;
      const row: NewtonBenchRow = {
        cell: module.name,
        dims: cell.sizes,
        jacobian: cell.linearisation.structure,
        batch,
        T,
        log2T: lg,
        iterations: first.iterations,
        residual: first.residual,
        newtonMs: n,
        linearisationMs: split.linearisation,
        systemMs: split.system,
        hostMs: n - split.linearisation - split.system,
        seqMs: s,
        ratio: n / s,
        maxRelDiffVsSeq,
      };
      rows.push(row);
      last = { T, ms: n + s };
      options.progress?.(newtonBenchLine(row));
    }
  }
  return { rows, skipped };
}

/** The markdown table's header, two lines. */
export const newtonBenchHeader = [
  '| cell | dims | batch | T | iterations | residual | newton ms | linearise / scan / host ms | seq ms | newton / seq | max rel diff vs seq |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];

/** One row of the markdown table. */
export function newtonBenchLine(r: NewtonBenchRow): string {
  const dims = Object.entries(r.dims).map(([d, n]) => `${d}=${n}`).join(', ');
  const ms = (x: number) => x.toFixed(0);
  return `| ${r.cell} | ${dims} | ${r.batch} | 2^${r.log2T} | ${r.iterations} | ${r.residual.toExponential(1)} | ${ms(r.newtonMs)} | ${ms(r.linearisationMs)} / ${ms(r.systemMs)} / ${ms(r.hostMs)} | ${ms(r.seqMs)} | ${r.ratio.toFixed(1)}x | ${r.maxRelDiffVsSeq.toExponential(1)} |`;
}
