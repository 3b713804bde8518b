// Gradients on the GPU. The compiler's reverse-mode pass gives the backward step as a cell
// (src/compiler/grad/); with the forward cell that saves its states, both are analysed, planned and
// compiled like any cell — a backward cell the analysis finds affine gets the scan, the rest the
// sequential loop — and run on the backpropagation-through-time schedule the reference shares
// (src/runtime/bptt.ts), piece by piece within the adapter's limits (segments.ts).
import { analyse } from '../compiler/analyse/analyse.js';
import { hasErrors } from '../compiler/diagnostics/diagnostic.js';
import { differentiate, GradError, type BackwardStep } from '../compiler/grad/reverse.js';
import { withSavedStates, type SavingModule } from '../compiler/grad/saved.js';
import { restWorthStaging, stageBackward, type StagedBackward } from '../compiler/grad/stage.js';
import { gateBackward, type GatedBackward } from '../compiler/grad/gate.js';
import { accumulationCell, splitAccumulators, type Accumulation, type SplitBackward } from '../compiler/grad/split.js';
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import { tensorSize } from '../compiler/ir/dims.js';
import type { Compilation, ModeRequest } from '../compiler/plan/plan.js';
import type { CompiledCell, RunArrays, RunSize } from '../../backends/backend.js';
import type { AdapterLimits } from '../../backends/job.js';
import { backpropagate, type BpttOptions, type CellRunner, type FloatArray, type Gradients, type GradCell, type Upstream } from '../runtime/bptt.js';
import type { Device } from '../runtime/device.js';
import { compileFiles, emit, plan, planParts, retarget, type GeneratedFile, type PlanOptions } from './compile.js';
import { RnncError } from './errors.js';
import { planSegments, runSegmented } from './segments.js';
import { compileTimeSum, recomputeRun, sumTerm, timeSumFits, type CompiledTimeSum } from '../../backends/wgsl-reduce/time-sum.js';
import { compileOuterSum, outerSumFits, outerTerm } from '../../backends/wgsl-reduce/outer-sum.js';
import { compileWeightsMap, weightsMapForm } from '../../backends/wgsl-reduce/weights-map.js';
import { targetOf } from './run.js';
import { partData } from './directions.js';
import { hostGradModule, type HostGradPart } from '../../backends/host/host-grad.js';
import { hasReversedBlock } from '../compiler/ir/split-directions.js';
import { joinPartGradients } from '../runtime/reference/grad-parts.js';

export type { Gradients, Upstream } from '../runtime/bptt.js';

/** The compiled cells of a gradient run. */
export interface GradCompilation {
  forward: Compilation;
  /** The forward cell with one more output per state, the state before each step. */
  saving: Compilation;
  /** The backward cell: with params, the adjoint recurrence only (`split.adjoint`). */
  backward: Compilation;
  /**
   * The backward cell without the inputs' gradients (`split.inputs.loop`), where they are a map over
   * time of values it writes for the params' sums anyway (LSTM's `d_x` from its gate adjoints) and
   * the map fits the time-sum kernel or is a product of params with those values (weightsMapForm):
   * runGrad runs it, and the map in the params' sums job or a job of its own.
   */
  loop?: Compilation;
  /** Per param, the cell that sums its gradient over time. */
  accumulations: { param: string; compilation: Compilation }[];
  step: BackwardStep;
  savingModule: SavingModule;
  split?: SplitBackward;
  /**
   * The backward in two stages (grad/stage.ts), where it splits so: `core` the adjoint recurrence
   * alone, and the rest a map and sum over time in one pass (backends/wgsl-reduce/time-sum.ts).
   * runGrad runs this rather than `backward` and `accumulations` where the core is a scan (see `usesStages`).
   */
  staged?: StagedCompilation;
  /**
   * A bidirectional cell: the gradient compilations of its two parts (src/compiler/ir/split-directions.ts),
   * forward then reversed, each on its share of the data; their gradients join (runtime/reference/grad-parts.ts).
   * `forward` is then the whole cell's compilation and the other fields are the forward part's:
   * runGrad, gradFiles, gradCompilations and the report take both parts.
   */
  parts?: GradCompilation[];
}

/**
 * The staged backward's compilations: the core (the adjoint recurrence) and how the rest runs. The rest
 * is a map over the steps (and sums, for params): the time-sum kernel where it fits
 * (backends/wgsl-reduce/time-sum.ts), else, for a chunked core whose rest has no sums, `steps`: the
 * rest as a sequential cell over every step of every sequence as a sequence of its own (one step
 * each, `restCells`), so the steps run in parallel.
 */
export interface StagedCompilation {
  stages: StagedBackward;
  core: Compilation;
  gathered: boolean;
  /** The core runs the loop because the forward does (`auto` passed over the forward's scan: lanes that fill workgroups). */
  forwardLoop?: true;
  /**
   * `recompute`: the steps of a run, where the time-sum kernel recomputes the saved states and the
   * carried adjoints from one checkpoint of each per run instead of reading both every step (`Recompute`
   * in backends/wgsl-reduce/time-sum.ts); `sampled`: which checkpoints the scans write once a run only.
   */
  rest: { kind: 'time-sum'; recompute?: number; sampled?: SampledCheckpoints; gated?: GatedBackward } | { kind: 'steps'; compilation: Compilation };
  /**
   * With `rest.sampled.saved`: the saving cell writing its saved states at the first step of each run
   * only (PlanRequest.sample), which is all the recomputing rest reads of them. runGrad runs it for
   * the staged backward instead of `GradCompilation.saving`.
   */
  saving?: Compilation;
}

