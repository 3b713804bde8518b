// How a ScanPlan maps onto threads: which state dims become independent lanes, what one scan element
// holds per lane, and the tile shape of a workgroup.
//
// Lanes: when the combine and apply definitions read every field at their own coordinates (no
// reductions, no shifted indices: diagonal transitions, monoids like Aaren's whose fields share
// coordinates), each point of the state's index space is an independent scan of a few scalars, one
// per field; a field over fewer dims (GLA's decay a[i] for S[i, j]) is recomputed per lane.
// Otherwise (a dense N×N transition) the whole element — every field at every index — is one
// scan element, combined as a unit by one thread: the "whole" mode, for small state sizes.
import type { ScanPlan } from '../../src/compiler/analyse/types.js';
import type { Def, Module, Tensor } from '../../src/compiler/ir/ir.js';
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import { strides, tensorSize, type DimSizes } from '../../src/compiler/ir/dims.js';

export interface ElementMember {
  /** WGSL struct member name. */
  name: string;
  field: string;
  /** Concrete coordinates within the field (whole mode); empty in lane mode. */
  index: number[];
}

/**
 * A member of a WGSL struct the kernels pass around (`Elem`, `State`): one element field or state
 * tensor — a scalar per lane in lane mode; in whole mode an array over its dims, row-major (a
 * scalar when it has none), so that loops can index it at run time.
 */
export interface StructField {
  /** WGSL member name. */
  name: string;
  /** The element field (`h.a`) or state tensor it holds. */
  of: string;
  /** Dims of the array (whole mode), empty for a scalar. */
  dims: string[];
  strides: number[];
  /** Floats it holds. */
  count: number;
}

export interface PackedTensor {
  tensor: Tensor;
  /** Floats per step (inputs, outputs) or per sequence (states). */
  size: number;
  /** Offset of this tensor within its packed group, in floats per step / per sequence. */
  offset: number;
  strides: number[];
}

export interface ScanLayout {
  mode: 'lanes' | 'whole';
  /** Lane dims in module order (empty in whole mode). */
  laneDims: string[];
  laneStrides: number[];
  /** Lanes per sequence (S). */
  lanes: number;
  /** The element's floats in memory order (a field's points row-major, fields in plan order). */
  members: ElementMember[];
  /** The members of the WGSL `Elem` struct: one per field. */
  fields: StructField[];
  fieldDims: Map<string, string[]>;
  inputs: PackedTensor[];
  params: PackedTensor[];
  states: PackedTensor[];
  outputs: PackedTensor[];
  /** Floats of all inputs of one step, of all outputs of one step, of all states of one sequence. */
  inputWidth: number;
  outputWidth: number;
  stateWidth: number;
  paramWidth: number;
}

/** A WGSL identifier for a tensor or field name (`h.a` → `h_a`). */
export const safe = (name: string) => name.replace(/[^A-Za-z0-9_]/g, '_');

function pack(tensors: Tensor[], sizes: DimSizes): { packed: PackedTensor[]; width: number } {
  let offset = 0;
  const packed = tensors.map((tensor) => {
    const size = tensorSize(tensor, sizes);
    const p = { tensor, size, offset, strides: strides(tensor.dims, sizes) };
    offset += size;
    return p;
  });
  return { packed, width: offset };
}

/** True when every left/right/state/let load in `def` reads through the definition's own variables at matching dims, and nothing reduces. */
function pointwise(def: Def, dimsOf: (source: string, tensor: string) => string[] | undefined): boolean {
  const dimOfVar = new Map(def.vars.map((v) => [v.name, v.dim]));
  if (new Set(def.vars.map((v) => v.dim)).size !== def.vars.length) return false;
  return def.nodes.every((n) => {
    if (n.op === 'reduce') return false;
    if (n.op !== 'load' || n.source === 'input' || n.source === 'param') return true;
    const dims = dimsOf(n.source, n.tensor);
    if (!dims) return false;
    return n.index.every((v, k) => dimOfVar.get(v) === dims[k]);
  });
}

export function structField(name: string, of: string, dims: string[], sizes: DimSizes): StructField {
  return { name, of, dims, strides: strides(dims, sizes), count: dims.reduce((n, d) => n * sizes[d]!, 1) };
}

