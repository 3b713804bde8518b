// The planner: asks each backend's probe once and records the answer. `auto` prefers the scan for an
// associative cell the scan backend takes, unless its lanes alone fill several workgroups per
// sequence or its elements need a workgroup each, else the sequential loop. The chunked kernels are never
// chosen by `auto`: on lavapipe the WY form measured 0.8x the sequential kernel at best (docs/chunk-bench.md).
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import { approxCount as approx, MAX_OPS_PER_STEP, stepCost } from '../ir/cost.js';
import type { Decision, ExecutionPlan, Mode, ModeProbe, PlanSubject, Verdict } from './plan.js';
import { choosePrecision } from './precision.js';

/** Why a requested mode cannot be planned, as a sentence; `mode` is the one refused. */
export class PlanRefused {
  constructor(
    readonly mode: Mode,
    readonly why: string,
  ) {}
}

/** A precision the target cannot run (f16 without `shader-f16`); `mode` is the one asked for. */
export class PrecisionRefused extends PlanRefused {}

/** A cell no mode may run at these sizes: its step costs more than the limit (RNN0801, at the costliest expression). */
export class PlanOverBudget {
  constructor(readonly diagnostic: Diagnostic) {}
}

const AUTO_ORDER: Mode[] = ['scan', 'seq'];

/**
 * Where the scan refuses a cell, `auto` says why it does not pick newton either (Newton iterations
 * over scans, src/driver/newton.ts, a mode of the driver): no measured cost model says it beats the
 * sequential loop, and on lavapipe it ran 10-80x slower (docs/newton.md).
 */
const NOT_NEWTON = '; not newton: auto picks Newton iterations only where a measured cost model says they beat the sequential loop, and none does (docs/newton.md); --mode newton runs them';

/**
 * Why `auto` passes over kernels a backend takes, where they measured slower than the sequential loop
 * on every adapter tried; undefined when it does not. `--mode` still runs them.
 */
function passedOver(decision: Decision): string | undefined {
  if (decision.mode !== 'scan') return undefined;
  // A workgroup combines dense elements: a matrix product (N³) per step where the sequential loop
  // does a matrix-vector product (N²), so the scan does about N times the work, and lavapipe's 2
  // cores cannot make that up: minmax at N = 16, T = 2^12..2^16 ran 30-40x slower (docs/scan-matrix.md).
  if (decision.layout === 'matrix')
    return `it takes the cell, but only with a workgroup combining each ${decision.floats}-float element (the 'matrix' layout), a matrix product per step where the sequential loop does a matrix-vector product, about N times less work for N rows (--mode scan runs it)`;
  // Lanes that fill several workgroups per sequence are parallelism the sequential loop has too;
  // the scan then adds work without adding parallelism (1.5-3x slower on lavapipe, docs/scan-lanes.md).
  if (decision.tile.blockLanes !== undefined)
    return `it takes the cell, but only by spreading each sequence's lanes over workgroups of ${decision.tile.blockLanes}, and lanes that fill several workgroups give the sequential loop the same parallelism without the scan's extra work (--mode scan runs it)`;
  return undefined;
}

export function makePlan(subject: PlanSubject, probes: readonly ModeProbe[]): ExecutionPlan | PlanRefused | PlanOverBudget {
  const { ops, bytes, hottest } = stepCost(subject.module, subject.sizes);
  if (ops > MAX_OPS_PER_STEP && hottest)
    return new PlanOverBudget(diagnostic('RNN0801', hottest.span, { ops: approx(ops), limit: approx(MAX_OPS_PER_STEP), hottest: approx(hottest.ops) }, { notes: ['nested reductions multiply: each level runs the one inside it once per index value; smaller dims or fewer levels bring the cost down'] }));
  // The precision first: it does not depend on the mode, and every backend builds what it says.
  const precision = choosePrecision(subject.module, subject.request.precision ?? 'auto', subject.target.f16 ?? true);
  if ('unavailable' in precision) return new PrecisionRefused(subject.request.mode === 'auto' ? 'seq' : subject.request.mode, precision.unavailable);
  const planned = modePlan(subject, probes, { ops, bytes });
  return planned instanceof PlanRefused ? planned : { ...planned, precision };
}

function modePlan(subject: PlanSubject, probes: readonly ModeProbe[], cost: ExecutionPlan['cost']): ExecutionPlan | PlanRefused {
  const probeOf = new Map(probes.map((p) => [p.mode, p]));
  const considered: ExecutionPlan['considered'] = [];
  const ask = (mode: Mode): Verdict => {
    const probe = probeOf.get(mode);
    const answer: Verdict = probe ? probe.probe(subject) : { ok: false, why: `no backend for mode '${mode}'` };
    // The scan backend says per state why a recurrence is not associative (or is, but coupled); when the
    // analysis planned every state as a scan, a refusal is about the kernels, and says so.
    const kernelsOnly = !answer.ok && mode === 'scan' && subject.analysis.plan !== undefined;
    const verdict: Verdict = kernelsOnly ? { ok: false, why: `every state is an associative recurrence, but the scan kernels do not take this cell: ${answer.why}` } : answer;
    considered.push({ mode, ok: verdict.ok, why: verdict.why });
    return verdict;
  };
  const requested = subject.request.mode;
  if (requested !== 'auto') {
    const verdict = ask(requested);
    if (!verdict.ok) return new PlanRefused(requested, verdict.why);
    return { requested, mode: requested, why: verdict.why, decision: verdict.decision, considered, cost };
  }
  const passed: string[] = [];
  for (const mode of AUTO_ORDER) {
    const verdict = ask(mode);
    const declined = verdict.ok ? passedOver(verdict.decision) : undefined;
    if (declined !== undefined) {
      passed.push(`not ${mode}: ${declined}`);
      continue;
    }
    if (verdict.ok) return { requested, mode, why: [...passed, verdict.why].join('; so ') + (mode === 'seq' && !subject.module.monoid && considered.some((c) => c.mode === 'scan' && !c.ok) ? NOT_NEWTON : ''), decision: verdict.decision, considered, cost };
    passed.push(`not ${mode}: ${verdict.why}`);
  }
  return new PlanRefused('seq', passed.join('; '));
}
