// Compiling a cell: the front end once (parse, check, lower, analyse), then the planner once per size
// binding and target, then the chosen backend. A Compilation carries the analysis, so nothing
// downstream analyses again.
import { backendList, backends } from '../../backends/index.js';
import { generatedFiles, type CompiledCell, type GeneratedFile, type PreparedRun, type RunSize } from '../../backends/backend.js';
import type { Analysis } from '../compiler/analyse/types.js';
import { bindDims, DimError, type DimSizes } from '../compiler/ir/dims.js';
import type { Module } from '../compiler/ir/ir.js';
import { defaultTarget, type Compilation, type PlanRequest, type Target } from '../compiler/plan/plan.js';
import { makePlan, PlanOverBudget, PlanRefused, PrecisionRefused } from '../compiler/plan/planner.js';
import { planGrid } from '../compiler/plan/grid.js';
import { compileGrid } from '../../backends/wgsl-grid/backend.js';
import { renderDiagnostics, type SourceFile } from '../compiler/diagnostics/render.js';
import { hasErrors } from '../compiler/diagnostics/diagnostic.js';
import { formatMessage } from '../compiler/diagnostics/codes.js';
import { analyse } from '../compiler/analyse/analyse.js';
import { splitDirections } from '../compiler/ir/split-directions.js';
import { RnncError } from './errors.js';

export type { GeneratedFile } from '../../backends/backend.js';

/** What the planner needs besides the cell: sizes given on the command line, the request and the target. */
export interface PlanOptions extends Partial<PlanRequest> {
  /** Sizes for dims the spec leaves open (or overrides). */
  dims?: Record<string, number>;
  target?: Target;
  /** What the user was doing, for the refusal message: 'compile' or 'run'. */
  verb?: string;
  /** The flag that asked for the mode, for the refusal message (default `--mode`). */
  flag?: string;
}

/** Binds the dims; an unknown or unsized dim is the user's to fix. */
export function sizesOf(module: Module, dims: Record<string, number> = {}): DimSizes {
  try {
    return bindDims(module, dims);
  } catch (e) {
    if (e instanceof DimError) throw new RnncError(`rnnc: ${e.message}`);
    throw e;
  }
}

/** Plans an analysed cell. A mode the backends refuse is a user error that says why and what to use instead. */
export function plan(module: Module, analysis: Analysis, options: PlanOptions = {}, source?: SourceFile): Compilation {
  const sizes = sizesOf(module, options.dims);
  const target = options.target ?? defaultTarget;
  const request: PlanRequest = { mode: options.mode ?? 'seq', ...(options.chunk !== undefined ? { chunk: options.chunk } : {}), ...(options.split ? { split: options.split } : {}), ...(options.gather ? { gather: true } : {}), ...(options.oneStep ? { oneStep: true } : {}), ...(options.precision ? { precision: options.precision } : {}), ...(options.deterministic ? { deterministic: true } : {}), ...(options.sample ? { sample: options.sample } : {}) };
  // A grid cell (issue 18): one kernel for the whole grid, the wavefront (src/compiler/plan/grid.ts).
  const planned = module.grid ? planGrid({ module, analysis, sizes, target, request }) : makePlan({ module, analysis, sizes, target, request }, backendList);
  if (planned instanceof PrecisionRefused) throw new RnncError(`rnnc: RNN0802: ${formatMessage('RNN0802', { name: module.name, precision: request.precision ?? 'f16-storage', why: planned.why, verb: options.verb ?? 'compile' })}`);
  if (planned instanceof PlanOverBudget) {
    const where = source ? renderDiagnostics([planned.diagnostic], source, { color: false }) : `rnnc: ${planned.diagnostic.code}: ${planned.diagnostic.message}`;
    throw new RnncError(`${where}\nrnnc: ${module.name} is too costly to run at these sizes`);
  }
  // A bidirectional cell where the fused kernel takes one direction of time only (chunk): its two parts, each planned on its own.
  if (planned instanceof PlanRefused && splitDirections(module)) return planParts(module, { ...options, dims: sizes, target }, source, planned.why);
  if (planned instanceof PlanRefused) {
    const verb = options.verb ?? 'compile';
    const flag = options.flag ?? '--mode';
    throw new RnncError(`rnnc: ${module.name} cannot take ${flag} ${planned.mode}: ${planned.why}; ${verb} it with ${flag} seq or ${flag} auto`);
  }
  return { module, analysis, sizes, target, plan: planned, ...(source ? { source } : {}) };
}

/**
 * A bidirectional cell as its forward and its reversed part (src/compiler/ir/split-directions.ts),
 * each analysed and planned on its own with the same options; the driver runs them and joins their
 * outputs (src/driver/directions.ts). `fused`: why the cell's one kernel was not taken, if asked.
 */
