// Backpropagation through time with the compiler's backward step (src/compiler/grad/), over any way of
// running a cell: the reference interpreter (reference/grad-step.ts) or kernels on a GPU
// (src/driver/grad.ts). Both run the same schedule, so what the reference checks is what a GPU runs.
//
// 1. The forward cell runs with one more output per state, the state before each step (the saving
//    cell, grad/saved.ts): all the backward step needs, since it recomputes everything else.
// 2. The backward cell runs over each sequence reversed in time, its valid steps only (so variable
//    lengths need nothing else: steps past a length run in neither direction). Its state starts as
//    the final state's upstream gradient and ends as the initial state's gradient; its outputs,
//    reversed back, are the inputs' gradients; its param accumulators, summed over the batch, the
//    params' gradients.
// With `checkpoint: C`, time is cut into segments of C steps: the forward keeps only the state at the
// start of each segment (O(T/C · state) memory), and the backward, last segment first, recomputes a
// segment's saved states from its checkpoint, then runs the backward cell over it, carrying the
// adjoint states and the accumulators from segment to segment. Without it, one segment of T steps,
// and the saving cell's one forward run serves both passes. With a split, the backward cell keeps the
// adjoint states only, and each param's gradient is summed by its own cell from the values the
// backward cell writes per step (grad/split.ts).
import { tensorsOf, type Module, type Tensor } from '../compiler/ir/ir.js';
import { tensorSize } from '../compiler/ir/dims.js';
import type { BackwardStep } from '../compiler/grad/reverse.js';
import type { SavingModule } from '../compiler/grad/saved.js';
import type { StagedBackward } from '../compiler/grad/stage.js';
import { gatePoint, type GatedBackward } from '../compiler/grad/gate.js';
import { accumulationCell, type Accumulation, type SplitBackward } from '../compiler/grad/split.js';
import type { RunData as CellData, RunShape as CellShape, Tensor32or64 as FloatArray } from './reference/interpreter.js';

export type { CellData, CellShape, FloatArray };

export interface CellRun<A extends FloatArray> {
  outputs: Record<string, A>;
  final: Record<string, A>;
}

/**
 * The cells of a backward run: the forward cell, the forward cell saving its states, the backward
 * cell, and with a split (grad/split.ts) one `accumulate:<param>` cell per param.
 */
export type GradCell = 'forward' | 'saving' | 'backward' | 'core' | 'walk' | 'gate' | `accumulate:${string}`;

/** What the compiler derived from a cell for its backward run. */
export interface GradCells {
  backward: BackwardStep;
  saving: SavingModule;
  /** The params' accumulators as cells of their own ('backward' is then `split.adjoint`). */
  split?: SplitBackward;
  /** The step in two stages (grad/stage.ts), run where the runner has `runRest`: the 'core' cell, then the rest. */
  staged?: StagedBackward;
  /** The gated backward (grad/gate.ts): the 'walk', 'core' and 'gate' cells; no states saved. Taken before `staged`. */
  gated?: GatedBackward;
}

/** How the cells run: its `zeros` say in which precision. */
export interface CellRunner<A extends FloatArray> {
  zeros(n: number): A;
  run(cell: GradCell, shape: CellShape, data: CellData): Promise<CellRun<A>>;
  /**
   * The sums over time of several accumulation cells at once (a reduction, not a recurrence: only the
   * final sum is wanted), where the runner has a way to: per accumulator it took, each sequence's sum,
   * [batch, ...dims], from 0. Those it leaves out run as cells. Where the runner's 'backward' cell is
   * `split.inputs.loop` (without the inputs' gradients), it also gives each input's gradient per step
   * ([batch, T, ...], the map `split.inputs.map`, under the backward step's names for them).
   */
  sumOverTime?(accumulations: Accumulation[], shape: CellShape, inputs: Record<string, FloatArray>, params: CellData['params']): Promise<Record<string, FloatArray>>;
  /**
   * The staged backward's second stage (`staged.rest`) over the reversed steps: its outputs (the
   * inputs' gradients, [batch, T, ...]) and each accumulator's per-sequence sum ([batch, ...dims], from 0).
   */
  runRest?(shape: CellShape, inputs: Record<string, FloatArray>, params: CellData['params']): Promise<{ outputs: Record<string, FloatArray>; sums: Record<string, FloatArray> }>;
  /**
   * Whether the 'backward' or the staged 'core' cell walks each sequence's valid steps backward
   * itself (a reversed cell, backends/lower/time.ts), reading its inputs and writing its outputs in
   * forward order: then nothing is reversed on the host, and what reads its outputs (the rest, the
   * params' sums: sums over time, blind to order) reads them as they are.
   */
  walksBack?(cell: 'backward' | 'core' | 'gate'): boolean;
}

