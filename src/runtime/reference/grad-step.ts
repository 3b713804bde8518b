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
// With `checkpoint: C`, time is cut into segments of C steps: the forward keeps only the state at
// the start of each segment (O(T/C · state)), and the backward, last segment first, recomputes a
// segment's saved states from its checkpoint, then runs the backward cell over it, carrying the
// adjoint states and the accumulators from segment to segment. Without it, one segment of T steps.
import { tensorsOf, type Module, type Tensor } from '../../compiler/ir/ir.js';
import { tensorSize } from '../../compiler/ir/dims.js';
import { differentiate, type BackwardStep } from '../../compiler/grad/reverse.js';
import { withSavedStates } from '../../compiler/grad/saved.js';
import { interpret, type RunData, type RunShape, type Tensor32or64 } from './interpreter.js';
import type { GradResult, Upstream } from './grad.js';

export interface BackwardOptions {
  /** Save the state every C steps and recompute the steps between (default: every step is saved). */
  checkpoint?: number;
  /** 'f32' rounds every node result to float32, forward and backward (what a GPU backward kernel would compute). */
  precision?: 'f64' | 'f32';
}

const lengthOf = (shape: RunShape, b: number) => Math.max(0, Math.min(shape.T, shape.lengths ? shape.lengths[b]! : shape.T));

/** Each sequence's valid steps in reverse order ([batch, T, n]); the steps past its length stay 0. */
export function reverseSteps(a: Tensor32or64, shape: RunShape, n: number): Float64Array {
  const out = new Float64Array(a.length);
  for (let b = 0; b < shape.batch; b++) {
    const length = lengthOf(shape, b);
    for (let t = 0; t < length; t++) out.set(a.subarray((b * shape.T + t) * n, (b * shape.T + t + 1) * n), (b * shape.T + length - 1 - t) * n);
  }
  return out;
}

/** Steps [t0, t0 + steps) of a [batch, T, n] tensor. */
function sliceSteps(a: Tensor32or64, batch: number, T: number, n: number, t0: number, steps: number): Float64Array {
  const out = new Float64Array(batch * steps * n);
  for (let b = 0; b < batch; b++) out.set(a.subarray((b * T + t0) * n, (b * T + t0 + steps) * n), b * steps * n);
  return out;
}

/** Writes a [batch, steps, n] tensor into steps [t0, t0 + steps) of a [batch, T, n] one. */
function placeSteps(into: Float64Array, part: Float64Array, batch: number, T: number, n: number, t0: number, steps: number): void {
  for (let b = 0; b < batch; b++) into.set(part.subarray(b * steps * n, (b + 1) * steps * n), (b * T + t0) * n);
}

export function interpretBackward(m: Module, shape: RunShape, data: RunData, upstream: Upstream = {}, backward: BackwardStep = differentiate(m), options: BackwardOptions = {}): GradResult {
  const { batch, T, sizes } = shape;
  const C = Math.max(1, Math.min(T, options.checkpoint ?? T));
  const precision = { precision: options.precision ?? 'f64' };
  const saving = withSavedStates(m);
  const byName = new Map(m.tensors.map((t) => [t.name, t]));
  const size = (name: string) => tensorSize(byName.get(name)!, sizes);
  const { roles } = backward;
  const inputs = tensorsOf(m, 'input');
  const states = tensorsOf(m, 'state');
  const outputs = tensorsOf(m, 'output');

  const segments = Array.from({ length: Math.max(1, Math.ceil(T / C)) }, (_, k) => ({ t0: k * C, steps: Math.max(0, Math.min(C, T - k * C)) }));
  const segmentShape = (t0: number, steps: number): RunShape => ({ batch, T: steps, sizes, lengths: Int32Array.from({ length: batch }, (_, b) => Math.max(0, Math.min(steps, lengthOf(shape, b) - t0))) });
  const segmentData = (t0: number, steps: number, initial: RunData['initial']): RunData => ({
    inputs: Object.fromEntries(inputs.map((x) => [x.name, sliceSteps(data.inputs[x.name]!, batch, T, size(x.name), t0, steps)])),
    params: data.params,
    ...(initial ? { initial } : {}),
  });

  // Forward: the outputs, and the state at the start of each segment (the checkpoints).
  const forwardOutputs = Object.fromEntries(outputs.map((o) => [o.name, new Float64Array(batch * T * size(o.name))]));
  const checkpoints: (RunData['initial'] | undefined)[] = [];
  let carried: RunData['initial'] = data.initial;
  let final: Record<string, Float64Array> = Object.fromEntries(states.map((s) => [s.name, new Float64Array(batch * size(s.name))]));
  for (const { t0, steps } of segments) {
    checkpoints.push(carried);
    const r = interpret(m, segmentShape(t0, steps), segmentData(t0, steps, carried), precision);
    for (const o of outputs) placeSteps(forwardOutputs[o.name]!, r.outputs[o.name]!, batch, T, size(o.name), t0, steps);
    carried = r.final;
    final = r.final;
  }

  // Backward, last segment first.
  const inputGrads = Object.fromEntries(inputs.map((x) => [x.name, new Float64Array(batch * T * size(x.name))]));
  const adjoints: Record<string, Float64Array> = {};
  for (const { state, adjoint } of roles.stateAdjoints) {
    const given = upstream.final?.[state];
    adjoints[adjoint] = given ? Float64Array.from(given) : new Float64Array(batch * size(state));
  }
  for (let k = segments.length - 1; k >= 0; k--) {
    const { t0, steps } = segments[k]!;
    const sh = segmentShape(t0, steps);
    const segment = segmentData(t0, steps, checkpoints[k]);
    const saved = interpret(saving.module, sh, segment, precision).outputs;
    const backInputs: Record<string, Float64Array> = {};
    for (const x of inputs) backInputs[x.name] = reverseSteps(segment.inputs[x.name]!, sh, size(x.name));
    for (const { state, input } of roles.savedStates) backInputs[input] = reverseSteps(saved[saving.saved.get(state)!]!, sh, size(state));
    for (const { output, input } of roles.upstreamOutputs) {
      const n = size(output);
      const given = upstream.outputs?.[output];
      backInputs[input] = reverseSteps(given ? sliceSteps(given, batch, T, n, t0, steps) : new Float64Array(batch * steps * n), sh, n);
    }
    const run = interpret(backward.module, sh, { inputs: backInputs, params: data.params, initial: adjoints }, precision);
    Object.assign(adjoints, run.final);
    for (const { input, adjoint } of roles.inputAdjoints) placeSteps(inputGrads[input]!, reverseSteps(run.outputs[adjoint]!, sh, size(input)), batch, T, size(input), t0, steps);
  }

  const params: Record<string, Float64Array> = {};
  for (const { param, adjoint } of roles.paramAdjoints) {
    const n = size(param);
    const sum = new Float64Array(n);
    const perBatch = adjoints[adjoint]!;
    for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) sum[i]! += perBatch[b * n + i]!;
    params[param] = sum;
  }
  const initial = Object.fromEntries(roles.stateAdjoints.map(({ state, adjoint }) => [state, adjoints[adjoint]!]));
  // A param that initialises a state gets the initial state's gradient where the initial state was not given.
  for (const s of states) addInitialToParam(s);
  return { inputs: inputGrads, params, initial, forward: { outputs: forwardOutputs, final } };

  function addInitialToParam(s: Tensor): void {
    if (s.init?.kind !== 'param' || data.initial?.[s.name]) return;
    const n = size(s.name);
    for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) params[s.init.name]![i]! += initial[s.name]![b * n + i]!;
  }
}
