// The compiler as the page runs it, in the browser: parse, check, lower, analyse, plan and emit, the
// same passes as src/driver/pipeline.ts (which reads process.env and so stays in Node), stopping at
// the first pass with errors. Everything the page shows is computed here, as text.
import { backendList, backends } from '../../backends/index.js';
import type { CompiledCell } from '../../backends/backend.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { analysisText } from '../../src/compiler/analyse/report.js';
import type { Analysis, ScanPlan } from '../../src/compiler/analyse/types.js';
import { check } from '../../src/compiler/check/checker.js';
import { hasErrors, sortDiagnostics, type Diagnostic } from '../../src/compiler/diagnostics/diagnostic.js';
import { renderDiagnostics, SourceFile } from '../../src/compiler/diagnostics/render.js';
import { bindDims, DimError } from '../../src/compiler/ir/dims.js';
import type { Def, Module } from '../../src/compiler/ir/ir.js';
import { lower } from '../../src/compiler/ir/lower.js';
import { printDef, printModule } from '../../src/compiler/ir/print.js';
import type { Compilation, ModeRequest, Target } from '../../src/compiler/plan/plan.js';
import { makePlan, PlanOverBudget, PlanRefused, PrecisionRefused } from '../../src/compiler/plan/planner.js';
import { planGrid } from '../../src/compiler/plan/grid.js';
import { analyseGrid, gridAnalysisText } from '../../src/compiler/analyse/grid.js';
import { compileGrid } from '../../backends/wgsl-grid/backend.js';
import { parse } from '../../src/compiler/syntax/build-ast.js';

export interface PageCompilation {
  source: SourceFile;
  diagnostics: Diagnostic[];
  /** The diagnostics as the CLI prints them (file:line:col, code frame, labels, notes). */
  rendered: string;
  module?: Module;
  analysis?: Analysis;
  /** Why the state update is (or is not) a scan: the analysis report of `rnnc explain`. */
  analysisReport?: string;
  /** The scan element as IR (fields, combine, identity, apply), when the cell is a scan. */
  scanElement?: string;
  ir?: string;
  compilation?: Compilation;
  compiled?: CompiledCell;
  /** Why no kernel was planned or emitted (a mode the backends refuse, a cell too costly, an open dim). */
  planError?: string;
}

/** Compiles one spec for the page; never throws for something the spec's author caused. */
export function compileSpec(path: string, text: string, mode: ModeRequest, target: Target): PageCompilation {
  const source = new SourceFile(path, text);
  let diagnostics: Diagnostic[] = [];
  const done = (rest: Partial<PageCompilation> = {}): PageCompilation => {
    diagnostics = sortDiagnostics(diagnostics);
    return { source, diagnostics, rendered: renderDiagnostics(diagnostics, source, { color: false }), ...rest };
  };

  const parsed = parse(text);
  diagnostics.push(...parsed.diagnostics);
  // A recovered AST is checked too, so syntax and name errors show together (as in the CLI).
  if (!parsed.ast) return done();
  const checked = check(parsed.ast);
  diagnostics.push(...checked.diagnostics);
  if (hasErrors(diagnostics)) return done();

  const module = lower(parsed.ast, checked.checked);
  const ir = printModule(module);
  const analysed = analyse(module);
  diagnostics.push(...analysed.diagnostics);
  const analysis = analysed.analysis;
  // A grid cell (issue 18): its analysis per axis and form; the time analysis's scan element does not apply.
  const analysisReport = (module.grid ? gridAnalysisText(analyseGrid(module), source) : analysisText(analysis, source)).join('\n');
  const scanElement = analysis.plan && !module.grid ? scanPlanText(analysis.plan) : undefined;
  const front = { module, analysis, analysisReport, ...(scanElement ? { scanElement } : {}), ir };
  if (hasErrors(diagnostics)) return done(front);

  const planned = planFor(module, analysis, mode, target, source);
  if (typeof planned === 'string') return done({ ...front, planError: planned });
  let compiled: CompiledCell;
  try {
    // A grid cell runs as one kernel for the whole grid, the wavefront (as src/driver/compile.ts emit()).
    compiled = module.grid ? compileGrid(planned) : backends[planned.plan.mode].compile(planned);
  } catch (e) {
    return done({ ...front, compilation: planned, planError: `internal error while emitting the kernels: ${e instanceof Error ? e.message : String(e)}` });
  }
  return done({ ...front, compilation: planned, compiled });
}

/** The planner's choice for the spec's own dim sizes, or why there is none (as the CLI words it). */
function planFor(module: Module, analysis: Analysis, mode: ModeRequest, target: Target, source: SourceFile): Compilation | string {
  let sizes;
  try {
    sizes = bindDims(module, {});
  } catch (e) {
    if (e instanceof DimError) return `${e.message} (the playground runs the sizes the spec gives)`;
    throw e;
  }
  const subject = { module, analysis, sizes, target, request: { mode } };
  const planned = module.grid ? planGrid(subject) : makePlan(subject, backendList);
  if (planned instanceof PrecisionRefused) return `${module.name} cannot run here: ${planned.why}`;
  if (planned instanceof PlanOverBudget) return `${renderDiagnostics([planned.diagnostic], source)}\n${module.name} is too costly to run at these sizes`;
  if (planned instanceof PlanRefused) return `${module.name} cannot take mode ${planned.mode}: ${planned.why}; choose seq or auto`;
  return { module, analysis, sizes, target, plan: planned, source };
}

/** The plan as text: the mode, why, and every mode considered with its answer. */
export function planReport(c: Compilation): string {
  const { plan } = c;
  return [
    `mode ${plan.mode} (asked: ${plan.requested}): ${plan.why}`,
    ...plan.considered.map((m) => `  ${m.mode.padEnd(5)} ${m.ok ? 'takes it' : 'refuses'}: ${m.why}`),
    `one step: ${plan.cost.ops} ops, ${plan.cost.bytes} bytes per sequence`,
  ].join('\n');
}

/** A scan element as IR, as `rnnc explain --after analyse` prints it: fields, combine, identity and how each state follows. */
function scanPlanText(p: ScanPlan): string {
  const section = (title: string, defs: Def[]) => [`${title}:`, ...defs.flatMap((d) => printDef(d, '  ', false))];
  return [...section('element', p.fields), ...section('combine', p.combine), ...section('identity', p.identity), ...section('apply', p.apply)].join('\n');
}