/** Upstream gradients: of the outputs ([batch, T, ...dims]) and of the final states ([batch, ...dims]); missing ones are 0. */
export interface Upstream {
  outputs?: Record<string, FloatArray>;
  final?: Record<string, FloatArray>;
}

export interface Gradients<A extends FloatArray> {
  /** Per input, [batch, T, ...dims]; 0 past a sequence's length. */
  inputs: Record<string, A>;
  /**
   * Per param (every one, 0 where nothing reaches it), [...dims], summed over the batch and time (in float64). A param that initialises a
   * state (`state h = h0`) also gets the initial state's gradient of every sequence whose initial
   * state was not given.
   */
  params: Record<string, A>;
  /** Per state, [batch, ...dims]: the gradient of the initial state. */
  initial: Record<string, A>;
  /** The forward run's results. */
  forward: CellRun<A>;
}

export interface BpttOptions {
  /** Save the state every C steps and recompute the steps between (default: every step is saved). */
  checkpoint?: number;
}

const lengthOf = (shape: CellShape, b: number) => Math.max(0, Math.min(shape.T, shape.lengths ? shape.lengths[b]! : shape.T));

/** Each sequence's valid steps of a [batch, T, n] tensor in reverse order, into `out`; the steps past its length stay 0. */
export function reverseSteps<A extends FloatArray>(a: FloatArray, shape: Pick<CellShape, 'batch' | 'T' | 'lengths'>, n: number, out: A): A {
  for (let b = 0; b < shape.batch; b++) {
    const length = Math.max(0, Math.min(shape.T, shape.lengths ? shape.lengths[b]! : shape.T));
    for (let t = 0; t < length; t++) out.set(a.subarray((b * shape.T + t) * n, (b * shape.T + t + 1) * n), (b * shape.T + length - 1 - t) * n);
  }
  return out;
}

/** Steps [t0, t0 + steps) of a [batch, T, n] tensor, into `out` ([batch, steps, n]). */
function sliceSteps<A extends FloatArray>(a: FloatArray, batch: number, T: number, n: number, t0: number, steps: number, out: A): A {
  for (let b = 0; b < batch; b++) out.set(a.subarray((b * T + t0) * n, (b * T + t0 + steps) * n), b * steps * n);
  return out;
}

/** Writes a [batch, steps, n] tensor into steps [t0, t0 + steps) of a [batch, T, n] one. */
function placeSteps(into: FloatArray, part: FloatArray, batch: number, T: number, n: number, t0: number, steps: number): void {
  for (let b = 0; b < batch; b++) into.set(part.subarray(b * steps * n, (b + 1) * steps * n), (b * T + t0) * n);
}

/**
 * The params of the backward cells: the forward's, and the transposes the backward step reads
 * (`roles.transposedParams`: `of[a, b]` as `param[b, a]`, row-major), in the params' precision.
 */
export function backwardParams<P extends FloatArray>(m: Module, roles: Pick<BackwardStep['roles'], 'transposedParams'>, params: Record<string, P>, sizes: CellShape['sizes']): Record<string, P> {
  if (roles.transposedParams.length === 0) return params;
  const out: Record<string, P> = { ...params };
  for (const { param, of } of roles.transposedParams) {
    const t = m.tensors.find((x) => x.name === of)!;
    const [A, B] = t.dims.map((d) => sizes[d]!) as [number, number];
    const from = params[of]!;
    const to = new (from.constructor as new (n: number) => P)(A * B);
    for (let a = 0; a < A; a++) for (let b = 0; b < B; b++) to[b * A + a] = from[a * B + b]!;
    out[param] = to;
  }
  return out;
}

