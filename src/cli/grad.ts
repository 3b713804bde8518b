// What `rnnc run --grad` adds to a run: the backward kernel's mode, the float64 reference
// gradients, their verification and the report's `grad` section.
import type { ModeRequest } from '../compiler/plan/plan.js';
import { isModeRequest, modeRequests } from '../compiler/plan/plan.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import type { Module } from '../compiler/ir/ir.js';
import { sumsSchedule, usesStages, type GradCompilation, type Gradients, type Upstream } from '../driver/grad.js';
import { gradientTensors } from '../driver/grad-io.js';
import type { RunSize } from '../driver/run.js';
import type { TensorSummary } from '../driver/run-report.js';
import { tensorError, type Verification, type VerifyOptions } from '../driver/verify.js';
import { interpretBackward } from '../runtime/reference/grad-step.js';
import type { GradResult } from '../runtime/reference/grad.js';
import type { RunData, RunShape } from '../runtime/reference/interpreter.js';
import { EXIT_INTERNAL, UserError } from './io.js';

/** The backward kernel's mode: `--grad-mode`, else the sequential loop with `--mode seq` and the planner's choice otherwise. */
export function gradModeOf(forward: ModeRequest, given?: string): ModeRequest {
  if (given === undefined) return forward === 'seq' ? 'seq' : 'auto';
  if (isModeRequest(given)) return given;
  throw new UserError(`rnnc: --grad-mode must be one of ${modeRequests.join(', ')}, got '${given}'`, EXIT_INTERNAL);
}

/** The float64 reference: the compiler's backward step evaluated by the reference interpreter, on the schedule the GPU ran. */
export function referenceGradients(g: GradCompilation, shape: RunShape, data: RunData, upstream: Upstream, checkpoint?: number): Promise<GradResult> {
  // A bidirectional cell: interpretBackward splits it into its parts as runGrad does (g.step is one part's).
  return interpretBackward(g.forward.module, shape, data, upstream, g.parts ? undefined : g.step, checkpoint !== undefined ? { checkpoint } : {});
}

/** Every gradient against the reference's, norm-wise per tensor. */
export function verifyGradients(m: Module, sizes: DimSizes, size: RunSize, gpu: Gradients<Float32Array>, ref: GradResult, tolerance: number, options: VerifyOptions = {}): Verification {
  const refTensors = gradientTensors(m, sizes, size, ref);
  const tensors = gradientTensors(m, sizes, size, gpu).map((t, k) => tensorError(t.name, 'grad', t.data, refTensors[k]!.data, tolerance, { ...options, normwise: true }));
  return { tolerance, ok: tensors.every((t) => t.ok), tensors };
}

/** The `grad` section of `rnnc run --json`: which kernels ran the backward pass, and why. */
export function gradReport(g: GradCompilation, checkpoint: number | undefined, upstream: Record<string, string>, gradients: TensorSummary[]) {
  return {
    ...kernelsReport(g),
    // A bidirectional cell: each part's backward kernels (the fields above are the forward part's).
    ...(g.parts ? { parts: g.parts.map((p) => ({ direction: p.forward.module.reversed ? 'reversed' : 'forward', name: p.forward.module.name, ...kernelsReport(p) })) } : {}),
    checkpoint: checkpoint ?? null,
    upstream,
    gradients,
  };
}

/** How the params' gradients are summed over time and the inputs' mapped, in words (sumsSchedule), or '' where the staged backward runs. */
function sumsText(g: GradCompilation): string {
  const s = sumsSchedule(g);
  if (!s) return '';
  const params = (list: { param: string }[]) => list.map((a) => a.param).join(', ');
  const parts = [
    s.timeSum.length ? `${params(s.timeSum)} in the time-sum kernel` : '',
    s.outer.length ? `${params(s.outer)} as matrix products over the steps` : '',
    s.cells.length ? `${params(s.cells)} each by its own cell` : '',
    s.map ? `the inputs' gradients ${s.map === 'time-sum' ? 'in the time-sum kernel' : 'as matrix products over the steps'}` : '',
  ].filter(Boolean);
  return parts.length ? `; the params' gradients summed over time: ${parts.join('; ')}` : '';
}