/**
 * Which checkpoints the scans write once a run instead of every step (PlanRequest.sample): the saved
 * states (the saving cell's, at each run's first step) and the carried adjoints (the core's, at each
 * run's last). A per-step store of a state's rows cost lavapipe about a third of gla's saving scan and
 * half its core (docs/grad.md, "Checkpoints once a run").
 */
export interface SampledCheckpoints {
  saved: boolean;
  carried: boolean;
}

/** How planGrad plans the backward, beside the plan options (all on by default; off for before/after measurements). */
export interface GradPlanOptions extends PlanOptions {
  /** The backward cell and the staged core as reversed cells, walking time backward themselves (else the host reverses their data). */
  walkBack?: boolean;
  /** The staged core's scan with every lane of a sequence in one thread (PlanRequest.gather). */
  gatherCore?: boolean;
  /**
   * With `auto`, the staged core in chunks (backends/wgsl-chunk, WY form) where the chunk backend takes
   * it and the planner's own choice is the sequential loop: the adjoint recurrence of a low-rank cell
   * (deltanet, rwkv7) is low-rank too, with the factors transposed.
   */
  chunkCore?: boolean;
  /** The rest of a chunked core's staged backward over every step at once (`steps`) even where the time-sum kernel takes it (tests, measurements). */
  restSteps?: boolean;
  /** The time-sum rest recomputing the saved states and carried adjoints over runs of steps, where it applies (`StagedCompilation.rest`). */
  recomputeRest?: boolean;
  /** With it, the saving and core scans writing their checkpoints once a run only (`SampledCheckpoints`). */
  sampleCheckpoints?: boolean;
  /**
   * The recomputing rest taking the gate's gradient by the identity of grad/gate.ts where the cell has
   * a gate shared along a state axis (gla): no state kept per step (`Recompute.gated`).
   */
  gate?: boolean;
}

/** The backward step of a cell; a cell the pass cannot differentiate yet is the user's to hear about, not a crash. */
export function backwardStep(m: Module): BackwardStep {
  try {
    return differentiate(m);
  } catch (e) {
    if (e instanceof GradError) throw new RnncError(`rnnc: cannot differentiate ${m.name}: ${e.message}`);
    throw e;
  }
}

/** Analyses a cell the compiler built (never the user's text): errors there are rnnc's. */
function analysed(m: Module): Pick<Compilation, 'module' | 'analysis'> {
  const { analysis, diagnostics } = analyse(m);
  if (hasErrors(diagnostics)) throw new RnncError(`rnnc: internal error: the analysis rejects the generated cell ${m.name}: ${diagnostics.map((d) => d.message).join('; ')}`, 'internal');
  return { module: m, analysis };
}

/**
 * Plans the saving and backward cells beside a planned forward cell. The saving cell takes the
 * forward's mode where its backend takes it (it only adds outputs), else the sequential loop; the
 * backward cell takes `backwardMode` ('auto': the planner's choice among the modes it offers).
 */
export function planGrad(forward: Compilation, backwardMode: ModeRequest, gradOptions: GradPlanOptions = {}): GradCompilation {
  if (hasReversedBlock(forward.module)) {
    // Each direction on its own (the fused kernel runs both at once; a backward pass runs each the other way).
    const { walkBack: _w, gatherCore: _g, chunkCore: _c, restSteps: _r, recomputeRest: _rr, sampleCheckpoints: _s, gate: _gt, ...options } = gradOptions;
    const parted = forward.parts ? forward : planParts(forward.module, { ...options, dims: forward.sizes, mode: forward.plan.requested, target: forward.target, ...(forward.plan.precision ? { precision: forward.plan.precision.requested } : {}) }, forward.source);
    const parts = parted.parts!.map((p) => planGrad(p, backwardMode, gradOptions));
    return { ...parts[0]!, forward, parts };
  }
  const { walkBack = true, gatherCore = true, chunkCore = true, restSteps = false, recomputeRest = true, sampleCheckpoints = true, gate = true, ...options } = gradOptions;
  // A reversed cell's backward walks time forward: a plain cell, reading the forward's arrays as they are.
  const forwardReversed = forward.module.reversed === true;
  const step = backwardStep(forward.module);
  const savingModule = withSavedStates(forward.module);
  const common = { ...options, dims: forward.sizes, target: forward.target };
  const saving = analysed(savingModule.module);
  let savingPlan: Compilation;
  try {
    savingPlan = plan(saving.module, saving.analysis, { ...common, mode: forward.plan.mode });
  } catch (e) {
    if (!(e instanceof RnncError)) throw e;
    savingPlan = plan(saving.module, saving.analysis, { ...common, mode: 'seq' });
  }
  const split = splitAccumulators(step);
  // `--grad-mode chunk` asks for the staged core in chunks; every other backward cell (the one-cell
  // backward, which stays the schedule of `rnnc compile --grad`, and the params' sums) takes the planner's choice.
  const cellMode: ModeRequest = backwardMode === 'chunk' ? 'auto' : backwardMode;
  const planned = (m: Module, more: PlanOptions = {}) => {
    const a = analysed(m);
    return plan(a.module, a.analysis, { ...common, mode: cellMode, ...more, flag: '--grad-mode', verb: 'differentiate' });
  };
  const backward = walkBack && !forwardReversed ? walkingBack(split?.adjoint ?? step.module, planned) : planned(split?.adjoint ?? step.module);
  const accumulations = (split?.accumulations ?? []).map((a) => ({ param: a.param, compilation: planned(a.module) }));
  // Measured on LSTM's loop kernel: d_x in the loop cost it about 30% at X = 4, H = 8, and 45% at
  // X = H = 128, where the map is a matrix product over the steps (docs/grad.md).
  const loopCell = split?.inputs && backward.plan.mode === 'seq' && (timeSumFits(split.inputs.map, forward.sizes) || weightsMapForm(split.inputs.map, forward.sizes)) ? (walkBack && !forwardReversed ? walkingBack(split.inputs.loop, planned) : planned(split.inputs.loop)) : undefined;
  const loop = loopCell?.plan.mode === backward.plan.mode ? loopCell : undefined;
  const coreMode = backwardMode === 'chunk' ? 'chunk' : backwardMode === 'auto' && chunkCore ? 'auto+chunk' : backwardMode;
  // Where `auto` passed over a scan of the forward for the loop (its lanes fill workgroups: parallelism
  // the loop has too), the core, a recurrence over the same lanes, takes the loop as well: mamba_s6 at
  // D = 256, N = 16, T = 2^14 ran its core's scan in 601 ms and the loop in 272 (the forward: 258).
  const loopCore = forward.plan.requested === 'auto' && forward.plan.mode === 'seq' && forward.plan.considered.some((c) => c.mode === 'scan' && c.ok);
  const stagedPlain = stagedOf(step, forward.module, forward.sizes, planned, walkBack && !forwardReversed, gatherCore, coreMode, restSteps, recomputeRest, loopCore, gate);
  // The checkpoints the recomputing rest reads, once a run from the scans that write them.
  const planSaving = (more: PlanOptions) => plan(saving.module, saving.analysis, { ...common, ...more });
  const staged = stagedPlain && sampleCheckpoints && savingPlan.plan.mode === 'scan' ? sampledStages(stagedPlain, savingModule, planSaving, planned) : stagedPlain;
  return { forward, saving: savingPlan, backward, ...(loop ? { loop } : {}), accumulations, step, savingModule, ...(split ? { split } : {}), ...(staged ? { staged } : {}) };
}