/** The gradients of Σ upstream.outputs · outputs + Σ upstream.final · final with respect to the inputs, params and initial states. */
export async function backpropagate<A extends FloatArray>(
  m: Module,
  { backward, saving, split, staged, gated }: GradCells,
  runner: CellRunner<A>,
  shape: CellShape,
  data: CellData,
  upstream: Upstream = {},
  options: BpttOptions = {},
): Promise<Gradients<A>> {
  const { batch, T, sizes } = shape;
  const C = Math.max(1, Math.min(T, options.checkpoint ?? T));
  const byName = new Map(m.tensors.map((t) => [t.name, t]));
  const size = (name: string) => tensorSize(byName.get(name)!, sizes);
  const { roles } = backward;
  const inputs = tensorsOf(m, 'input');
  const states = tensorsOf(m, 'state');
  const outputs = tensorsOf(m, 'output');
  const zeros = (n: number) => runner.zeros(n);
  // The backward cells read some params transposed (grad/reverse.ts, transposeParamReads).
  const backParams = backwardParams(m, roles, data.params, sizes);

  const segments = Array.from({ length: Math.max(1, Math.ceil(T / C)) }, (_, k) => ({ t0: k * C, steps: Math.max(0, Math.min(C, T - k * C)) }));
  const whole = segments.length === 1;
  const segmentShape = (t0: number, steps: number): CellShape => ({ batch, T: steps, sizes, lengths: Int32Array.from({ length: batch }, (_, b) => Math.max(0, Math.min(steps, lengthOf(shape, b) - t0))) });
  const segmentData = (t0: number, steps: number, initial: CellData['initial']): CellData => ({
    inputs: whole ? data.inputs : Object.fromEntries(inputs.map((x) => [x.name, sliceSteps(data.inputs[x.name]!, batch, T, size(x.name), t0, steps, zeros(batch * steps * size(x.name)))])),
    params: data.params,
    ...(initial ? { initial } : {}),
  });

  // Forward: the outputs, and the state at the start of each segment (the checkpoints). One segment
  // runs the saving cell, whose saved states the backward then uses as they are.
  const forwardOutputs = whole ? {} : Object.fromEntries(outputs.map((o) => [o.name, zeros(batch * T * size(o.name))]));
  const checkpoints: CellData['initial'][] = [];
  let carried = data.initial;
  let final: Record<string, A> = {};
  let savedWhole: Record<string, A> | undefined;
  // A reversed cell (`Module.reversed`) walks each sequence from its last valid step: its segments
  // run last first forward, first first backward, and its backward step walks time forward.
  const forwardReversed = m.reversed === true;
  const forwardOrder = segments.map((_, k) => k);
  if (forwardReversed) forwardOrder.reverse();
  // The gated backward saves nothing: its walk runs the forward again from each segment's checkpoint.
  const saves = whole && !gated;
  // Each segment's final states (the gated backward's boundary terms).
  const ends: Record<string, A>[] = [];
  for (const k of forwardOrder) {
    const { t0, steps } = segments[k]!;
    checkpoints[k] = carried;
    const r = await runner.run(saves ? 'saving' : 'forward', segmentShape(t0, steps), segmentData(t0, steps, carried));
    if (saves) savedWhole = r.outputs;
    if (whole) for (const o of outputs) forwardOutputs[o.name] = r.outputs[o.name]!;
    else for (const o of outputs) placeSteps(forwardOutputs[o.name]!, r.outputs[o.name]!, batch, T, size(o.name), t0, steps);
    carried = r.final;
    final = r.final;
    ends[k] = r.final;
  }

  // Backward, last segment first.
  // One segment: each input's gradient is the array the backward gave (no placed copy, no fresh memory).
  const inputGrads: Record<string, FloatArray> = whole ? {} : Object.fromEntries(inputs.map((x) => [x.name, zeros(batch * T * size(x.name))]));
  const putInputGrad = (input: string, grad: FloatArray, t0: number, steps: number) => {
    if (whole) inputGrads[input] = grad;
    else placeSteps(inputGrads[input]!, grad, batch, T, size(input), t0, steps);
  };
  const adjoints: Record<string, FloatArray> = {};
  const accumulated = new Set(split?.accumulations.map((a) => a.adjoint));
  // With the staged backward, the params' accumulators are sums the rest returns, never the core's states.
  const paramAdjoints = new Set(staged && runner.runRest ? roles.paramAdjoints.map((r) => r.adjoint) : []);
  for (const { state, adjoint } of roles.stateAdjoints) {
    const given = upstream.final?.[state];
    const start = zeros(batch * size(state));
    if (given) start.set(given);
    adjoints[adjoint] = start;
  }
  // Adds a segment's per-sequence sums to what the later segments left.
  const addSums = (summed: Record<string, FloatArray>) => {
    for (const [adjoint, sum] of Object.entries(summed)) {
      const before = adjoints[adjoint];
      const total = new Float64Array(sum.length);
      for (let i = 0; i < sum.length; i++) total[i] = sum[i]! + (before ? before[i]! : 0);
      adjoints[adjoint] = total;
    }
  };
  for (const k of [...forwardOrder].reverse()) {
    const { t0, steps } = segments[k]!;
    const sh = segmentShape(t0, steps);
    const segment = segmentData(t0, steps, checkpoints[k]);
    const upstreamOf = (output: string): FloatArray => {
      const n = size(output);
      const given = upstream.outputs?.[output];
      return given ? (whole ? given : sliceSteps(given, batch, T, n, t0, steps, zeros(batch * steps * n))) : zeros(batch * steps * n);
    };
    if (gated) {
      await gatedSegment(gated, sh, segment, ends[k]!, upstreamOf, (input, grad) => putInputGrad(input, grad, t0, steps));
      continue;
    }
    const saved = savedWhole ?? (await runner.run('saving', sh, segment)).outputs;
    // The backward runs over the steps in the forward's opposite direction: reversed on the host here,
    // or by the cell itself (a reversed cell after a forward one, a plain cell after a reversed one).
    const walksBack = (runner.walksBack?.(staged && runner.runRest ? 'core' : 'backward') === true) !== forwardReversed;
    const reversed = (a: FloatArray, n: number) => (walksBack ? a : reverseSteps(a, sh, n, zeros(batch * steps * n)));
    const backInputs: Record<string, FloatArray> = {};
    for (const x of inputs) backInputs[x.name] = reversed(segment.inputs[x.name]!, size(x.name));
    for (const { state, input } of roles.savedStates) backInputs[input] = reversed(saved[saving.saved.get(state)!]!, size(state));
    for (const { output, input } of roles.upstreamOutputs) backInputs[input] = reversed(upstreamOf(output), size(output));
    const recurrent = Object.fromEntries(Object.entries(adjoints).filter(([name]) => !accumulated.has(name) && !paramAdjoints.has(name)));
    if (staged && runner.runRest) {
      // The adjoint recurrence, then everything else from its per-step values, time-parallel.
      const core = await runner.run('core', sh, { inputs: backInputs, params: backParams, initial: recurrent });
      Object.assign(adjoints, core.final);
      const rest = await runner.runRest(sh, { ...backInputs, ...core.outputs }, backParams);
      addSums(rest.sums);
      for (const { input, adjoint } of roles.inputAdjoints) putInputGrad(input, reversed(rest.outputs[adjoint]!, size(input)), t0, steps);
      continue;
    }
    const run = await runner.run('backward', sh, { inputs: backInputs, params: backParams, initial: recurrent });
    Object.assign(adjoints, run.final);
    // Each param's sum over this segment's steps, from where the later segments left it; and the
    // inputs' gradients, where the runner's backward cell left them to the map (split.inputs).
    const inputsOf = (cell: Module) => Object.fromEntries(cell.tensors.filter((t) => t.role === 'input').map((t) => [t.name, backInputs[t.name] ?? run.outputs[t.name]!]));
    const mapped = split?.inputs && roles.inputAdjoints.some((r) => run.outputs[r.adjoint] === undefined) ? [split.inputs.map] : [];
    const summed = runner.sumOverTime && split ? await runner.sumOverTime(split.accumulations, sh, Object.assign({}, ...[...split.accumulations.map((a) => a.module), ...mapped].map(inputsOf)), backParams) : {};
    const inputGradNames = new Set(roles.inputAdjoints.map((r) => r.adjoint));
    addSums(Object.fromEntries(Object.entries(summed).filter(([name]) => !inputGradNames.has(name))));
    for (const a of split?.accumulations ?? []) {
      if (summed[a.adjoint]) continue;
      const inputs = inputsOf(a.module);
      const sum = await runner.run(accumulationCell(a.param), sh, { inputs, params: backParams, ...(adjoints[a.adjoint] ? { initial: { [a.adjoint]: adjoints[a.adjoint]! } } : {}) });
      adjoints[a.adjoint] = sum.final[a.adjoint]!;
    }
    for (const { input, adjoint } of roles.inputAdjoints) {
      const grad = run.outputs[adjoint] ?? summed[adjoint];
      if (!grad) throw new Error(`backpropagate: the backward cell left ${adjoint} to the map (split.inputs), and sumOverTime did not give it`);
      putInputGrad(input, reversed(grad, size(input)), t0, steps);
    }
  }

  // Sums over the batch in float64, whatever the runner's precision.
  const params: Record<string, A> = {};
  const addBatch = (into: Float64Array, perBatch: FloatArray) => {
    const n = into.length;
    for (let b = 0; b < batch; b++) for (let i = 0; i < n; i++) into[i]! += perBatch[b * n + i]!;
  };
  const sums: Record<string, Float64Array> = {};
  // Every param has a gradient: 0 where nothing reaches it.
  for (const p of tensorsOf(m, 'param')) sums[p.name] = new Float64Array(size(p.name));
  for (const { param, adjoint } of roles.paramAdjoints) addBatch(sums[param]!, adjoints[adjoint]!);
  const initial = Object.fromEntries(roles.stateAdjoints.map(({ state, adjoint }) => [state, adjoints[adjoint]! as A]));
  // A param that initialises a state gets the initial state's gradient where the initial state was not given.
  for (const s of states) addInitialToParam(s);
  for (const [name, sum] of Object.entries(sums)) (params[name] = zeros(sum.length)).set(sum);
  // An input no adjoint reaches has a zero gradient.
  for (const x of inputs) inputGrads[x.name] ??= zeros(batch * T * size(x.name));
  return { inputs: inputGrads as Record<string, A>, params, initial, forward: { outputs: forwardOutputs as Record<string, A>, final } };

  /**
   * One segment of the gated backward (grad/gate.ts): the walk (forward order), the core, then the gate
   * cell from the boundary term ⟨adjoint, state⟩ at the segment's end, each input's gradient from the
   * cell that writes it. A cell that does not walk back itself reads its data reversed on the host.
   */
  async function gatedSegment(g: GatedBackward, sh: CellShape, segment: CellData, end: Record<string, A>, upstreamOf: (output: string) => FloatArray, put: (input: string, grad: FloatArray) => void): Promise<void> {
    const steps = sh.T;
    const widthOf = (t: Tensor) => tensorSize(t, sizes);
    // Every array by name in forward order: the inputs, the upstream gradients, then what the cells write.
    const pool: Record<string, FloatArray> = { ...segment.inputs };
    for (const { output, input } of roles.upstreamOutputs) pool[input] = upstreamOf(output);
    const flip = (a: FloatArray, n: number) => reverseSteps(a, sh, n, zeros(batch * steps * n));
    const dataOf = (cell: Module, back: boolean) =>
      Object.fromEntries(
        tensorsOf(cell, 'input').map((t) => {
          const a = pool[t.name];
          if (!a) throw new Error(`backpropagate: no data for ${t.name} of ${cell.name}`);
          return [t.name, back ? a : flip(a, widthOf(t))];
        }),
      );
    const written = (cell: Module, r: CellRun<A>, back: boolean) => {
      for (const t of tensorsOf(cell, 'output')) pool[t.name] = back ? r.outputs[t.name]! : flip(r.outputs[t.name]!, widthOf(t));
      // The params' sums this cell took (its accumulators, from 0).
      addSums(Object.fromEntries([...g.sums.keys()].flatMap((name) => (r.final[name] ? [[name, r.final[name]!]] : []))));
    };
    const walk = await runner.run('walk', sh, { inputs: dataOf(g.walk, true), params: data.params, ...(segment.initial ? { initial: segment.initial } : {}) });
    written(g.walk, walk, true);
    // The boundary: per sequence, Σ over the state's other axes of the adjoint times the state at the segment's end.
    const stateDims = byName.get(g.state)!.dims.map((d) => sizes[d]!);
    const n = stateDims.reduce((a, b) => a * b, 1);
    const gateSize = g.gateAxes.reduce((s, ax) => s * stateDims[ax]!, 1);
    const boundary = zeros(batch * gateSize);
    const adjoint = adjoints[g.adjoint]!;
    const h = end[g.state]!;
    for (let p = 0; p < n; p++) {
      // The point's coordinates, row-major, and its place in D.
      const point = stateDims.map((_, k) => Math.floor(p / stateDims.slice(k + 1).reduce((s, d) => s * d, 1)) % stateDims[k]!);
      const q = gatePoint(g.gateAxes, stateDims, point);
      for (let b = 0; b < batch; b++) boundary[b * gateSize + q]! += adjoint[b * n + p]! * h[b * n + p]!;
    }
    const coreBack = runner.walksBack?.('core') === true;
    const core = await runner.run('core', sh, { inputs: dataOf(g.core, coreBack), params: backParams, initial: { [g.adjoint]: adjoint } });
    written(g.core, core, coreBack);
    adjoints[g.adjoint] = core.final[g.adjoint]!;
    const gateBack = runner.walksBack?.('gate') === true;
    const gate = await runner.run('gate', sh, { inputs: dataOf(g.gate, gateBack), params: backParams, initial: { [g.gateState]: boundary } });
    written(g.gate, gate, gateBack);
    for (const { input, adjoint: grad } of roles.inputAdjoints) if (pool[grad]) put(input, pool[grad]!);
  }

  function addInitialToParam(s: Tensor): void {
    if (s.init?.kind !== 'param' || data.initial?.[s.name]) return;
    addBatch(sums[s.init.name]!, initial[s.name]!);
  }
}
