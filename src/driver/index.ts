// The library API: what the CLI uses, and what a program embedding rnnc imports. Errors a user can
// act on are RnncError; diagnostics come back as values, never thrown.
export { frontEnd, type FrontEndResult } from './front-end.js';
export { openDevice, type Device } from '../runtime/device.js';
export type { Diagnostic } from '../compiler/diagnostics/diagnostic.js';
export { renderDiagnostics, SourceFile } from '../compiler/diagnostics/render.js';
export { passes, passNames, runPipeline, type Pass, type PipelineOptions, type PipelineState } from './pipeline.js';
export { compileFiles, emit, plan, planParts, prepareRun, retarget, sizesOf, type GeneratedFile, type PlanOptions } from './compile.js';
export { checkLimits, limitViolation, openGpu, runPrepared, targetOf, type PreparedRun, type RunArrays, type RunResult, type RunSize } from './run.js';
export { checkHostMemory, planSegments, runSegmented, type Segments } from './segments.js';
export { fitCompilation, partData, type FittedRun, type PartReport } from './directions.js';
export { splitDirections, type DirectionPart } from '../compiler/ir/split-directions.js';
export { validateKernels } from './validate.js';
export { gridInputDir, runGridKernel, saveGridResults, type GridRunSize } from './grid.js';
export { RnncError, type FailureKind } from './errors.js';
export { deviceRunner, newtonCell, newtonDefaults, planNewton, referenceRunner, runNewton, runNewtonOnDevice, type ModuleRunner, type NewtonCell, type NewtonOptions, type NewtonPlan, type NewtonResult } from './newton.js';
export type { Compilation, ExecutionPlan, Mode, ModeRequest, Target } from '../compiler/plan/plan.js';
export { modes, modeRequests } from '../compiler/plan/plan.js';
export type { CompiledCell, Kernel } from '../../backends/backend.js';

export { analyse, check, compile, run, type RunOptions, type SourceOptions } from './api.js';