/**
 * The backward cell as a reversed cell (backends/lower/time.ts): it walks each sequence's valid steps
 * backward itself, reading the forward's arrays as they are and writing the inputs' gradients in
 * forward order, so the host reverses nothing. Where a backend refuses it reversed, the plain cell
 * (the host then reverses its data).
 */
function walkingBack(m: Module, planned: (m: Module, more?: PlanOptions) => Compilation, more: PlanOptions = {}): Compilation {
  if (m.monoid) return planned(m, more);
  try {
    return planned({ ...m, reversed: true }, more);
  } catch (e) {
    if (!(e instanceof RnncError)) throw e;
    return planned(m, more);
  }
}

/**
 * The core's scan holds every lane of a sequence in one thread (PlanRequest.gather): each lane of a
 * backward core reads the same upstream gradient (lru's d_x[n] adds Σj d_y[j]·C[j, n]), which the
 * lanes layout loads once per lane. Measured on lavapipe at T = 2^20 (docs/grad.md): lru's core
 * went from 2.5× to about 1× the forward scan.
 */
const CORE_OPTIONS: PlanOptions = { gather: true };

/**
 * Storage buffers the time-sum kernel binds for a cell: lengths, params, partial sums, then one per input
 * and output (backends/wgsl-reduce/time-sum.ts). RWKV-7's rest has 9 inputs and 6 outputs: 18.
 */
const timeSumBindings = (m: Module) => 3 + m.tensors.filter((t) => t.role === 'input' || t.role === 'output').length;
/**
 * The same for the staged rest as planned: recomputing, it also binds what the forward and core
 * updates read besides the rest's own inputs.
 */
function restBindings(stages: StagedBackward, forward: Module, recompute: boolean): number {
  if (!recompute) return timeSumBindings(stages.rest);
  const bound = new Set([stages.rest, forward, stages.core].flatMap((x) => x.tensors.filter((t) => t.role === 'input').map((t) => t.name)));
  return 3 + bound.size + stages.rest.tensors.filter((t) => t.role === 'output').length;
}
/**
 * maxStorageBuffersPerShaderStage planGrad assumes (Dawn over Vulkan, lavapipe included, offer it);
 * retargetGrad drops a time-sum rest that binds more than the device's own limit.
 */
const TIME_SUM_STORAGE_BUFFERS = 16;

/**
 * State elements from which `auto` runs a scan core, or the forward's loop, with the rest as steps
 * (one invocation each) where the rest is too large for the time-sum kernel. Measured on lavapipe at
 * T = 2^14 (docs/grad.md, "Session 29"): gla at K = V = 16 (256 elements, a scan core) 275 -> 160 ms,
 * mamba_s6 at D = 16, N = 16 366 -> 221 ms, at D = 32 589 -> 291 ms. A chunked core takes it at any
 * size (rwkv7 at K = V = 8, T = 4,096: 57 -> 19 ms; gated_deltanet 148 -> 17; deltaproduct2 170 -> 23).
 * Another loop core (LSTM, GRU: their forward is a loop for its nonlinearity) never does: at X = 4,
 * H = 8 LSTM's backward went from 19 to 28 ms with it, and at H = 128 its rest did not compile in 10 min.
 */
export const STEPS_REST_MIN_STATE = 256;
const stateElements = (m: Module, sizes: Record<string, number>) => m.tensors.filter((t) => t.role === 'state').reduce((n, t) => n + t.dims.reduce((k, d) => k * sizes[d]!, 1), 0);

