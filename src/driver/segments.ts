// Runs of any size: a run whose buffers exceed the adapter's limits is cut into segments — pieces of
// the time axis, run in order with each piece's final state as the next one's initial state, and
// groups of sequences, run independently — so T and batch are bounded by host memory, not by a
// binding. The same cut serves streaming (`rnnc run --segment`): pieces give the one-piece result,
// because every backend starts from a given initial state and the scan's final state is its prefix.
import { totalmem } from 'node:os';
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import type { PreparedRun, RunArrays, RunResult, RunSize } from '../../backends/backend.js';
import type { AdapterLimits } from '../../backends/job.js';
import type { Compilation, SampleRequest } from '../compiler/plan/plan.js';
import { emit } from './compile.js';
import type { Device } from '../runtime/device.js';
import { limitViolation, runPrepared } from './run.js';
import { RnncError } from './errors.js';
import { isBidirectional } from '../../backends/lower/time.js';

/** Steps per piece and sequences per group; `count` pieces in all. */
export interface Segments {
  T: number;
  batch: number;
  count: number;
}

/** The largest n in [1, hi] with fits(n), for a `fits` that holds up to some n and fails after; undefined when fits(1) fails. */
function largestFitting(hi: number, fits: (n: number) => boolean): number | undefined {
  if (fits(hi)) return hi;
  if (!fits(1)) return undefined;
  let [lo, up] = [1, hi];
  while (up - lo > 1) {
    const mid = Math.floor((lo + up) / 2);
    if (fits(mid)) lo = mid;
    else up = mid;
  }
  return lo;
}

/**
 * Segments for a run: the whole run when it fits the limits, else the longest pieces of the time
 * axis that do (for all sequences at once when a piece of one step does, else for as many sequences
 * as fit). `maxT` caps the steps per piece (streaming). Throws the limit's own message (naming the
 * dims to lower) when even one step of one sequence does not fit.
 */
export function planSegments(prepare: (size: RunSize) => PreparedRun, limits: AdapterLimits, sizes: DimSizes, size: RunSize, maxT = size.T, wholeTime = false, sample?: SampleRequest): Segments {
  const fits = (s: RunSize) => limitViolation(prepare(s), limits, sizes, s) === undefined;
  // `wholeTime`: groups of sequences only, each over the whole time axis (a bidirectional cell).
  if (wholeTime) {
    const batch = largestFitting(size.batch, (b) => fits({ batch: b, T: size.T }));
    if (batch === undefined) {
      const one = { batch: 1, T: size.T };
      throw new RnncError(limitViolation(prepare(one), limits, sizes, one)!);
    }
    return { T: size.T, batch, count: Math.ceil(size.batch / batch) };
  }
  // Sampled outputs (PlanRequest.sample) place a segment's rows at its first step / every: whole runs of `every` steps.
  const every = sample?.every ?? 1;
  const cap = Math.min(Math.max(1, maxT), size.T);
  const longest = (b: number): number | undefined => {
    const runs = largestFitting(Math.ceil(cap / every), (k) => fits({ batch: b, T: Math.min(k * every, size.T) }));
    return runs === undefined ? undefined : Math.min(runs * every, size.T);
  };
  let batch = size.batch;
  let T = longest(batch);
  if (T === undefined) {
    const fitting = largestFitting(size.batch, (b) => fits({ batch: b, T: Math.min(every, size.T) }));
    if (fitting === undefined) {
      const one = { batch: 1, T: Math.min(every, size.T) };
      throw new RnncError(limitViolation(prepare(one), limits, sizes, one)!);
    }
    batch = fitting;
    T = longest(batch)!;
  }
  return { T, batch, count: Math.ceil(size.T / T) * Math.ceil(size.batch / batch) };
}

/** The longest typed array V8 makes (elements). */
const MAX_ARRAY = 2 ** 32;
/** Share of the machine's memory a run's arrays may take: the rest is the runtime's, the driver's (lavapipe's buffers are host memory) and the system's. */
const HOST_SHARE = 0.6;

const gib = (n: number) => `${(n / 2 ** 30).toFixed(1)} GiB`;

export interface HostMemoryOptions {
  /** Also the float64 reference's arrays (`--verify`). */
  verify?: boolean;
  /**
   * Also the backward pass's (`--grad`): each input reversed, its gradient and the backward cell's
   * reversed one; each output's upstream gradient, reversed too; the states saved per step,
   * reversed, and about as much again carried to the params' sums.
   */
  grad?: boolean;
  /** The machine's memory (tests). */
  memory?: number;
}

