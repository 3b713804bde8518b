// Evaluating the compiler's backward step (src/compiler/grad/) in float64: backpropagation through
// time with the reference interpreter, as a backend would run it.
//
// 1. The forward cell runs with one more output per state, the state before each step (saved.ts):
//    the states saved per step, which is all the backward step needs (it recomputes the rest).
// 2. The backward cell runs over each sequence reversed in time (its valid steps only, so variable
//    lengths need nothing else: steps past a length are not run in either direction): its state
//    starts as the final state's upstream gradient and ends as the initial state's gradient; its
//    outputs, reversed back, are the inputs' gradients; its param accumulators, summed over the
//    batch, the params' gradients.
import { tensorsOf, type Module } from '../../compiler/ir/ir.js';
import { tensorSize } from '../../compiler/ir/dims.js';
import { differentiate, type BackwardStep } from '../../compiler/grad/reverse.js';
import { withSavedStates } from '../../compiler/grad/saved.js';
import { interpret, type RunData, type RunShape, type Tensor32or64 } from './interpreter.js';
import type { GradResult, Upstream } from './grad.js';

/** Each sequence's valid steps in reverse order ([batch, T, n]); the steps past its length stay 0. */
export function reverseSteps(a: Tensor32or64, shape: RunShape, n: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let b = 0; b < shape.batch; b++) {
    const length = Math.max(0, Math.min(shape.T, shape.lengths ? shape.lengths[b]! : shape.T));
    for (let t = 0; t < length; t++) out.set(a.subarray((b * shape.T + t) * n, (b * shape.T + t + 1) * n), (b * shape.T + length - 1 - t) * n);
  }
  return out;
}

export function interpretBackward(m: Module, shape: RunShape, data: RunData, upstream: Upstream = {}, backward: BackwardStep = differentiate(m)): GradResult {
  const { batch, T, sizes } = shape;
  const saving = withSavedStates(m);
  const forward = interpret(saving.module, shape, data);
  const perStep = (dims: string[]) => dims.reduce((n, d) => n * sizes[d]!, 1);
  const byName = new Map(m.tensors.map((t) => [t.name, t]));
  const { roles } = backward;

  const inputs: Record<string, Float64Array> = {};
  for (const x of tensorsOf(m, 'input')) inputs[x.name] = reverseSteps(data.inputs[x.name]!, shape, tensorSize(x, sizes));
  for (const { state, input } of roles.savedStates) inputs[input] = reverseSteps(forward.outputs[saving.saved.get(state)!]!, shape, tensorSize(byName.get(state)!, sizes));
  for (const { output, input } of roles.upstreamOutputs) {
    const n = tensorSize(byName.get(output)!, sizes);
    inputs[input] = reverseSteps(upstream.outputs?.[output] ?? new Float64Array(batch * T * n), shape, n);
  }
  const initial: Record<string, Float64Array> = {};
  for (const { state, adjoint } of roles.stateAdjoints) {
    const given = upstream.final?.[state];
    initial[adjoint] = given ? Float64Array.from(given) : new Float64Array(batch * tensorSize(byName.get(state)!, sizes));
  }
  const run = interpret(backward.module, shape, { inputs, params: data.params, initial });

  const params: Record<string, Float64Array> = {};
  for (const { param, adjoint } of roles.paramAdjoints) {
    const n = tensorSize(byName.get(param)!, sizes);
    const sum = new Float64Array(n);
    const perBatch = run.final[adjoint]!;
    for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) sum[i]! += perBatch[b * n + i]!;
    params[param] = sum;
  }
  const initialGrads = Object.fromEntries(roles.stateAdjoints.map(({ state, adjoint }) => [state, run.final[adjoint]!]));
  // A param that initialises a state gets the initial state's gradient where the initial state was not given.
  for (const s of tensorsOf(m, 'state')) {
    if (s.init?.kind !== 'param' || data.initial?.[s.name]) continue;
    const n = tensorSize(s, sizes);
    for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) params[s.init.name]![i]! += initialGrads[s.name]![b * n + i]!;
  }
  const outputs = Object.fromEntries(tensorsOf(m, 'output').map((o) => [o.name, forward.outputs[o.name]!]));
  return {
    inputs: Object.fromEntries(roles.inputAdjoints.map(({ input, adjoint }) => [input, reverseSteps(run.outputs[adjoint]!, shape, perStep(byName.get(input)!.dims))])),
    params,
    initial: initialGrads,
    forward: { outputs, final: forward.final },
  };
}