/**
 * The two-stage backward, where the step splits so and the rest is a map and sum over time. `coreMode`:
 * the core's mode request; 'auto+chunk' is `auto`, then chunks where that gives the sequential loop
 * and the chunk backend takes the core; 'chunk' asks for chunks (`--grad-mode chunk`: a refusal is the user's).
 */
function stagedOf(step: BackwardStep, m: Module, sizes: Record<string, number>, planned: (m: Module, more?: PlanOptions) => Compilation, walkBack: boolean, gathered: boolean, coreMode: ModeRequest | 'auto+chunk', restSteps = false, recomputeRest = true, loopCore = false, gate = true): StagedCompilation | undefined {
  const stages = stageBackward(step, m);
  if (!stages) {
    if (coreMode === 'chunk') throw new RnncError(`rnnc: ${m.name} cannot take --grad-mode chunk: its backward does not split into an adjoint recurrence and a map over time (docs/grad.md, "The staged backward"); differentiate it with --grad-mode seq or --grad-mode auto`);
    return undefined;
  }
  const planCore = (more: PlanOptions) => (walkBack ? walkingBack(stages.core, planned, more) : planned(stages.core, more));
  let core: Compilation;
  try {
    if (coreMode === 'chunk') core = planCore({ mode: 'chunk' });
    else {
      core = planCore({ ...(gathered ? CORE_OPTIONS : {}), ...(coreMode === 'auto+chunk' ? { mode: loopCore ? 'seq' : 'auto' } : {}) });
      if (coreMode === 'auto+chunk' && core.plan.mode === 'seq') {
        try {
          core = planCore({ mode: 'chunk' });
        } catch (e) {
          if (!(e instanceof RnncError)) throw e;
        }
      }
    }
  } catch (e) {
    if (e instanceof RnncError && coreMode !== 'chunk') return undefined;
    throw e;
  }
  const forwardLoop = (c: Compilation) => (loopCore && c.plan.mode === 'seq' ? { forwardLoop: true as const } : {});
  if (timeSumFits(stages.rest, sizes) && timeSumBindings(stages.rest) <= TIME_SUM_STORAGE_BUFFERS && !(restSteps && core.plan.mode === 'chunk')) {
    // Recomputing needs the data in forward order (a core that walks back itself) and binds what the
    // forward and core updates read besides the rest's inputs.
    const gates = recomputeRest && gate ? gateBackward(step, m) : undefined;
    const run = recomputeRest && core.module.reversed === true ? recomputeRun(m, stages.core, stages.rest, sizes, gates) : undefined;
    const recompute = run !== undefined && restBindings(stages, m, true) <= TIME_SUM_STORAGE_BUFFERS ? run : undefined;
    const gated = recompute ? gates : undefined;
    return { stages, core, gathered: gathered && core.plan.mode !== 'chunk', ...forwardLoop(core), rest: { kind: 'time-sum', ...(recompute ? { recompute } : {}), ...(gated ? { gated } : {}) } };
  }
  // A rest too large for the time-sum kernel: every step on its own, as a sequence of one step. Behind a
  // chunked core where the rest has no sums (deltanet at K = V = 64), at any size. Under `auto`, behind
  // a scan core or the forward's loop from STEPS_REST_MIN_STATE, with the params' sums too (each step's
  // terms are its final states, summed on the host): mamba_s6 at D = 256, N = 16, whose one-cell
  // backward sums across its state every step (d_B, d_C) and so ran one invocation per sequence. Never
  // behind another loop: a nonlinear cell's rest would recompute its primal.
  const stepsRest =
    core.plan.mode === 'chunk'
      ? !stages.rest.tensors.some((t) => t.role === 'state')
      : coreMode === 'auto+chunk' && (core.plan.mode === 'scan' || loopCore) && stateElements(stages.core, sizes) >= STEPS_REST_MIN_STATE;
  if (stepsRest) {
    const a = analysed(stages.rest);
    return { stages, core, gathered: false, ...forwardLoop(core), rest: { kind: 'steps', compilation: plan(a.module, a.analysis, { dims: sizes, target: core.target, mode: 'seq', oneStep: true, flag: '--grad-mode', verb: 'differentiate' }) } };
  }
  if (coreMode === 'chunk') throw new RnncError(`rnnc: ${m.name} cannot take --grad-mode chunk: the rest of its staged backward has sums over time too large for the time-sum kernel at these sizes; differentiate it with --grad-mode seq or --grad-mode auto`);
  return undefined;
}

/**
 * The staged backward with its checkpoints written once a run (`SampledCheckpoints`): the saving cell
 * and the core planned again as scans that write the saved states and the carried adjoints at sampled
 * positions only, each where the scan takes it (one thread holding the whole element; a core that
 * walks back). What the scan refuses keeps writing every step.
 */
function sampledStages(staged: StagedCompilation, saving: SavingModule, planSaving: (more: PlanOptions) => Compilation, planned: (m: Module, more?: PlanOptions) => Compilation): StagedCompilation {
  const { rest } = staged;
  if (rest.kind !== 'time-sum' || !rest.recompute) return staged;
  const every = rest.recompute;
  const attempt = (make: () => Compilation): Compilation | undefined => {
    try {
      return make();
    } catch (e) {
      if (e instanceof RnncError) return undefined;
      throw e;
    }
  };
  // The core reads the saved states of a cell whose adjoint's transition depends on them (maxplus's
  // routing): then they are needed every step.
  const coreReadsSaved = staged.stages.core.tensors.some((t) => t.role === 'input' && [...saving.saved.keys()].includes(t.name));
  const sampledSaving = coreReadsSaved ? undefined : attempt(() => planSaving({ mode: 'scan', sample: { outputs: [...saving.saved.values()], every, at: 'first' } }));
  const core =
    staged.core.plan.mode === 'scan'
      ? attempt(() => planned({ ...staged.stages.core, reversed: true }, { ...(staged.gathered ? CORE_OPTIONS : {}), mode: 'scan', sample: { outputs: [...staged.stages.carried.values()], every, at: 'last' } }))
      : undefined;
  const sampled = { saved: sampledSaving !== undefined, carried: core !== undefined };
  if (!sampled.saved && !sampled.carried) return staged;
  return { ...staged, ...(core ? { core } : {}), ...(sampledSaving ? { saving: sampledSaving } : {}), rest: { ...rest, sampled } };
}

