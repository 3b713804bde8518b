// The backward step as text (`rnnc explain FILE --after grad`): what stands for what, then the cell.
import { printModule } from '../ir/print.js';
import type { Module } from '../ir/ir.js';
import type { BackwardStep } from './reverse.js';
import { splitAccumulators } from './split.js';
import { gateBackward } from './gate.js';

/** `forward`: the cell differentiated, for the forms that depend on it (the gate's identity, gate.ts). */
export function printBackward(step: BackwardStep, forward?: Module): string {
  const r = step.roles;
  const lines = [
    '; the backward step: run over each sequence reversed in time (valid steps only)',
    ...r.savedStates.map((x) => `;   input ${x.input}: the state ${x.state} before the step (saved by the forward run)`),
    ...r.upstreamOutputs.map((x) => `;   input ${x.input}: the upstream gradient of the output ${x.output}`),
    ...r.stateAdjoints.map((x) => `;   state ${x.adjoint}: the adjoint of ${x.state} (starts as the final state's gradient, ends as the initial state's)`),
    ...r.transposedParams.map((x) => `;   param ${x.param}: the param ${x.of} transposed (the adjoint's sums read its columns, as rows of this)`),
    ...r.paramAdjoints.map((x) => `;   state ${x.adjoint}: accumulates the gradient of the param ${x.param} (summed over the batch after)`),
    ...r.inputAdjoints.map((x) => `;   output ${x.adjoint}: the gradient of the input ${x.input}`),
    `;   recomputed from the saved state: ${step.primal.join(', ') || 'nothing'}`,
    '',
  ];
  return lines.join('\n') + printModule(step.module) + printSplit(step) + (forward ? printGated(step, forward) : '');
}

/** The gate's identity (gate.ts), where the cell takes it: the three cells it stands for. */
function printGated(step: BackwardStep, forward: Module): string {
  const g = gateBackward(step, forward);
  if (!g) return '';
  const gate = g.gate.tensors.find((t) => t.name === g.gateState)!;
  return [
    '',
    `; the gate's gradient by an identity (docs/grad.md, "Session 32"): ${g.gateState}[${gate.dims.join(', ')}] = the gate times its gradient, a sum back over time of`,
    `; ${g.F} = ⟨what the outputs add to ${g.adjoint}, ${g.state}⟩ (a forward walk) less ${g.G} = ⟨${g.adjoint}, the update's other term⟩ (the adjoint recurrence), from ⟨${g.adjoint}, ${g.state}⟩ at the end;`,
    `; no ${g.state} is kept per step. The inputs' gradients: ${[...g.from].map(([grad, cell]) => `${grad} (${cell})`).join(', ')}. The recomputing rest of rnnc run --grad runs the three as one kernel:`,
    '',
    printModule(g.walk),
    printModule(g.core),
    printModule(g.gate),
  ].join('\n');
}

/** How it runs: the accumulators split out of the recurrence (split.ts), each a cell of its own. */
function printSplit(step: BackwardStep): string {
  const split = splitAccumulators(step);
  if (!split) return '';
  const carried = [...split.carried].map(([value, output]) => `${value} as ${output}`).join(', ');
  return [
    '',
    `; as it runs: the params' accumulators leave the recurrence, which then writes per step ${carried || 'nothing more'};`,
    `; each param's gradient is summed over the (reversed) steps by a cell of its own:`,
    '',
    ...split.accumulations.map((a) => printModule(a.module)),
    ...(split.inputs
      ? ['', `; the inputs' gradients read the state only through those values: rnnc run computes them beside the params' sums, by a map over the steps (where it fits the time-sum kernel), and the recurrence without them:`, '', printModule(split.inputs.map)]
      : []),
  ].join('\n');
}
