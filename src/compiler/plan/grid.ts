// The plan of a grid cell (`rnn name grid`, issue 18). One kernel runs a whole grid: the wavefront
// (backends/wgsl-grid), the grid's sequential kernel, under the `seq` mode: as the loop over time runs
// every time cell one step after another, the wavefront runs every grid cell one anti-diagonal after
// another (the positions of one in parallel). `auto` takes it too. The scan and chunk kernels run a
// separable grid cell along one axis, as a time cell per row or column (src/driver/grid-scan.ts, from
// `rnnc run --grid H,W --mode scan`); as one kernel for the whole grid, they are refused here.
import { diagnostic } from '../diagnostics/diagnostic.js';
import { approxCount as approx, MAX_OPS_PER_STEP, stepCost } from '../ir/cost.js';
import type { ExecutionPlan, PlanSubject } from './plan.js';
import { PlanOverBudget, PlanRefused, PrecisionRefused } from './planner.js';
import { choosePrecision } from './precision.js';

export const WAVEFRONT_WHY = 'a grid cell: the wavefront kernel runs the anti-diagonals r + c = k in order and the positions of one in parallel, for every grid cell';

/** Elements a WGSL fixed-size array holds (Tint: the count must be less than 65536). */
const MAX_ARRAY_ELEMENTS = 65535;

export function planGrid(subject: PlanSubject): ExecutionPlan | PlanRefused | PlanOverBudget {
  const { module, sizes, request } = subject;
  const { ops, bytes, hottest } = stepCost(module, sizes);
  if (ops > MAX_OPS_PER_STEP && hottest)
    return new PlanOverBudget(diagnostic('RNN0801', hottest.span, { ops: approx(ops), limit: approx(MAX_OPS_PER_STEP), hottest: approx(hottest.ops) }, { notes: ['nested reductions multiply: each level runs the one inside it once per index value; smaller dims or fewer levels bring the cost down'] }));
  // Each invocation computes one position's lets and outputs (and new states of up to 64 floats) in
  // function-scope arrays (backends/wgsl-grid); a larger state goes to its carry slot, in storage.
  for (const def of module.step) {
    const count = def.vars.reduce((n, v) => n * sizes[v.dim]!, 1);
    if (def.kind !== 'update' && count > MAX_ARRAY_ELEMENTS)
      return new PlanOverBudget(diagnostic('RNN0803', def.span, { name: def.target, count, limit: MAX_ARRAY_ELEMENTS }, { notes: ['smaller dims bring it down'] }));
  }
  const mode = request.mode === 'auto' ? 'seq' : request.mode;
  const precision = choosePrecision(module, request.precision ?? 'auto', subject.target.f16 ?? true);
  if ('unavailable' in precision) return new PrecisionRefused(mode, precision.unavailable);
  if (precision.storage === 'f16') return new PrecisionRefused(mode, 'the wavefront kernel of a grid cell keeps its buffers in f32 (f16 storage is not built for it)');
  if (mode !== 'seq') {
    const why = `${module.name} is a grid cell, and the ${mode} kernels run one time axis: a separable grid cell (updates that read only \`.left\` or only \`.up\`) runs along that axis with \`rnnc run FILE --grid H,W --mode ${mode}\`, one sequence per row or column; one kernel for the whole grid is the wavefront (seq)`;
    return new PlanRefused(mode, why);
  }
  const why = request.mode === 'auto' ? `${WAVEFRONT_WHY} (auto: the one kernel for a whole grid)` : WAVEFRONT_WHY;
  return { requested: request.mode, mode: 'seq', why, decision: { mode: 'seq' }, considered: [{ mode: 'seq', ok: true, why: WAVEFRONT_WHY }], cost: { ops, bytes }, precision };
}