/** The same gradient compilation for the adapter's target (subgroups), planned again only where it differs. */
export function retargetGrad(g: GradCompilation, device: Device, options: PlanOptions = {}): GradCompilation {
  if (g.parts) {
    const parts = g.parts.map((p) => retargetGrad(p, device, options));
    return { ...parts[0]!, forward: retarget(g.forward, targetOf(device.adapter), options), parts };
  }
  const target = targetOf(device.adapter);
  const again = (c: Compilation) => retarget(c, target, { ...options, flag: '--grad-mode' });
  // A device with fewer storage buffers per stage than the time-sum rest binds runs the one-cell
  // backward, whose kernels keep to WebGPU's guaranteed 8.
  const { staged: _staged, ...oneCell } = g;
  if (g.staged?.rest.kind === 'time-sum' && restBindings(g.staged.stages, g.forward.module, g.staged.rest.recompute !== undefined) > device.adapter.limits.maxStorageBuffersPerShaderStage) return retargetGrad(oneCell, device, options);
  return {
    ...g,
    forward: retarget(g.forward, target, options),
    saving: retarget(g.saving, target, options),
    backward: again(g.backward),
    ...(g.loop ? { loop: again(g.loop) } : {}),
    accumulations: g.accumulations.map((a) => ({ ...a, compilation: again(a.compilation) })),
    ...(g.staged
      ? {
          staged: {
            ...g.staged,
            core: retarget(g.staged.core, target, { ...options, ...(g.staged.gathered ? CORE_OPTIONS : {}), ...(g.staged.core.plan.decision.mode === 'chunk' ? { chunk: g.staged.core.plan.decision.chunk } : {}), flag: '--grad-mode' }),
            rest: g.staged.rest.kind === 'steps' ? { kind: 'steps' as const, compilation: retarget(g.staged.rest.compilation, target, { ...options, oneStep: true, flag: '--grad-mode' }) } : g.staged.rest,
            ...(g.staged.saving ? { saving: retarget(g.staged.saving, target, options) } : {}),
          },
        }
      : {}),
  };
}

/**
 * What `rnnc compile --grad` writes besides the forward cell's files: each gradient cell's kernels,
 * manifest and host module, and `<cell>.grad.json`, the schedule a host follows to chain them (the
 * one src/runtime/bptt.ts runs): which cell runs when, and which tensor of one feeds which of another.
 */
export async function gradFiles(g: GradCompilation, sourcePath?: string): Promise<GeneratedFile[]> {
  // The host module's gradient function (backends/host/host-grad.ts), over the cells written here.
  const files = await scheduleFiles(g, sourcePath);
  // A cell's host module: `<cell>.ts` (seq) or `<cell>.<mode>.ts` (scan, chunk).
  const fileOf = (cell: string) => {
    const file = files.find((f) => f.name === `${cell}.ts` || (f.name.startsWith(`${cell}.`) && /^[a-z]+\.ts$/.test(f.name.slice(cell.length + 1))));
    if (!file) throw new RnncError(`rnnc: internal error: no host module for the gradient cell ${cell}`, 'internal');
    return file.name.slice(0, -'.ts'.length);
  };
  const hostGrad = { name: `${g.forward.module.name}.grad.ts`, text: await hostGradModule(g.forward.module, (g.parts ?? [g]).map(hostGradPart), g.forward.sizes, sourcePath ?? `${g.forward.module.name}.rnn`, fileOf) };
  return [...files, hostGrad];
}

/** What the host's gradient function runs of one direction's gradient compilation. */
function hostGradPart(g: GradCompilation): HostGradPart {
  return {
    cell: g.forward.module,
    saving: g.saving.module,
    saved: g.savingModule.saved,
    backward: g.backward.module,
    roles: g.step.roles,
    accumulations: g.accumulations.map((a) => ({ param: a.param, adjoint: g.split!.accumulations.find((x) => x.param === a.param)!.adjoint, module: a.compilation.module })),
  };
}