export function planParts(module: Module, options: PlanOptions, source?: SourceFile, fused?: string): Compilation {
  const split = splitDirections(module);
  if (!split) throw new Error(`planParts: ${module.name} has no \`reversed { ... }\` block`);
  const verb = options.verb ?? 'compile';
  const parts = split.map(({ direction, module: part }) => {
    const analysed = analyse(part);
    if (hasErrors(analysed.diagnostics)) throw new Error(`internal error: the ${direction} part of ${module.name} does not analyse: ${analysed.diagnostics.map((d) => d.message).join('; ')}`);
    try {
      return plan(part, analysed.analysis, options, source);
    } catch (e) {
      if (!(e instanceof RnncError)) throw e;
      const what = direction === 'reversed' ? 'its `reversed { ... }` block' : 'its forward statements';
      // "rnnc: <part> cannot take --mode chunk: why; ..." said of the cell, with the part named.
      const refused = /^rnnc: \S+ cannot take (\S+ \S+): ([\s\S]*)$/.exec(e.message);
      if (refused) throw new RnncError(`rnnc: ${module.name} cannot take ${refused[1]}: it would run as two parts, one direction of time each, and ${what} (${part.name}) cannot: ${refused[2]}`, e.kind);
      throw new RnncError(`rnnc: ${module.name} runs as two parts here, one direction of time each, and ${what} (${part.name}): ${e.message.replace(/^rnnc: /, '')}`, e.kind);
    }
  });
  const [f, r] = parts as [Compilation, Compilation];
  const why = `two parts, one direction of time each${fused ? ` (one kernel for both: ${fused})` : ''}: forward ${f.plan.mode} (${f.plan.why}); reversed ${r.plan.mode} (${r.plan.why})`;
  const summary = {
    ...f.plan,
    requested: options.mode ?? 'seq',
    mode: f.plan.mode,
    why,
    considered: [...f.plan.considered, ...r.plan.considered],
    cost: { ops: f.plan.cost.ops + r.plan.cost.ops, bytes: f.plan.cost.bytes + r.plan.cost.bytes },
  };
  return { module, analysis: f.analysis, sizes: f.sizes, target: f.target, plan: summary, ...(source ? { source } : {}), parts };
}

/** The same compilation for another target: planned again only when the target differs (the analysis is kept). */
export function retarget(c: Compilation, target: Target, options: PlanOptions = {}): Compilation {
  if (c.target.subgroups === target.subgroups && (c.target.lookBack ?? false) === (target.lookBack ?? false) && (c.target.f16 ?? true) === (target.f16 ?? true)) return c;
  if (c.parts) return planParts(c.module, { ...options, dims: c.sizes, mode: c.plan.requested, target, ...(c.plan.precision ? { precision: c.plan.precision.requested } : {}) }, c.source);
  const sample = c.plan.decision.mode === 'scan' ? c.plan.decision.sample : undefined;
  return plan(c.module, c.analysis, { ...options, dims: c.sizes, mode: c.plan.mode, target, ...(c.plan.precision ? { precision: c.plan.precision.requested } : {}), ...(sample ? { sample } : {}) }, c.source);
}

/** Builds the kernels the plan chose. */
export function emit(c: Compilation): CompiledCell {
  if (c.module.grid) return compileGrid(c);
  // Two parts are two sets of kernels (each part emits its own), run by the driver (directions.ts) and written by compileFiles.
  if (c.parts) throw new RnncError(`rnnc: ${c.module.name} runs as two parts in --mode ${c.plan.requested} (${c.parts.map((p) => p.module.name).join(' and ')}), one direction of time each, and one set of kernels holds one part; rnnc run and rnnc compile take both, or use --mode seq or scan (one kernel for both directions)`);
  return backends[c.plan.mode].compile(c);
}

/**
 * The files `rnnc compile` writes: kernels, manifest and the typed host module. A cell run as two parts
 * (Compilation.parts): each part's files, under its own name, and `<cell>.parts.json` saying how they join.
 */
export async function compileFiles(c: Compilation, compiled?: CompiledCell): Promise<GeneratedFile[]> {
  const sourcePath = c.source?.path ?? `${c.module.name}.rnn`;
  if (!c.parts) return generatedFiles(c, compiled ?? emit(c), sourcePath);
  const parts = await Promise.all(c.parts.map(async (p) => ({ p, files: await generatedFiles(p, emit(p), sourcePath) })));
  const names = (p: Compilation, role: 'input' | 'param' | 'state' | 'output') => p.module.tensors.filter((t) => t.role === role).map((t) => t.name);
  const manifest = {
    cell: c.module.name,
    mode: c.plan.requested,
    why: c.plan.why,
    join: 'each part runs on its own, in its own direction, over the same sequences (and lengths): it reads the inputs, params and initial states it names, and writes the outputs and final states it names; together they are the cell\'s, under the same names',
    parts: parts.map(({ p, files }) => ({
      direction: p.module.reversed ? 'reversed' : 'forward',
      module: p.module.name,
      mode: p.plan.mode,
      files: files.map((f) => f.name),
      inputs: names(p, 'input'),
      params: names(p, 'param'),
      states: names(p, 'state'),
      outputs: names(p, 'output'),
    })),
  };
  return [...parts.flatMap(({ files }) => files), { name: `${c.module.name}.parts.json`, text: JSON.stringify(manifest, null, 2) + '\n' }];
}

/** Plan, emit and prepare one mode at one run size in a single call (tests and benchmarks). */
export function prepareRun(cell: { module: Module; analysis: Analysis }, options: PlanOptions, size: RunSize): PreparedRun {
  return emit(plan(cell.module, cell.analysis, options)).prepare(size);
}
