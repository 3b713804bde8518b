// Running a compilation, whatever its time directions: the one place a bidirectional cell runs as its
// two parts (src/compiler/ir/split-directions.ts). A compilation planned as parts (Compilation.parts:
// chunk, which takes one direction of time) runs each part on its own inputs, params and initial
// states, and joins their outputs and final states, which keep their names. A fused bidirectional
// cell asked to run in pieces of time (--segment) is planned as parts here: each part's pieces then
// run in its own direction (the reversed part's last first), which the fused kernel cannot do.
import type { RunArrays, RunResult, RunSize } from '../../backends/backend.js';
import type { AdapterLimits } from '../../backends/job.js';
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import { hasReversedBlock } from '../compiler/ir/split-directions.js';
import type { Compilation, ExecutionPlan } from '../compiler/plan/plan.js';
import type { Device } from '../runtime/device.js';
import { planParts } from './compile.js';
import { fitRun, runSegmented, type Segments } from './segments.js';

/** What ran for one part of a cell run as its two directions. */
export interface PartReport {
  direction: 'forward' | 'reversed';
  /** The part's module: the cell's name and its direction. */
  name: string;
  mode: ExecutionPlan['mode'];
  why: string;
  decision: ExecutionPlan['decision'];
  segments: { steps: number; sequences: number; count: number };
}

/** A compilation fitted to an adapter at one run size: its segments (all parts' together) and how to run it. */
export interface FittedRun {
  /** The compilation that runs: the given one, or its parts (a fused bidirectional cell in pieces of time). */
  compilation: Compilation;
  /** The pieces: the fewest steps and sequences of any part; `count`, the most pieces of any part. */
  segments: Segments;
  /** Per part, where the cell runs as its two directions. */
  parts?: PartReport[];
  run(device: Device, data: RunArrays, progress?: (done: number, count: number) => void): Promise<RunResult>;
}

/** A part's share of the cell's data: the inputs, params and initial states it declares (the same arrays). */
export function partData(part: Module, data: RunArrays): RunArrays {
  const pick = (from: Record<string, Float32Array> | undefined, role: 'input' | 'param' | 'state') =>
    Object.fromEntries(tensorsOf(part, role).flatMap((t) => (from?.[t.name] ? [[t.name, from[t.name]!]] : [])));
  return {
    batch: data.batch,
    T: data.T,
    inputs: pick(data.inputs, 'input'),
    params: pick(data.params, 'param'),
    ...(data.initialState ? { initialState: pick(data.initialState, 'state') } : {}),
    ...(data.lengths ? { lengths: data.lengths } : {}),
  };
}

/**
 * Fits a compilation to the adapter's limits at `size` (see fitRun), pieces of at most `maxT` steps.
 * A fused bidirectional cell asked for pieces shorter than T is planned as its parts first.
 */
export function fitCompilation(c: Compilation, limits: AdapterLimits, size: RunSize, maxT?: number): FittedRun {
  const inPieces = maxT !== undefined && maxT < size.T;
  const parted = c.parts ? c : hasReversedBlock(c.module) && inPieces ? planParts(c.module, { dims: c.sizes, mode: c.plan.requested, target: c.target, verb: 'run', ...(c.plan.precision ? { precision: c.plan.precision.requested } : {}) }, c.source) : undefined;
  if (!parted) {
    const { prepare, segments } = fitRun(c, limits, size, maxT);
    return { compilation: c, segments, run: (device, data, progress) => runSegmented(device, c.module, prepare, data, c.sizes, segments, progress) };
  }
  const fitted = parted.parts!.map((part) => ({ part, ...fitRun(part, limits, size, maxT) }));
  const segments: Segments = {
    T: Math.min(...fitted.map((f) => f.segments.T)),
    batch: Math.min(...fitted.map((f) => f.segments.batch)),
    count: Math.max(...fitted.map((f) => f.segments.count)),
  };
  const total = fitted.reduce((n, f) => n + f.segments.count, 0);
  const parts: PartReport[] = fitted.map(({ part, segments: s }) => ({
    direction: part.module.reversed ? 'reversed' : 'forward',
    name: part.module.name,
    mode: part.plan.mode,
    why: part.plan.why,
    decision: part.plan.decision,
    segments: { steps: s.T, sequences: s.batch, count: s.count },
  }));
  return {
    compilation: parted,
    segments,
    parts,
    async run(device, data, progress) {
      const result: RunResult = { outputs: {}, finalState: {} };
      let done = 0;
      // One part after the other on the same device; their outputs and states have distinct names.
      for (const { part, prepare, segments: s } of fitted) {
        const got = await runSegmented(device, part.module, prepare, partData(part.module, data), part.sizes, s, progress ? (k) => progress(done + k, total) : undefined);
        done += s.count;
        Object.assign(result.outputs, got.outputs);
        Object.assign(result.finalState, got.finalState);
      }
      return result;
    },
  };
}