/** The gradient cells' files and the schedule, `<cell>.grad.json` (per part, and the cell's naming them). */
async function scheduleFiles(g: GradCompilation, sourcePath?: string): Promise<GeneratedFile[]> {
  if (g.parts) {
    const files = (await Promise.all(g.parts.map((p) => scheduleFiles(p, sourcePath)))).flat();
    const schedule = {
      cell: g.forward.module.name,
      ...(sourcePath ? { source: sourcePath } : {}),
      about:
        'A bidirectional cell, differentiated as its two parts, one direction of time each (forward statements; the `reversed { ... }` block). ' +
        "Run each part's schedule (`schedule`) on the inputs, params and initial states it declares, with the upstream gradients of its own outputs and final states. " +
        "An input's and a param's gradient is the sum of the parts' (0 where neither reads it); each initial state's gradient is its part's.",
      parts: g.parts.map((p) => ({ direction: p.forward.module.reversed ? 'reversed' : 'forward', cell: p.forward.module.name, schedule: `${p.forward.module.name}.grad.json` })),
    };
    return [...files, { name: `${g.forward.module.name}.grad.json`, text: JSON.stringify(schedule, null, 2) + '\n' }];
  }
  const cells = [g.saving, g.backward, ...g.accumulations.map((a) => a.compilation)];
  const files = (await Promise.all(cells.map((c) => compileFiles(c)))).flat();
  const name = (c: Compilation) => c.module.name;
  const schedule = {
    cell: g.forward.module.name,
    ...(sourcePath ? { source: sourcePath } : {}),
    about: g.forward.module.reversed
      ? 'Backpropagation through time of a reversed cell (it walks each sequence from its last valid step). 1. Run `saving` (a reversed cell too: same inputs, params, initial states); its extra outputs are the states before each step, at each step\'s position. ' +
        '2. Run `backward`, a plain cell (it walks each sequence\'s valid steps forward), on the inputs, the saved states and the upstream output gradients as they are, from the final states\' upstream gradients; its final states are the initial states\' gradients, its outputs the inputs\' gradients. ' +
        '3. Run each `accumulations` cell over the same steps, its inputs from step 2 and from `backward`\'s carried outputs; its final state, summed over the batch, is the param\'s gradient. ' +
        'A param that initialises a state also gets that state\'s gradient where no initial state was given.'
      : g.backward.module.reversed
      ? 'Backpropagation through time. 1. Run `saving` forward (as the cell: same inputs, params, initial states); its extra outputs are the states before each step. ' +
        '2. Run `backward`, a reversed cell (it walks each sequence\'s valid steps backward itself), on the inputs, the saved states and the upstream output gradients as they are, from the final states\' upstream gradients; its final states are the initial states\' gradients, its outputs the inputs\' gradients. ' +
        '3. Run each `accumulations` cell over the same steps, its inputs from step 2 and from `backward`\'s carried outputs; its final state, summed over the batch, is the param\'s gradient. ' +
        'A param that initialises a state also gets that state\'s gradient where no initial state was given.'
      : 'Backpropagation through time. 1. Run `saving` forward (as the cell: same inputs, params, initial states); its extra outputs are the states before each step. ' +
        '2. Reverse each sequence\'s valid steps (its length) in time: the inputs, the saved states and the upstream output gradients. ' +
        '3. Run `backward` over the reversed steps from the final states\' upstream gradients; its final states are the initial states\' gradients, its outputs (reversed back) the inputs\' gradients. ' +
        '4. Run each `accumulations` cell over the same reversed steps, its inputs from step 2 and from `backward`\'s carried outputs; its final state, summed over the batch, is the param\'s gradient. ' +
        'A param that initialises a state also gets that state\'s gradient where no initial state was given.',
    saving: { cell: name(g.saving), mode: g.saving.plan.mode, savedStates: Object.fromEntries(g.savingModule.saved) },
    backward: {
      cell: name(g.backward),
      mode: g.backward.plan.mode,
      why: g.backward.plan.why,
      savedStates: Object.fromEntries(g.step.roles.savedStates.map((r) => [r.state, r.input])),
      upstreamOutputs: Object.fromEntries(g.step.roles.upstreamOutputs.map((r) => [r.output, r.input])),
      stateAdjoints: Object.fromEntries(g.step.roles.stateAdjoints.map((r) => [r.state, r.adjoint])),
      inputAdjoints: Object.fromEntries(g.step.roles.inputAdjoints.map((r) => [r.input, r.adjoint])),
      carried: Object.fromEntries(g.split?.carried ?? []),
      transposedParams: Object.fromEntries(g.step.roles.transposedParams.map((r) => [r.param, r.of])),
    },
    accumulations: g.accumulations.map((a) => ({ param: a.param, cell: name(a.compilation), mode: a.compilation.plan.mode, state: g.split!.accumulations.find((x) => x.param === a.param)!.adjoint })),
  };
  return [...files, { name: `${g.forward.module.name}.grad.json`, text: JSON.stringify(schedule, null, 2) + '\n' }];
}

const f32 = (a: FloatArray): Float32Array => (a instanceof Float32Array ? a : Float32Array.from(a));
const allF32 = (r: Record<string, FloatArray>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, f32(v)]));

export interface GradRunOptions extends BpttOptions {
  /** Steps per piece at most, as `rnnc run --segment` (pieces are cut to the adapter's limits anyway). */
  segment?: number;
  /** Sum the params' gradients over time as reductions in one job (default), not as one cell each. */
  timeSum?: boolean;
  /** Sum the params' gradients whose term is an outer product as matrix products over the steps (default), not as one cell each. */
  outerSum?: boolean;
  /** Run the staged backward where the compilation has one: true, false, or by default where its core is a scan (`usesStages`). */
  staged?: boolean;
}

/**
 * Whether a run takes the staged backward. By default where the rest runs every step on its own
 * behind a loop core (planned only where that wins: stagedOf), or where its core is a scan and the rest has work
 * of its own (`restWorthStaging`: params' sums, or inputs' gradients that sum over a state adjoint,
 * as gla's). Where the inputs' gradients are pointwise in the adjoint, the backward cell's one scan
 * writes them and staging only adds the carried adjoints' traffic; a sequential core (lstm) would
 * recompute the primal a second time (docs/grad.md, "Measured").
 */
