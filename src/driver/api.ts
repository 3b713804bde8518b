// The library's verbs, as `import { check, analyse, compile, run } from 'rnnc'` offers them: source
// text in, values out (diagnostics are values, never thrown; errors a user can act on are RnncError).
// `run` is what `rnnc run` does without the files: plan, emit, cut the run to the adapter's limits,
// run on Dawn and decode.
import type { Analysis } from '../compiler/analyse/types.js';
import { hasErrors, type Diagnostic } from '../compiler/diagnostics/diagnostic.js';
import { renderDiagnostics, SourceFile } from '../compiler/diagnostics/render.js';
import type { Module } from '../compiler/ir/ir.js';
import type { Compilation } from '../compiler/plan/plan.js';
import type { RunArrays, RunResult } from '../../backends/backend.js';
import { retarget, type PlanOptions } from './compile.js';
import { frontEnd, pipeline } from './front-end.js';
import type { PipelineOptions } from './pipeline.js';
import { openGpu, targetOf } from './run.js';
import { checkHostMemory } from './segments.js';
import { fitCompilation } from './directions.js';
import { RnncError } from './errors.js';
import { runGridKernel } from './grid.js';
import type { Device } from '../runtime/device.js';

export interface SourceOptions {
  /** The file name diagnostics show (default `<input>`). */
  path?: string;
}

/** Parses and checks a spec; the diagnostics (errors, warnings), each with its span. */
export function check(text: string, options: SourceOptions = {}): { diagnostics: Diagnostic[]; ok: boolean } {
  const { state } = pipeline().runPipeline(new SourceFile(options.path ?? '<input>', text), 'check');
  return { diagnostics: state.diagnostics, ok: !hasErrors(state.diagnostics) };
}

/** Parses, checks, lowers and analyses a spec: the IR module and its analysis, or the diagnostics that stop it. */
export function analyse(text: string, options: SourceOptions = {}): { diagnostics: Diagnostic[]; module?: Module; analysis?: Analysis } {
  const r = frontEnd(new SourceFile(options.path ?? '<input>', text));
  return { diagnostics: r.diagnostics, ...(r.module ? { module: r.module } : {}), ...(r.analysis ? { analysis: r.analysis } : {}) };
}

/** A spec to a Compilation (module, analysis and plan), or the diagnostics that stop it. */
export function compile(text: string, options: PipelineOptions & SourceOptions = {}): { diagnostics: Diagnostic[]; compilation?: Compilation } {
  const source = new SourceFile(options.path ?? '<input>', text);
  const { state } = pipeline().runPipeline(source, 'plan', options);
  return hasErrors(state.diagnostics) || !state.compilation ? { diagnostics: state.diagnostics } : { diagnostics: state.diagnostics, compilation: state.compilation };
}

export interface RunOptions {
  /** A device to run on (kept open); by default one is opened and closed for this call. */
  device?: Device;
  /** Steps per piece at most (streaming); by default the longest pieces the adapter's limits allow. */
  segment?: number;
  plan?: PlanOptions;
  /** A grid cell's rows and columns (`rnn name grid`; data laid out with T = H * W): required for one, which runs its wavefront kernel. */
  grid?: { H: number; W: number };
}

/**
 * Runs a compiled cell (or a spec, compiled with `options.plan`) over `data` on the GPU. A spec with
 * errors is a RnncError carrying the rendered diagnostics.
 */
export async function run(cell: Compilation | string, data: RunArrays, options: RunOptions = {}): Promise<RunResult> {
  let compilation: Compilation;
  if (typeof cell === 'string') {
    const r = compile(cell, options.plan ?? {});
    if (!r.compilation) throw new RnncError(renderDiagnostics(r.diagnostics, new SourceFile('<input>', cell), { color: false }));
    compilation = r.compilation;
  } else compilation = cell;
  const device = options.device ?? (await openGpu());
  try {
    compilation = retarget(compilation, targetOf(device.adapter), options.plan ?? {});
    if (compilation.module.grid) {
      const grid = options.grid;
      if (!grid || grid.H * grid.W !== data.T) throw new RnncError(`rnnc: ${compilation.module.name} is a grid cell: run() needs its rows and columns as options.grid = { H, W } with H * W = data.T (${data.T})${grid ? `, not ${grid.H} x ${grid.W}` : ''}`, 'usage');
      return await runGridKernel(device, compilation, data, { batch: data.batch, ...grid });
    }
    const size = { batch: data.batch, T: data.T };
    checkHostMemory(compilation.module, compilation.sizes, size);
    // A bidirectional cell in chunk mode or in pieces of time runs as its two parts (directions.ts).
    return await fitCompilation(compilation, device.adapter.limits, size, options.segment).run(device, data);
  } finally {
    if (!options.device) await device.close();
  }
}