/**
 * Throws a RnncError unless the run's arrays fit in host memory: every input and output [batch, T,
 * ...] in float32, one array each, and the reference's and the backward pass's arrays when asked.
 * Runs before any data exists, so a huge --T fails at once instead of exhausting the machine.
 */
export function checkHostMemory(m: Module, sizes: DimSizes, size: RunSize, { verify = false, grad = false, memory = totalmem() }: HostMemoryOptions = {}): void {
  const steps = size.batch * size.T;
  // Float32 arrays per step and tensor; the reference's float64 ones count twice.
  const reference = verify ? 2 : 0;
  const tensors = [
    ...widths(m, 'input', sizes).map((t) => ({ ...t, factor: grad ? 4 + reference * 3 : 1 })),
    ...widths(m, 'output', sizes).map((t) => ({ ...t, factor: (grad ? 3 : 1) * (1 + reference) })),
    ...(grad ? widths(m, 'state', sizes).map((t) => ({ ...t, factor: 3 * (1 + reference) })) : []),
  ];
  const largest = [...tensors].sort((a, b) => b.width - a.width)[0];
  if (largest && steps * largest.width > MAX_ARRAY)
    throw new RnncError(`rnnc: \`${largest.name}\`${grad && tensorsOf(m, 'state').some((t) => t.name === largest.name) ? ' saved at every step' : ''} would have ${steps * largest.width} elements (batch ${size.batch} × T ${size.T} × ${largest.width}), more than the ${MAX_ARRAY} a JavaScript array holds. Lower --T or --batch.`);
  const bytes = 4 * steps * tensors.reduce((n, t) => n + t.width * t.factor, 0);
  const dims = largest ? m.tensors.find((t) => t.name === largest.name)!.dims.filter((d) => sizes[d]! > 1) : [];
  const flags = [...['--T', '--batch'], ...dims.map((d) => `--dim ${d}`)];
  const extra = [...(verify ? ["the reference's"] : []), ...(grad ? ["the backward pass's"] : [])];
  if (bytes > HOST_SHARE * memory)
    throw new RnncError(
      `rnnc: a run of batch ${size.batch} × T ${size.T} holds ${gib(bytes)} of inputs and outputs${extra.length ? ` (and ${extra.join(' and ')})` : ''} in host memory, more than ${Math.round(HOST_SHARE * 100)}% of this machine's ${gib(memory)}. Lower ${flags.slice(0, -1).join(', ')} or ${flags.at(-1)}.`,
    );
}

/** A compilation's kernels prepared at any run size, and the segments a run of `size` is cut into to fit `limits`. */
export function fitRun(c: Compilation, limits: AdapterLimits, size: RunSize, maxT?: number): { prepare: (size: RunSize) => PreparedRun; segments: Segments } {
  const compiled = emit(c);
  const prepare = (s: RunSize) => compiled.prepare(s);
  // A bidirectional cell's parts take the time axis in opposite orders: it cannot be cut into pieces of time.
  if (isBidirectional(c.module)) {
    if (maxT !== undefined && maxT < size.T)
      throw new RnncError(`rnnc: ${c.module.name} has a \`reversed { ... }\` block: its two parts run the time axis in opposite orders, so it cannot run in pieces of ${maxT} steps (--segment); run it whole`, 'usage');
    return { prepare, segments: planSegments(prepare, limits, c.sizes, size, size.T, true) };
  }
  return { prepare, segments: planSegments(prepare, limits, c.sizes, size, maxT) };
}

/** Elements per step (inputs, outputs) or per sequence (states) of each tensor of a role. */
const widths = (m: Module, role: 'input' | 'output' | 'state', sizes: DimSizes) =>
  tensorsOf(m, role).map((t) => ({ name: t.name, width: t.dims.reduce((n, d) => n * sizes[d]!, 1) }));

/** Steps [t0, t0 + n) of sequences [b0, b0 + nb) of a [batch, T, width] array. */
function slicePerStep(a: Float32Array, T: number, width: number, b0: number, nb: number, t0: number, n: number): Float32Array {
  if (t0 === 0 && n === T) return a.subarray(b0 * T * width, (b0 + nb) * T * width);
  const out = new Float32Array(nb * n * width);
  for (let b = 0; b < nb; b++) out.set(a.subarray(((b0 + b) * T + t0) * width, ((b0 + b) * T + t0 + n) * width), b * n * width);
  return out;
}

/** Writes a [nb, n, width] piece back into steps [t0, t0 + n) of sequences from b0 of a [batch, T, width] array. */
function placePerStep(into: Float32Array, piece: Float32Array, T: number, width: number, b0: number, nb: number, t0: number, n: number): void {
  for (let b = 0; b < nb; b++) into.set(piece.subarray(b * n * width, (b + 1) * n * width), ((b0 + b) * T + t0) * width);
}