/** `force` 'whole' makes one element per sequence even where lanes would do (see chooseLayout in index.ts). */
export function scanLayout(module: Module, plan: ScanPlan, sizes: DimSizes, force?: 'whole'): ScanLayout {
  const fieldDims = new Map(plan.fields.map((f) => [f.target, f.vars.map((v) => v.dim)]));
  const stateTensors = tensorsOf(module, 'state');
  const stateDims = new Map(stateTensors.map((t) => [t.name, t.dims]));
  const combineLets = new Map(plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d.vars.map((v) => v.dim)]));
  const dimsOf = (source: string, tensor: string) =>
    source === 'left' || source === 'right' ? fieldDims.get(tensor) : source === 'state' ? stateDims.get(tensor) : (combineLets.get(tensor) ?? module.tensors.find((t) => t.name === tensor)?.dims);

  const laneCandidates = module.dims.map((d) => d.name).filter((d) => stateTensors.some((t) => t.dims.includes(d)));
  const coversLanes = (d: Def) => d.vars.every((v) => laneCandidates.includes(v.dim));
  const lanesOk = [...plan.combine, ...plan.apply].every((d) => pointwise(d, dimsOf)) && [...plan.fields, ...plan.combine, ...plan.identity, ...plan.apply].every(coversLanes);

  const mode = lanesOk && force !== 'whole' ? 'lanes' : 'whole';
  const laneDims = mode === 'lanes' ? laneCandidates : [];
  const members: ElementMember[] = [];
  const fields: StructField[] = [];
  for (const f of plan.fields) {
    const fieldDims = mode === 'lanes' ? [] : f.vars.map((v) => v.dim);
    fields.push(structField(safe(f.target), f.target, fieldDims, sizes));
    if (mode === 'lanes') {
      members.push({ name: safe(f.target), field: f.target, index: [] });
      continue;
    }
    const dims = f.vars.map((v) => v.dim);
    const st = strides(dims, sizes);
    const count = dims.reduce((n, d) => n * sizes[d]!, 1);
    for (let flat = 0; flat < count; flat++) {
      const index = dims.map((d, k) => Math.floor(flat / st[k]!) % sizes[d]!);
      members.push({ name: `${safe(f.target)}${index.map((i) => `_${i}`).join('')}`, field: f.target, index });
    }
  }
  const inputs = pack(tensorsOf(module, 'input'), sizes);
  const params = pack(tensorsOf(module, 'param'), sizes);
  const states = pack(stateTensors, sizes);
  const outputs = pack(tensorsOf(module, 'output'), sizes);
  return {
    mode,
    laneDims,
    laneStrides: strides(laneDims, sizes),
    lanes: laneDims.reduce((n, d) => n * sizes[d]!, 1),
    members,
    fields,
    fieldDims,
    inputs: inputs.packed,
    params: params.packed,
    states: states.packed,
    outputs: outputs.packed,
    inputWidth: inputs.width,
    outputWidth: outputs.width,
    stateWidth: states.width,
    paramWidth: params.width,
  };
}

/**
 * How threads share the work. 'tile': a workgroup holds G sequences × S lanes × P runs of R steps
 * each and scans tiles of P·R steps cooperatively (runs combined across threads, outputs that reduce
 * over lanes through workgroup memory). 'thread': every invocation owns one block of one lane of one
 * sequence and scans it alone, R steps per loop trip — no barriers and no workgroup memory, and the
 * blocks are the first level of the reduce-then-scan; only for cells whose outputs each thread can
 * write itself (see directOutputs). 'stripe': like 'thread', but a team of `width` invocations (one
 * subgroup) shares each block, one step each, so that neighbouring invocations load and store
 * neighbouring steps; each stripe of `width` steps is scanned with subgroup shuffles. Needs the
 * `subgroups` feature with subgroups of at least `width` invocations.
 */
export interface TileShape {
  split: 'tile' | 'thread' | 'stripe';
  /** Sequences per workgroup ('tile'; 1 for 'thread'). */
  groups: number;
  /** Threads per lane along time, a power of two ('tile'; 1 for 'thread'). */
  runs: number;
  /** Steps each thread scans in registers per loop trip. */
  runLength: number;
  /** Invocations per workgroup ('thread'; a 'tile' has G·S·P). */
  width?: number;
}

export interface TileOptions {
  /** Default: see chooseTile. */
  split?: 'tile' | 'thread' | 'stripe';
  /** Invocations per workgroup with the 'thread' and 'stripe' splits. */
  width?: number;
  runs?: number;
  runLength?: number;
  groups?: number;
  /** Upper bound on invocations per workgroup (WebGPU's default limit is 256). */
  maxThreads?: number;
  /** Workgroup memory budget in floats (WebGPU's default limit is 16 KiB). */
  sharedFloats?: number;
}

