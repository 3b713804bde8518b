// The execution plan: every decision that depends on the sizes and the target, made once and recorded
// with its reason. Backends receive it inside a Compilation and build what it says; they never
// re-derive a choice (they were asked, once, through their probe, before the plan was made).
import type { Analysis } from '../analyse/types.js';
import type { DimSizes } from '../ir/dims.js';
import type { Module } from '../ir/ir.js';
import type { StepCost } from '../ir/cost.js';
import type { SourceFile } from '../diagnostics/render.js';
import type { PrecisionDecision, PrecisionRequest } from './precision.js';

/** The kernels a cell can be compiled to: a loop over time, a parallel scan, chunks over time. */
export const modes = ['seq', 'scan', 'chunk'] as const;
export type Mode = (typeof modes)[number];
/** What a user asks for: a mode, or `auto` (the planner's choice). */
export type ModeRequest = Mode | 'auto';
export const modeRequests: readonly ModeRequest[] = [...modes, 'auto'];
export const isModeRequest = (s: string): s is ModeRequest => (modeRequests as readonly string[]).includes(s);

/** What the kernels may assume of the adapter that runs them. */
export interface Target {
  /** Subgroup operations with subgroups of at least 8 invocations (the scan's stripe split). */
  subgroups: boolean;
  /**
   * A workgroup that has started runs on while others wait for it (lavapipe, SwiftShader, desktop
   * NVIDIA/AMD/Intel), so a scan may look back at its predecessors in one pass (the scan's chained
   * pass, backends/wgsl-scan/chained.ts). Unknown before an adapter is: off.
   */
  lookBack?: boolean;
  /** The `shader-f16` feature: f16 buffers (precision.ts). Unknown (absent) counts as present, as before an adapter is known. */
  f16?: boolean;
}

/** Before an adapter is known, rnnc compiles for one with subgroups (`--no-subgroups` says otherwise) and `shader-f16`. */
export const defaultTarget: Target = { subgroups: true };

/** Choices a user may force (tests and benchmarks do); the planner checks them like its own. */
export interface PlanRequest {
  mode: ModeRequest;
  /** Steps per chunk for the chunk kernels. */
  chunk?: number;
  /** How the scan splits a sequence over invocations. */
  split?: ScanSplit;
  /**
   * The scan: one element per sequence holding every lane even where lanes would do (a backward
   * core, whose lanes all read the same upstream gradient: src/driver/grad.ts).
   */
  gather?: boolean;
  /**
   * The loop: every sequence is one step, and there are many (a staged backward's rest over
   * every step, src/driver/grad.ts), so one invocation per sequence: a workgroup sharing a
   * sequence's lanes would pay a barrier between its definitions for every step.
   */
  oneStep?: boolean;
  /** Buffer and arithmetic precision (precision.ts); default `auto`, which is f32. */
  precision?: PrecisionRequest;
  /**
   * The same bits on every run: no kernel whose order of combining follows the workgroups' timing.
   * The scan's chained pass combines a tile's predecessors as far back as their records are published
   * when it looks, so (+, ×) and log-sum-exp sums round differently from run to run; without it the
   * scan reduces, then scans, in a fixed order.
   */
  deterministic?: boolean;
  /**
   * The scan: these outputs written at every `every`-th position only (`SampleRequest`). A staged
   * backward's rest, which recomputes the steps between, asks for the saved states and the carried
   * adjoints so (src/driver/grad.ts).
   */
  sample?: SampleRequest;
}

/**
 * Outputs kept at sampled positions only, into [batch, ceil(T / every), ...dims] each: at positions
 * p with p % every = 0 (`first`: a state before the first step of each run of `every`), or with
 * p % every = every - 1 or p the sequence's last (`last`: before the last step of each run). Valid
 * steps only; rows past a sequence's length are not written.
 */
export interface SampleRequest {
  outputs: string[];
  every: number;
  at: 'first' | 'last';
}

/** What a probe is shown: the cell, its analysis, the sizes, the target and what was asked. */
export interface PlanSubject {
  module: Module;
  analysis: Analysis;
  sizes: DimSizes;
  target: Target;
  request: PlanRequest;
}

export type ScanSplit = 'tile' | 'thread' | 'stripe';