/**
 * Runs `data` in the given segments on one device: pieces of each group of sequences in order, the
 * state carried through host memory between them (a few floats per sequence), lengths cut to each
 * piece (a sequence that ended keeps its state and writes zeros). One segment is a plain run.
 */
export async function runSegmented(
  device: Device,
  module: Module,
  prepare: (size: RunSize) => PreparedRun,
  data: RunArrays,
  sizes: DimSizes,
  segments: Segments,
  progress?: (done: number, count: number) => void,
  sample?: SampleRequest,
  /**
   * Takes each group of sequences' final states (sequences b0 .. b0 + nb - 1) instead of their
   * being placed in one array for the whole batch; `finalState` is then empty. For a caller that
   * reduces them (the staged backward's rest, whose final states are a step's terms of a sum each:
   * hundreds of MB at published sizes).
   */
  takeFinal?: (b0: number, nb: number, state: Record<string, Float32Array>) => void,
): Promise<RunResult> {
  const { batch, T } = data;
  if (segments.T >= T && segments.batch >= batch) {
    const got = await runPrepared(device, prepare({ batch, T }), data, sizes);
    if (!takeFinal) return got;
    takeFinal(0, batch, got.finalState);
    return { outputs: got.outputs, finalState: {} };
  }
  const prepared = new Map<string, PreparedRun>();
  const preparedAt = (s: RunSize) => {
    const key = `${s.batch}x${s.T}`;
    if (!prepared.has(key)) prepared.set(key, prepare(s));
    return prepared.get(key)!;
  };
  const inputs = widths(module, 'input', sizes);
  const outputs = widths(module, 'output', sizes);
  const states = widths(module, 'state', sizes);
  // A sampled output has a row per `every` steps (segments are whole runs of them: planSegments).
  const rowsOf = (o: { name: string }, steps: number) => (sample?.outputs.includes(o.name) ? Math.ceil(steps / sample.every) : steps);
  const result: RunResult = {
    outputs: Object.fromEntries(outputs.map((o) => [o.name, new Float32Array(batch * rowsOf(o, T) * o.width)])),
    finalState: takeFinal ? {} : Object.fromEntries(states.map((s) => [s.name, new Float32Array(batch * s.width)])),
  };
  let done = 0;
  for (let b0 = 0; b0 < batch; b0 += segments.batch) {
    const nb = Math.min(segments.batch, batch - b0);
    // Absent states start at the spec's initial value in the first piece; later pieces carry the previous one's.
    let state: Record<string, Float32Array> | undefined = data.initialState
      ? Object.fromEntries(Object.entries(data.initialState).map(([name, a]) => [name, a.subarray((b0 * a.length) / batch, ((b0 + nb) * a.length) / batch)]))
      : undefined;
    // A reversed cell runs its pieces last first: each piece reverses over its own part of every
    // sequence (the lengths cut to it), and the state it ends with is the one before the piece ahead.
    const starts = Array.from({ length: Math.ceil(T / segments.T) }, (_, k) => k * segments.T);
    if (module.reversed) starts.reverse();
    for (const t0 of starts) {
      const n = Math.min(segments.T, T - t0);
      const piece: RunArrays = {
        batch: nb,
        T: n,
        inputs: Object.fromEntries(inputs.map((i) => [i.name, slicePerStep(data.inputs[i.name]!, T, i.width, b0, nb, t0, n)])),
        params: data.params,
        ...(state ? { initialState: state } : {}),
        ...(data.lengths ? { lengths: Int32Array.from({ length: nb }, (_, b) => Math.max(0, Math.min(n, data.lengths![b0 + b]! - t0))) } : {}),
      };
      const got = await runPrepared(device, preparedAt({ batch: nb, T: n }), piece, sizes);
      for (const o of outputs) placePerStep(result.outputs[o.name]!, got.outputs[o.name]!, rowsOf(o, T), o.width, b0, nb, rowsOf(o, t0), rowsOf(o, n));
      // The piece's outputs are placed: their memory can take the next piece's (not the states', carried on).
      const carried = new Set(Object.values(got.finalState).map((a) => a.buffer));
      device.recycle?.(Object.values(got.outputs).map((a) => a.buffer as ArrayBuffer).filter((b) => !carried.has(b)));
      state = got.finalState;
      progress?.(++done, segments.count);
    }
    if (takeFinal) takeFinal(b0, nb, state!);
    else for (const s of states) result.finalState[s.name]!.set(state![s.name]!, b0 * s.width);
    device.recycle?.(Object.values(state!).map((a) => a.buffer as ArrayBuffer));
  }
  return result;
}