export const tileSteps = (t: TileShape): number => t.runs * t.runLength;
/** Steps a workgroup's loop advances per trip over the steps: a tile, or a stripe of `width` steps; blocks are whole trips. */
export const stepsPerTrip = (t: TileShape): number => (t.split === 'stripe' ? t.width! : tileSteps(t));
export const threadsOf = (t: TileShape, layout: ScanLayout): number => (t.split === 'tile' ? t.groups * layout.lanes * t.runs : t.width!);

/** Floats of workgroup memory a tile shape needs: per-step states (plus the state before the tile) and the scan scratch. */
export const sharedFloatsOf = (t: TileShape, layout: ScanLayout): number =>
  t.split !== 'tile' ? 0 : t.groups * (tileSteps(t) + 1) * layout.stateWidth + threadsOf(t, layout) * layout.members.length;

const floorPow2 = (n: number) => 2 ** Math.floor(Math.log2(Math.max(1, n)));

/**
 * The 'thread' split on lavapipe: 8 invocations fill one SIMD register, each walking its own block
 * (so its loads are gathers, which a CPU serves from cache); 64 steps per loop trip amortise the
 * loop's bound checks. Measured on affine (bench/cells) at T = 2^20: 8 steps per trip cost ~30% more.
 */
const THREAD_WIDTH = 8;
const THREAD_RUN = 64;
/**
 * The 'stripe' split: a team is one subgroup; 8 is lavapipe's subgroup size on AVX2 (one SIMD
 * register), and WebGPU adapters report subgroups of 4 to 128. The default split for lane elements
 * (a few floats, so the log2 W combines of a stripe's scan stay cheap) when subgroups are on.
 */
export const STRIPE_WIDTH = 8;

/** No tile of the asked shape fits a workgroup: the planner's refusal of the scan, with the reason. */
export class TileRefused extends Error {}

/**
 * The default 'tile' shape, tuned for lavapipe (Dawn on a CPU): a workgroup runs on one core, its
 * invocations 8 to a SIMD register, and a barrier costs microseconds. So: just enough runs per lane
 * to fill 8 SIMD lanes (none when a sequence has 8 lanes or more, which also removes every barrier),
 * 8 steps per thread per tile, and cores fed by blocks of the sequence (reduce-then-scan) or by
 * groups of sequences (carry). A GPU wants more runs (16) and bigger workgroups: pass them in options.
 */
export function chooseTile(layout: ScanLayout, options: TileOptions = {}, direct = false, subgroups = false): TileShape {
  const maxThreads = options.maxThreads ?? 256;
  const split = options.split ?? (!direct ? 'tile' : subgroups && layout.mode === 'lanes' ? 'stripe' : 'thread');
  if (split !== 'tile') {
    if (!direct) throw new TileRefused(`the '${split}' split needs outputs that each thread can write itself`);
    if (split === 'stripe') return { split, groups: 1, runs: 1, runLength: 1, width: options.width ?? STRIPE_WIDTH };
    return { split, groups: 1, runs: 1, runLength: options.runLength ?? THREAD_RUN, width: options.width ?? THREAD_WIDTH };
  }
  const budget = options.sharedFloats ?? 4096;
  if (layout.lanes > maxThreads) throw new TileRefused(`${layout.lanes} lanes per sequence exceed ${maxThreads} invocations per workgroup`);
  let runs = options.runs ?? Math.min(16, floorPow2(8 / layout.lanes));
  let runLength = options.runLength ?? Math.max(1, Math.min(8, Math.floor(32 / layout.members.length)));
  const groups = options.groups ?? Math.max(1, Math.floor(Math.min(8, maxThreads) / (layout.lanes * runs)));
  const shape = (): TileShape => ({ split, groups, runs, runLength });
  while (sharedFloatsOf(shape(), layout) > budget && (runLength > 1 || runs > 1)) {
    if (runLength > 1 && options.runLength === undefined) runLength = Math.ceil(runLength / 2);
    else if (runs > 1 && options.runs === undefined) runs /= 2;
    else break;
  }
  if (sharedFloatsOf(shape(), layout) > budget) throw new TileRefused(`a tile needs ${sharedFloatsOf(shape(), layout)} floats of workgroup memory, over the budget of ${budget}`);
  return shape();
}