/** Which kernels run one cell's (or part's) backward pass, in words: the backward cell's, or the staged core's and rest's. */
export function backwardKernelText(g: GradCompilation): string {
  if (!usesStages(g)) return `${g.backward.plan.mode} kernel (${g.backward.plan.why})${sumsText(g)}`;
  const { rest: how } = g.staged!;
  const written = how.kind === 'time-sum' && how.sampled ? [how.sampled.saved && 'saved states', how.sampled.carried && 'carried adjoints'].filter(Boolean).join(' and ') : '';
  const rest =
    how.kind === 'time-sum'
      ? `the time-sum kernel${how.recompute ? `, recomputing the states over runs of ${how.recompute} steps${written ? ` (the scans write the ${written} once a run)` : ''}${how.gated ? `, the gate's gradient by ${how.gated.gateState}, a sum back over each run from ⟨${how.gated.adjoint}, ${how.gated.state}⟩ at its end (no state kept per step)` : ''}` : ''}`
      : `a sequential kernel over every step at once${how.compilation.module.tensors.some((t) => t.role === 'state') ? ", the params' sums each step's final states, added on the host" : ''}`;
  return `staged: the adjoint recurrence in a ${g.staged!.core.plan.mode} kernel (${coreWhy(g)}), the rest in ${rest}`;
}

/** Why the staged core runs as it does: the planner's words, after the forward's where it follows the forward's loop. */
function coreWhy(g: GradCompilation): string {
  const { core, forwardLoop } = g.staged!;
  return `${forwardLoop ? "the forward's loop: auto passed over the forward's scan, whose lanes fill workgroups; " : ''}${core.plan.why}`;
}

function sumsReport(g: GradCompilation) {
  const s = sumsSchedule(g);
  if (!s) return null;
  const params = (list: { param: string }[]) => list.map((a) => a.param);
  return { timeSum: params(s.timeSum), outerProducts: params(s.outer), cells: g.accumulations.filter((a) => s.cells.some((c) => c.param === a.param)).map((a) => ({ param: a.param, mode: a.compilation.plan.mode })), inputs: s.map === 'time-sum' ? 'time-sum' : s.map === 'weights' ? 'matrix-products' : 'backward' };
}

/** Which kernels run one cell's (or part's) backward pass. */
function kernelsReport(g: GradCompilation) {
  return {
    backward: { mode: g.backward.plan.mode, requested: g.backward.plan.requested, why: g.backward.plan.why, decision: g.backward.plan.decision, direction: g.backward.module.reversed ? 'reversed' : 'forward' },
    saving: { mode: g.saving.plan.mode },
    // The one-cell schedule's sums over time: which params each kernel sums (null where the staged backward runs).
    sums: sumsReport(g),
    // The staged backward (docs/grad.md) runs the adjoint recurrence alone, then the rest in one pass.
    staged: usesStages(g)
      ? {
          core: { mode: g.staged!.core.plan.mode, why: coreWhy(g), direction: g.staged!.core.module.reversed ? 'reversed' : 'forward' },
          rest: g.staged!.rest.kind,
          // Steps per run over which the rest recomputes the saved states and the carried adjoints (null: it reads them every step).
          recompute: (g.staged!.rest.kind === 'time-sum' && g.staged!.rest.recompute) || null,
          // Which of them the scans write once a run only (null: every step).
          sampled: (g.staged!.rest.kind === 'time-sum' && g.staged!.rest.sampled) || null,
          // The gate whose gradient the rest takes by the identity of src/compiler/grad/gate.ts (null: by pairing state and adjoint per step).
          gate: (g.staged!.rest.kind === 'time-sum' && g.staged!.rest.gated && { state: g.staged!.rest.gated.state, axes: g.staged!.rest.gated.gateAxes }) || null,
        }
      : null,
  };
}