/**
 * The sequential kernel: a loop over time in one dispatch (no `step`), or, where a step is one run of
 * definitions large enough to outweigh a dispatch, the step as a kernel dispatched once per step
 * (`step: 'dispatch'`, backends/wgsl-seq/emit.ts stepwiseForm) with `tile` sequences per invocation
 * (fewer at a smaller batch).
 */
export interface SeqDecision {
  mode: 'seq';
  step?: 'dispatch';
  tile?: number;
  /**
   * The pre-pass over subgroups (backends/wgsl-seq/prepass-subgroup.ts: lanes over 8 step rows, each
   * weight vec4 loaded once and shared by subgroupBroadcast), where the target has subgroups of at
   * least 8 and the pre-pass's sums take it (subgroupPrepassForm); absent: the rows pre-pass.
   */
  prepass?: 'subgroups';
  /**
   * From a batch of 8 (chosen at `prepare`, as the tile is), the step kernel with lanes over 8
   * sequences, each recurrent weight vec4 loaded by one lane and shared by subgroupBroadcast
   * (backends/wgsl-seq/step-subgroup.ts); absent: the step kernel with `tile` sequences per invocation.
   */
  lanes?: 'sequences';
  /** One invocation per sequence, whatever the workgroup memory allows (PlanRequest.oneStep). */
  invocation?: true;
}

/** The scan's element layout and tile shape (backends/wgsl-scan/layout.ts explains each). */
export interface ScanDecision {
  mode: 'scan';
  /** 'lanes': one element per independent lane; 'whole': one element holding every lane; 'matrix': a whole element held by a workgroup (too big for one invocation). */
  layout: 'lanes' | 'whole' | 'matrix';
  /** Floats per scan element. */
  floats: number;
  /** blockLanes: lanes of a sequence per workgroup where the 'tile' split spreads them over several. */
  tile: { split: ScanSplit; groups: number; runs: number; runLength: number; width?: number; blockLanes?: number; chained?: boolean };
  subgroups: boolean;
  /** Outputs written at sampled positions only (PlanRequest.sample). */
  sample?: SampleRequest;
}

export interface ChunkDecision {
  mode: 'chunk';
  /** Steps per chunk. */
  chunk: number;
  workgroupSize: number;
  /** The transition's size K and the rows R that share it. */
  K: number;
  R: number;
}

export type Decision = SeqDecision | ScanDecision | ChunkDecision;
export type DecisionOf<M extends Mode> = Extract<Decision, { mode: M }>;

/** A backend's answer: it takes the cell (with its decisions and why), or not (and why not). */
export type Verdict<M extends Mode = Mode> = { ok: true; why: string; decision: Decision & { mode: M } } | { ok: false; why: string };

/** How the planner asks a backend whether it takes a cell. Implemented by each backend (backends/). */
export interface ModeProbe<M extends Mode = Mode> {
  readonly mode: M;
  probe(subject: PlanSubject): Verdict<M>;
}

export interface ExecutionPlan {
  requested: ModeRequest;
  mode: Mode;
  /** Why this mode: the backend's reason, and for `auto` why the others were not taken. */
  why: string;
  decision: Decision;
  /** Every mode the planner asked about, with the answer. */
  considered: { mode: Mode; ok: boolean; why: string }[];
  /** What one step costs per sequence, counted on the IR. */
  cost: Pick<StepCost, 'ops' | 'bytes'>;
  /** Element types of the inputs, params and outputs buffers, and why (absent: f32 throughout). */
  precision?: PrecisionDecision;
}

/** Whether a plan keeps inputs, params and outputs in f16 buffers. */
export const halfStorage = (plan: Pick<ExecutionPlan, 'precision'>): boolean => plan.precision?.storage === 'f16';

/** One spec at one size binding for one target: the module, its analysis (computed once) and the plan. */
export interface Compilation {
  module: Module;
  analysis: Analysis;
  sizes: DimSizes;
  target: Target;
  plan: ExecutionPlan;
  /** The .rnn source, for `// path:line` comments in generated code. */
  source?: SourceFile;
  /**
   * A bidirectional cell run as its two directions (src/compiler/ir/split-directions.ts), where a mode
   * or a run takes one direction of time only: each part's own compilation (forward, then reversed).
   * The driver runs them and joins their outputs per step (src/driver/directions.ts); `plan` then
   * sums them up. Absent for a cell that runs as one kernel.
   */
  parts?: Compilation[];
}
