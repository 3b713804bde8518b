// The scan backend's entry points: a module with its ScanPlan to kernels, and a run's data to a GPU job.
import type { ScanPlan } from '../../src/compiler/analyse/types.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import type { SampleRequest } from '../../src/compiler/plan/plan.js';
import { outputRowsFit } from './states.js';
import { directOutputs, emitScanKernels, type ScanKernels } from './emit.js';
import { chainedFits } from './chained.js';
import { isBidirectional } from '../lower/time.js';
import { emitMatrixKernels, matrixShape, MAX_MATRIX_ELEMENT, usesMatrix } from './matrix.js';
import { blocksOf, chooseTile, scanLayout, sharedFloatsOf, stepsPerTrip, STRIPE_WIDTH, threadsOf, type ScanLayout, type TileOptions } from './layout.js';

export { buildScanJob, type ScanJob, type ScanRunData, type ScanRunResult, type ScanGpuJob } from './job.js';
export { chainedRuns, scheduleScan, type Schedule, type ScheduleOptions, type Strategy } from './schedule.js';
export { matrixShape, scheduleMatrix, type MatrixShape } from './matrix.js';
export type { ScanKernels } from './emit.js';
export { chainedFits, chainSteps, CHAIN_MAX_STEPS, CHAIN_MIN_STEPS, CHAIN_WORKGROUP, lookBackSafe } from './chained.js';

export interface ScanCompileOptions {
  /** Tile shape overrides (tests use tiny tiles so that several levels of aggregates happen at small T). */
  tile?: TileOptions;
  /** Combine runs with subgroup operations (the adapter must offer `subgroups`). Default true. */
  subgroups?: boolean;
  /** Also emit the chained single pass where it fits (chained.ts); default: the tile's `chained`, which the planner sets. */
  chained?: boolean;
  /** Inputs, params and outputs in f16 buffers (layout.ts HALF_BUFFERS; the plan's precision). */
  half?: boolean;
  /** One element per sequence holding every lane even where lanes would do (PlanRequest.gather), within MAX_GATHERED_ELEMENT. */
  gather?: boolean;
  /** Outputs written at sampled positions only (PlanRequest.sample; `sampleFits` says where). */
  sample?: SampleRequest;
}

export { MAX_WHOLE_ELEMENT, usesMatrix } from './matrix.js';

/** Whether the scan backend takes this plan, and if not, why (a sentence). */
export function scanSupport(module: Module, plan: ScanPlan, sizes: DimSizes): { ok: true } | { ok: false; reason: string } {
  const layout = scanLayout(module, plan, sizes);
  if (layout.mode === 'whole' && layout.members.length > MAX_MATRIX_ELEMENT)
    return { ok: false, reason: `its scan element has ${layout.members.length} floats (a dense transition), over the scan backend's ${MAX_MATRIX_ELEMENT} (lower the state's dims, or run it with --mode seq)` };
  return { ok: true };
}

/**
 * Past this many floats a lane-wise element is not gathered into one per thread (see chooseLayout).
 * Its combine is pointwise, so the shader grows linearly with it, unlike a dense element's.
 */
export const MAX_GATHERED_ELEMENT = 128;

/**
 * Lanes whose outputs reduce over lanes (mamba's y[d] = Σn h[d, n]·C[n]) need the 'tile' split, its
 * outputs going through workgroup memory behind barriers. One thread holding every lane of its
 * sequence (the whole element) writes them itself and takes the 'thread' split instead: measured on
 * lavapipe at T = 2^18, mamba_s6 97 → 16 ms, lru 59 → 4.6 ms, gla 185 → 25 ms. An explicit 'tile'
 * split keeps the lanes. `gather` asks for the whole element where lanes would do: lanes that all
 * read the same inputs each load them (lru's backward core, 8 lanes each reading d_y's 4 floats, ran
 * at 2.5× the forward scan on lavapipe at T = 2^20; gathered, about 1×).
 */
export function chooseLayout(module: Module, plan: ScanPlan, sizes: DimSizes, options: ScanCompileOptions = {}): ScanLayout {
  const lanes = scanLayout(module, plan, sizes);
  if (lanes.mode !== 'lanes' || options.tile?.split === 'tile' || (directOutputs(module, lanes) && !options.gather)) return lanes;
  const whole = scanLayout(module, plan, sizes, 'whole');
  return whole.members.length <= MAX_GATHERED_ELEMENT ? whole : lanes;
}

/**
 * Whether kernels built on subgroups run on this adapter: it has the feature, and its smallest
 * subgroup holds a stripe's team. Compile with `subgroups: subgroupsUsable(adapter)` where the
 * adapter is known; without them the scan takes the 'thread' split (or the tile split's workgroup
 * memory), which any adapter runs.
 */
export function subgroupsUsable(adapter: { features: readonly string[]; subgroupMinSize?: number }): boolean {
  return adapter.features.includes('subgroups') && (adapter.subgroupMinSize ?? 0) >= STRIPE_WIDTH;
}