export const usesStages = (g: GradCompilation, options: Pick<GradRunOptions, 'staged'> = {}): boolean =>
  g.staged !== undefined &&
  (options.staged ?? (((g.staged.core.plan.mode === 'scan' || g.staged.core.plan.mode === 'chunk') && restWorthStaging(g.staged.stages)) || (g.staged.core.plan.mode === 'seq' && g.staged.rest.kind === 'steps')));

/**
 * Adds a piece of per-step terms into their sequences' sums: `piece` holds rows first, first + 1, …
 * of a [batch · T, n] array (row r is step r % T of sequence ⌊r / T⌋), `out` is [batch, n] in float64.
 */
export function addSteps(out: Float64Array, piece: Float32Array, first: number, T: number, n: number): void {
  const rows = piece.length / Math.max(1, n);
  for (let k = 0; k < rows; k++) {
    const at = Math.floor((first + k) / T) * n;
    for (let i = 0; i < n; i++) out[at + i]! += piece[k * n + i]!;
  }
}

/** Per step of every sequence, as a sequence of its own: 1 for a valid step, 0 past the sequence's length. */
export function restLengths(shape: { batch: number; T: number; lengths?: Int32Array }): Int32Array {
  const out = new Int32Array(shape.batch * shape.T);
  for (let b = 0; b < shape.batch; b++) {
    const length = Math.max(0, Math.min(shape.T, shape.lengths ? shape.lengths[b]! : shape.T));
    out.fill(1, b * shape.T, b * shape.T + length);
  }
  return out;
}

/** Every compilation a gradient run or `rnnc compile --grad` takes besides the forward cell's (both parts' of a bidirectional cell). */
export const gradCompilations = (g: GradCompilation): Compilation[] =>
  g.parts ? g.parts.flatMap(gradCompilations) : [g.saving, g.backward, ...g.accumulations.map((a) => a.compilation)];

/**
 * How the one-cell schedule sums the params' gradients over time and maps the inputs' (runGrad's
 * `sumOverTime`): in the time-sum kernel where it takes them (backends/wgsl-reduce/time-sum.ts); as
 * matrix products over the steps where the term is an outer product (`outer`: LSTM's weights from
 * H = 16 on; outer-sum.ts); else each by its accumulation cell (`cells`). The inputs' map, where the
 * loop leaves it out (GradCompilation.loop), in the time-sum job or as a product of its own
 * (weights-map.ts). Undefined where the staged backward runs or `timeSum` is off (every sum by its cell).
 */
export interface SumsSchedule {
  timeSum: Accumulation[];
  outer: Accumulation[];
  cells: Accumulation[];
  map?: 'time-sum' | 'weights';
}

export function sumsSchedule(g: GradCompilation, options: Pick<GradRunOptions, 'timeSum' | 'outerSum' | 'staged'> = {}, limits?: Pick<AdapterLimits, 'maxStorageBufferBindingSize'>): SumsSchedule | undefined {
  if (usesStages(g, options) || options.timeSum === false || !g.split) return undefined;
  const sizes = g.forward.sizes;
  const all = g.split.accumulations;
  const timeSum = all.filter((a) => sumTerm(a.module, a.adjoint) && timeSumFits(a.module, sizes));
  // An outer term whose one sequence's sums exceed a binding (on the device, where known) stays its cell.
  const outerOf = (a: Accumulation) => {
    const term = outerTerm(a.module, sizes);
    return term !== undefined && (!limits || outerSumFits(term, limits.maxStorageBufferBindingSize));
  };
  const outer = options.outerSum === false ? [] : all.filter((a) => !timeSum.includes(a) && outerOf(a));
  const cells = all.filter((a) => !timeSum.includes(a) && !outer.includes(a));
  const map = g.loop && g.split.inputs ? (timeSumFits(g.split.inputs.map, sizes) ? 'time-sum' : 'weights') : undefined;
  return { timeSum, outer, cells, ...(map ? { map } : {}) };
}

