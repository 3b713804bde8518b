// The library API: what the CLI uses, and what a program embedding rnnc imports. Errors a user can
// act on are RnncError; diagnostics come back as values, never thrown.
export { frontEnd, type FrontEndResult } from './front-end.js';
export { passes, passNames, runPipeline, type Pass, type PipelineOptions, type PipelineState } from './pipeline.js';
export { compileFiles, emit, plan, prepareRun, retarget, sizesOf, type GeneratedFile, type PlanOptions } from './compile.js';
export { checkLimits, limitViolation, openGpu, runPrepared, targetOf, type PreparedRun, type RunArrays, type RunResult, type RunSize } from './run.js';
export { checkHostMemory, planSegments, runSegmented, type Segments } from './segments.js';
export { validateKernels } from './validate.js';
export { RnncError, type FailureKind } from './errors.js';
export type { Compilation, ExecutionPlan, Mode, ModeRequest, Target } from '../compiler/plan/plan.js';
export { modes, modeRequests } from '../compiler/plan/plan.js';
export type { CompiledCell, Kernel } from '../../backends/backend.js';

import { SourceFile } from '../compiler/diagnostics/render.js';
import { hasErrors, type Diagnostic } from '../compiler/diagnostics/diagnostic.js';
import type { Compilation } from '../compiler/plan/plan.js';
import { runPipeline, type PipelineOptions } from './pipeline.js';

/**
 * Source text to a Compilation (module, analysis and plan), or the diagnostics that stop it. The
 * analysis runs once; a mode the backends refuse throws RnncError with the reason.
 */
export function compile(text: string, options: PipelineOptions & { path?: string } = {}): { diagnostics: Diagnostic[]; compilation?: Compilation } {
  const source = new SourceFile(options.path ?? '<input>', text);
  const { state } = runPipeline(source, 'plan', options);
  return hasErrors(state.diagnostics) || !state.compilation ? { diagnostics: state.diagnostics } : { diagnostics: state.diagnostics, compilation: state.compilation };
}