export function compileScan(module: Module, plan: ScanPlan, sizes: DimSizes, options: ScanCompileOptions = {}): ScanKernels {
  const support = scanSupport(module, plan, sizes);
  if (!support.ok) throw new Error(`scan backend: ${module.name}: ${support.reason}`);
  const whole = scanLayout(module, plan, sizes);
  if (usesMatrix(whole)) {
    const shape = matrixShape(whole, options.tile?.sharedFloats);
    const kernels = emitMatrixKernels(module, plan, sizes, whole, shape, options.half ?? false);
    return { kernels, layout: whole, tile: { split: 'thread', groups: 1, runs: 1, runLength: 1, width: shape.width }, subgroups: false, matrix: shape };
  }
  const layout = chooseLayout(module, plan, sizes, options);
  const chosen = chooseTile(layout, options.tile, directOutputs(module, layout), options.subgroups ?? true);
  const chained = !options.sample && (options.chained ?? options.tile?.chained ?? false) && !module.reversed && !isBidirectional(module) && chainedFits({ tile: chosen, layout });
  const tile = chained ? { ...chosen, chained } : chosen;
  if (options.sample) {
    const fit = sampleFits(module, layout, options.sample);
    if (fit !== true) throw new Error(`scan backend: ${module.name}: ${fit}`);
  }
  return emitScanKernels(module, plan, sizes, layout, tile, { subgroups: options.subgroups ?? true, chained, ...(options.half ? { half: true } : {}), ...(options.sample ? { sample: options.sample } : {}) });
}

/**
 * Whether the scan writes these outputs at sampled positions only (PlanRequest.sample), or why not:
 * where one thread holds the whole element and writes each step's outputs as rows (states.ts
 * `outputRowsFit`), the sampled outputs last among them, in f32.
 */
export function sampleFits(module: Module, layout: ScanLayout, sample: SampleRequest, half = false): true | string {
  if (!(sample.every >= 1 && Number.isInteger(sample.every))) return `a sample every ${sample.every} steps`;
  if (!outputRowsFit(layout, { direct: directOutputs(module, layout), half })) return 'sampled outputs need the whole element in one thread, writing rows of vec4s';
  const names = layout.outputs.map((o) => o.tensor.name);
  const tail = names.slice(names.length - sample.outputs.length);
  if (sample.outputs.length === 0 || !sample.outputs.every((o) => tail.includes(o))) return `the sampled outputs (${sample.outputs.join(', ')}) must be the last of ${names.join(', ')}`;
  return true;
}

/** A JSON description of the kernels: what a host needs to bind and dispatch them. */
export function scanManifest(module: Module, k: ScanKernels) {
  const { layout, tile } = k;
  // Where each tensor sits in the packed buffers: the same for every layout.
  const layouts = {
    inputs: layout.inputs.map((p) => ({ name: p.tensor.name, offset: p.offset, size: p.size, scale: 'batch*T' })),
    params: layout.params.map((p) => ({ name: p.tensor.name, offset: p.offset, size: p.size })),
    states: layout.states.map((p) => ({ name: p.tensor.name, offset: p.offset, size: p.size, scale: 'batch' })),
    outputs: layout.outputs.map((p) => ({ name: p.tensor.name, offset: p.offset, size: p.size, scale: 'batch*T' })),
  };
  if (k.matrix)
    return {
      name: module.name,
      backend: 'scan',
      element: { mode: 'matrix', members: layout.members.length, fields: layout.fields.map((f) => ({ name: f.of, dims: f.dims, floats: f.count })) },
      matrix: { ...k.matrix },
      subgroups: false,
      kernels: Object.values(k.kernels).map((kernel) => ({ name: kernel.name, file: `${module.name}.${kernel.name}.wgsl`, bindings: kernel.bindings })),
      layouts,
    };
  const blocks = blocksOf(tile, layout);
  return {
    name: module.name,
    backend: 'scan',
    element: { mode: layout.mode, lanes: layout.lanes, laneDims: layout.laneDims, members: layout.members.map((m) => m.name) },
    // Where the 'tile' split spreads a sequence's lanes over workgroups (layout.ts, LaneBlocks).
    ...(blocks.blocks > 1 ? { laneBlocks: { blocks: blocks.blocks, lanes: blocks.lanes, extent: Object.fromEntries(layout.laneDims.map((d, k) => [d, blocks.extent[k]])) } } : {}),
    tile: { ...tile, steps: stepsPerTrip(tile), workgroupSize: threadsOf(tile, layout), sharedFloats: sharedFloatsOf(tile, layout) },
    subgroups: k.subgroups,
    kernels: Object.values(k.kernels).map((kernel) => ({ name: kernel.name, file: `${module.name}.${kernel.name}.wgsl`, bindings: kernel.bindings })),
    layouts,
  };
}