/** Runs forward and backward on the device: the gradients, and the forward run's results. */
export async function runGrad(device: Device, g: GradCompilation, data: RunArrays, upstream: Upstream = {}, options: GradRunOptions = {}): Promise<Gradients<Float32Array>> {
  if (g.parts) {
    // Each part on its share of the data, one after the other; the upstream gradients keep their names.
    const got = [];
    for (const part of g.parts) got.push({ module: part.forward.module, gradients: await runGrad(device, part, partData(part.forward.module, data), upstream, options) });
    return joinPartGradients(g.forward.module, { batch: data.batch, T: data.T, sizes: g.forward.sizes }, got, (n) => new Float32Array(n));
  }
  const compiled = new Map<GradCell, CompiledCell>();
  const schedule = sumsSchedule(g, options, device.adapter.limits);
  // The backward cell without the inputs' gradients where the params' sums job maps them (GradCompilation.loop).
  const map = schedule?.map ? g.split!.inputs!.map : undefined;
  const staged = usesStages(g, options) ? g.staged : undefined;
  const cells = new Map<GradCell, Compilation>([
    ['forward', g.forward],
    // The staged backward's rest reads the saved states once a run: the saving cell that writes them so, where planned.
    ['saving', (staged?.rest.kind === 'time-sum' && staged.saving) || g.saving],
    ['backward', map ? g.loop! : g.backward],
    ...(g.staged ? [['core', g.staged.core] as [GradCell, Compilation]] : []),
    ...g.accumulations.map((a): [GradCell, Compilation] => [accumulationCell(a.param), a.compilation]),
  ]);
  const runner: CellRunner<Float32Array> = {
    zeros: (n) => new Float32Array(n),
    async run(cell, shape, d) {
      const c = cells.get(cell)!;
      if (!compiled.has(cell)) compiled.set(cell, emit(c));
      const prepare = (s: RunSize) => compiled.get(cell)!.prepare(s);
      const size = { batch: shape.batch, T: shape.T };
      const sample = c.plan.decision.mode === 'scan' ? c.plan.decision.sample : undefined;
      const segments = planSegments(prepare, device.adapter.limits, c.sizes, size, options.segment, false, sample);
      const arrays: RunArrays = {
        ...size,
        inputs: allF32(d.inputs),
        params: allF32(d.params),
        ...(d.initial ? { initialState: allF32(d.initial) } : {}),
        ...(shape.lengths ? { lengths: shape.lengths } : {}),
      };
      const result = await runSegmented(device, c.module, prepare, arrays, c.sizes, segments, undefined, sample);
      return { outputs: result.outputs, final: result.finalState };
    },
  };
  const timeSumRun = async (compiled: CompiledTimeSum, shape: { batch: number; T: number; lengths?: Int32Array }, inputs: Record<string, FloatArray>, params: Record<string, FloatArray>) => {
    const prepared = compiled.prepare({ batch: shape.batch, T: shape.T }, device.adapter.limits);
    const result = await device.run(prepared.job({ inputs: allF32(inputs), params: allF32(params), ...(shape.lengths ? { lengths: shape.lengths } : {}) }));
    return prepared.decode(result.buffers);
  };
  if (staged?.rest.kind === 'steps') {
    // The rest as a cell over every step of every sequence, each a sequence of one step: [batch, T, n] is [batch·T, 1, n].
    const rest = staged.rest.compilation;
    let compiledRest: CompiledCell | undefined;
    runner.runRest = async (shape, inputs, params) => {
      compiledRest ??= emit(rest);
      const prepare = (s: RunSize) => compiledRest!.prepare(s);
      const steps = { batch: shape.batch * shape.T, T: 1 };
      const lengths = restLengths(shape);
      const segments = planSegments(prepare, device.adapter.limits, rest.sizes, steps, options.segment);
      // Each step's final states are its terms of the params' sums (from 0): per sequence, their sum,
      // added piece by piece as the pieces come back.
      const widths = new Map(tensorsOf(rest.module, 'state').map((t) => [t.name, tensorSize(t, rest.sizes)]));
      const sums = Object.fromEntries([...widths].map(([name, n]) => [name, new Float64Array(shape.batch * n)]));
      const add = (b0: number, _nb: number, state: Record<string, Float32Array>) => {
        for (const [name, n] of widths) addSteps(sums[name]!, state[name]!, b0, shape.T, n);
      };
      const result = await runSegmented(device, rest.module, prepare, { ...steps, inputs: allF32(inputs), params: allF32(params), lengths }, rest.sizes, segments, undefined, undefined, add);
      return { outputs: result.outputs, sums };
    };
  } else if (staged) {
    // The rest of the staged backward: the inputs' gradients and every param's sum, in one job.
    const run = staged.rest.recompute;
    const recompute = run ? { forward: g.forward.module, core: staged.stages.core, saved: new Map(g.step.roles.savedStates.map((r) => [r.state, r.input])), carried: staged.stages.carried, run, ...(staged.rest.sampled ? { sampled: staged.rest.sampled } : {}), ...(staged.rest.gated ? { gated: staged.rest.gated } : {}) } : undefined;
    const compiled = compileTimeSum([staged.stages.rest], g.forward.sizes, `${g.forward.module.name}_grad_rest`, recompute ? { recompute } : {});
    runner.runRest = (shape, inputs, params) => timeSumRun(compiled, shape, inputs, params);
  } else if (schedule) {
    const sizes = g.forward.sizes;
    const name = g.forward.module.name;
    // The products' kernels broadcast with subgroups where the device has them (of at least 8).
    const subgroups = targetOf(device.adapter).subgroups;
    let jobs: { sums?: CompiledTimeSum; products: CompiledTimeSum[] } | undefined;
    runner.sumOverTime = async (_accumulations, shape, inputs, params) => {
      const mapSums = schedule.map === 'time-sum' && map ? [map] : [];
      jobs ??= {
        ...(schedule.timeSum.length || mapSums.length ? { sums: compileTimeSum([...schedule.timeSum.map((a) => a.module), ...mapSums], sizes, `${name}_grad_sums`) } : {}),
        products: [
          ...(schedule.outer.length ? [compileOuterSum(schedule.outer.map((a) => a.module), sizes, `${name}_grad_outer`, subgroups)] : []),
          ...(schedule.map === 'weights' && map ? [compileWeightsMap(map, sizes, `${name}_grad_map`, subgroups)] : []),
        ],
      };
      const got: Record<string, FloatArray> = {};
      for (const job of [...jobs.products, ...(jobs.sums ? [jobs.sums] : [])]) {
        const r = await timeSumRun(job, shape, inputs, params);
        Object.assign(got, r.sums, r.outputs);
      }
      return got;
    };
  }
  runner.walksBack = (cell) => cells.get(cell)?.module.reversed === true;
  const shape = { batch: data.batch, T: data.T, sizes: g.forward.sizes, ...(data.lengths ? { lengths: data.lengths } : {}) };
  const cellData = { inputs: data.inputs, params: data.params, ...(data.initialState ? { initial: data.initialState } : {}) };
  return backpropagate(g.forward.module, { backward: g.step, saving: g.savingModule, ...(g.split ? { split: g.split } : {}), ...(staged ? { staged: staged.stages } : {}) }, runner, shape, cellData, upstream, options);
}
