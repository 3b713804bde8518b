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
  /** 'whole' only because asked (chooseLayout gathers a sequence's lanes into one element): the combine is still pointwise. */
  gathered: boolean;
  /** Lane dims in module order (empty in whole mode). */
  laneDims: string[];
  laneStrides: number[];
  /**
   * Lane dims no output reads across (see tiedLaneDims): lanes that differ only along them never meet
   * in an output, so a sequence's lanes may be spread over workgroups in blocks along them.
   */
  freeDims: string[];
  /** The other lane dims, each with why its lanes cannot be spread (for the refusal). */
  tied: Map<string, string>;
  sizes: DimSizes;
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
/** With f16 storage (the plan's precision), the buffers held as f16: inputs, params and outputs; init, final_state and aggs stay f32. */
export const HALF_BUFFERS: ReadonlySet<string> = new Set(['inputs', 'params', 'outputs']);

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

/**
 * Why lanes along `dim` cannot be spread over workgroups (undefined where they can): some state does
 * not lie over the dim (it is repeated in every lane along it), or some output does not lie over it
 * once or reads a state (through its lets, transitively) at another coordinate along it than its
 * own — through a reduction's index, typically. GLA's o[j] = sum(i: q[i] * S[i, j]) leaves V (j)
 * free and reduces over K (i); an output over no lane dim (a sum over everything) leaves none.
 */
function tiedBy(module: Module, dim: string): string | undefined {
  const states = tensorsOf(module, 'state');
  const stateDims = new Map(states.map((t) => [t.name, t.dims]));
  const lets = new Map(module.step.filter((d) => d.kind === 'let' || d.kind === 'output').map((d) => [d.target, d]));
  const missing = states.find((t) => !t.dims.includes(dim));
  if (missing) return `\`${missing.name}\` does not lie over ${dim}`;
  /** How `def`, its vars pinned to the output's coordinate as `pins` says, reads a state elsewhere along `dim`: 'reduces', 'reads', or undefined. */
  const crossRead = (def: Def, pins: (string | undefined)[], seen: Set<string>): 'reduces' | 'reads' | undefined => {
    const pinOf = new Map(def.vars.map((v, k) => [v.name, pins[k]]));
    for (const n of def.nodes) {
      if (n.op !== 'load' || n.dep !== 'state') continue;
      if (n.source === 'state') {
        const k = stateDims.get(n.tensor)!.findIndex((d, k) => d === dim && pinOf.get(n.index[k]!) !== dim);
        if (k >= 0) return pinOf.has(n.index[k]!) ? 'reads' : 'reduces';
      } else if (n.source === 'let') {
        const letDef = lets.get(n.tensor);
        if (!letDef || seen.has(n.tensor)) return 'reads';
        const inner = crossRead(letDef, n.index.map((v) => pinOf.get(v)), new Set(seen).add(n.tensor));
        if (inner) return inner;
      }
    }
    return undefined;
  };
  for (const o of module.step.filter((d) => d.kind === 'output')) {
    const over = o.vars.filter((v) => v.dim === dim).length;
    const how = over <= 1 ? crossRead(o, o.vars.map((v) => (v.dim === dim ? dim : undefined)), new Set([o.target])) : undefined;
    if (how) return how === 'reduces' ? `\`${o.target}\` reduces over ${dim}` : `\`${o.target}\` reads the states across ${dim}`;
    if (over !== 1) return over ? `\`${o.target}\` lies over ${dim} more than once` : `\`${o.target}\` does not lie over ${dim}`;
  }
  return undefined;
}

/** Per lane dim, why its lanes cannot be spread over workgroups; the free ones are absent. */
export function tiedLaneDims(module: Module, laneDims: string[]): Map<string, string> {
  return new Map(laneDims.flatMap((d) => {
    const why = tiedBy(module, d);
    return why ? [[d, why] as const] : [];
  }));
}

export function structField(name: string, of: string, dims: string[], sizes: DimSizes): StructField {
  return { name, of, dims, strides: strides(dims, sizes), count: dims.reduce((n, d) => n * sizes[d]!, 1) };
}

/** A whole element's floats at most: the matrix layout's limit (matrix.ts), its storage scratch (four elements per block) within a 128 MiB binding for 8 blocks. */
export const MAX_MATRIX_ELEMENT = 1 << 20;

/** Layouts made, per plan, by sizes and `force`: the probe, the emitter and the host ask for the same one several times, and a dense element's members are many. */
const layouts = new WeakMap<ScanPlan, Map<string, ScanLayout>>();

/** `force` 'whole' makes one element per sequence even where lanes would do (see chooseLayout in index.ts). Treat the result as read-only: it is shared. */
export function scanLayout(module: Module, plan: ScanPlan, sizes: DimSizes, force?: 'whole'): ScanLayout {
  const key = `${module.name}|${force ?? ''}|${Object.entries(sizes).map(([d, n]) => `${d}=${n}`).sort().join(',')}`;
  const known = layouts.get(plan)?.get(key);
  if (known) return known;
  const layout = makeScanLayout(module, plan, sizes, force);
  if (!layouts.has(plan)) layouts.set(plan, new Map());
  layouts.get(plan)!.set(key, layout);
  return layout;
}

function makeScanLayout(module: Module, plan: ScanPlan, sizes: DimSizes, force?: 'whole'): ScanLayout {
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
  // Past the limit the layout is only refused (scanSupport): its members are counted, not made.
  const wholeFloats = plan.fields.reduce((n, f) => n + f.vars.reduce((m, v) => m * sizes[v.dim]!, 1), 0);
  const counted = mode === 'whole' && wholeFloats > MAX_MATRIX_ELEMENT;
  if (counted) members.length = wholeFloats;
  for (const f of plan.fields) {
    const fieldDims = mode === 'lanes' ? [] : f.vars.map((v) => v.dim);
    fields.push(structField(safe(f.target), f.target, fieldDims, sizes));
    if (mode === 'lanes') {
      members.push({ name: safe(f.target), field: f.target, index: [] });
      continue;
    }
    if (counted) continue;
    // Row-major, the index counted up like an odometer: a dense element at N = 300 has 90,000 members.
    const dims = f.vars.map((v) => v.dim);
    const extents = dims.map((d) => sizes[d]!);
    const count = extents.reduce((n, x) => n * x, 1);
    const base = safe(f.target);
    const index = dims.map(() => 0);
    for (let flat = 0; flat < count; flat++) {
      let name = base;
      for (const i of index) name += `_${i}`;
      members.push({ name, field: f.target, index: [...index] });
      for (let k = index.length - 1; k >= 0 && ++index[k]! === extents[k]; k--) index[k] = 0;
    }
  }
  const tied = tiedLaneDims(module, laneDims);
  const inputs = pack(tensorsOf(module, 'input'), sizes);
  const params = pack(tensorsOf(module, 'param'), sizes);
  const states = pack(stateTensors, sizes);
  const outputs = pack(tensorsOf(module, 'output'), sizes);
  return {
    mode,
    gathered: lanesOk && mode === 'whole',
    laneDims,
    laneStrides: strides(laneDims, sizes),
    freeDims: laneDims.filter((d) => !tied.has(d)),
    tied,
    sizes,
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
  /**
   * 'tile': at most this many lanes of a sequence share a workgroup; set only where a sequence's
   * lanes are spread over several workgroups in blocks (laneBlocks).
   */
  blockLanes?: number;
  /**
   * Also compile the chained single pass (chained.ts), which the schedule takes for few long
   * sequences: set by the planner only for adapters where a look-back is safe (Target.lookBack).
   */
  chained?: boolean;
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
  /** 'tile': lanes of a sequence per workgroup, at most (a TileShape's blockLanes); default: as many as fit. */
  blockLanes?: number;
  /** Also compile the chained single pass where it fits (a TileShape's chained). */
  chained?: boolean;
}

/**
 * How the 'tile' split spreads a sequence's lanes over workgroups: in blocks along the free lane dims
 * (ScanLayout.freeDims), each block holding whole reductions, so that a workgroup writes the outputs
 * of its block from its own states. A dim cut into `count` blocks of `extent` coordinates is padded
 * to count·extent: lanes past its size compute a copy of its last coordinate and write nothing.
 * Lanes are numbered block-major (s = block · lanes + lane in the block), so a lane's aggregates
 * have their own place; one block of all lanes where they fit one workgroup.
 */
export interface LaneBlocks {
  /** Coordinates of a block along each lane dim (the dim's size where it is not cut), in lane order. */
  extent: number[];
  /** Blocks along each lane dim. */
  count: number[];
  /** Strides of a lane within its block (over `extent`) and of a block among the blocks (over `count`). */
  localStrides: number[];
  blockStrides: number[];
  /** Lanes per block (what a workgroup holds of a sequence) and blocks per sequence. */
  lanes: number;
  blocks: number;
  /** States and outputs of one block, packed over its extents (workgroup memory, the store phase). */
  states: PackedTensor[];
  stateWidth: number;
  outputs: PackedTensor[];
  outputWidth: number;
}

/** Extents of the blocks of at most `maxLanes` lanes: the free dims cut innermost first, into blocks of equal extent (but the last). */
function blockExtents(layout: ScanLayout, maxLanes: number): number[] {
  const sizes = layout.laneDims.map((d) => layout.sizes[d]!);
  const extent = [...sizes];
  if (layout.lanes <= maxLanes) return extent;
  const free = layout.laneDims.map((d) => layout.freeDims.includes(d));
  const reduced = sizes.reduce((n, size, k) => (free[k] ? n : n * size), 1);
  let room = Math.max(1, Math.floor(maxLanes / reduced));
  for (let k = sizes.length - 1; k >= 0; k--) {
    if (!free[k]) continue;
    const count = Math.ceil(sizes[k]! / Math.max(1, Math.min(room, sizes[k]!)));
    extent[k] = Math.ceil(sizes[k]! / count);
    room = Math.floor(room / extent[k]!);
  }
  return extent;
}

export function laneBlocks(layout: ScanLayout, maxLanes = layout.lanes): LaneBlocks {
  const extent = blockExtents(layout, maxLanes);
  const count = layout.laneDims.map((d, k) => Math.ceil(layout.sizes[d]! / extent[k]!));
  const extentOf = new Map(layout.laneDims.map((d, k) => [d, extent[k]!]));
  const local = (packed: PackedTensor[]) => {
    let offset = 0;
    const out = packed.map((p) => {
      const dims = p.tensor.dims.map((d) => extentOf.get(d) ?? layout.sizes[d]!);
      const size = dims.reduce((n, x) => n * x, 1);
      const q = { tensor: p.tensor, size, offset, strides: dims.map((_, k) => dims.slice(k + 1).reduce((n, x) => n * x, 1)) };
      offset += size;
      return q;
    });
    return { packed: out, width: offset };
  };
  const states = local(layout.states);
  const outputs = local(layout.outputs);
  const stridesOver = (xs: number[]) => xs.map((_, k) => xs.slice(k + 1).reduce((n, x) => n * x, 1));
  return {
    extent,
    count,
    localStrides: stridesOver(extent),
    blockStrides: stridesOver(count),
    lanes: extent.reduce((n, x) => n * x, 1),
    blocks: count.reduce((n, x) => n * x, 1),
    states: states.packed,
    stateWidth: states.width,
    outputs: outputs.packed,
    outputWidth: outputs.width,
  };
}

/** The lane blocks of a tile shape: several only with the 'tile' split and blockLanes set. */
export const blocksOf = (t: TileShape, layout: ScanLayout): LaneBlocks => laneBlocks(layout, t.split === 'tile' && t.blockLanes !== undefined ? t.blockLanes : layout.lanes);
/** Lanes of a sequence in the kernels' numbering, padding included (the aggregates' lane count). */
export const paddedLanes = (t: TileShape, layout: ScanLayout): number => {
  const b = blocksOf(t, layout);
  return b.blocks * b.lanes;
};

export const tileSteps = (t: TileShape): number => t.runs * t.runLength;
/** Steps a workgroup's loop advances per trip over the steps: a tile, or a stripe of `width` steps; blocks are whole trips. */
export const stepsPerTrip = (t: TileShape): number => (t.split === 'stripe' ? t.width! : tileSteps(t));
export const threadsOf = (t: TileShape, layout: ScanLayout): number => (t.split === 'tile' ? t.groups * blocksOf(t, layout).lanes * t.runs : t.width!);

/** Floats of workgroup memory a tile shape needs: per-step states of its lane block (plus the state before the tile) and the scan scratch. */
export const sharedFloatsOf = (t: TileShape, layout: ScanLayout): number =>
  t.split !== 'tile' ? 0 : t.groups * (tileSteps(t) + 1) * blocksOf(t, layout).stateWidth + threadsOf(t, layout) * layout.members.length;

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
  const dimList = (dims: string[]) => dims.map((d) => `--dim ${d}`).join(' or ');
  const reducedDims = layout.laneDims.filter((d) => !layout.freeDims.includes(d));
  const reduced = reducedDims.reduce((n, d) => n * layout.sizes[d]!, 1);
  const why = [...new Set(reducedDims.map((d) => layout.tied.get(d)!))].join('; ');
  if (layout.lanes > maxThreads && !layout.freeDims.length)
    throw new TileRefused(`${why}: a sequence's ${layout.lanes} lanes must share one workgroup, over ${maxThreads} invocations (lower ${dimList(layout.laneDims)})`);
  if (reduced > maxThreads)
    throw new TileRefused(`${why}: the ${reduced} lanes along ${reducedDims.join(', ')} must share one workgroup, over ${maxThreads} invocations (lower ${dimList(reducedDims)})`);
  // Lanes per workgroup: all of a sequence's where they fit, else blocks along the free dims, halved
  // while the tile's workgroup memory is over budget (an asked blockLanes is kept).
  let blockLanes = Math.min(options.blockLanes ?? Math.max(1, Math.floor(maxThreads / ((options.runs ?? 1) * (options.groups ?? 1)))), maxThreads);
  const tileFor = (maxLanes: number): TileShape => {
    const blocked = maxLanes < layout.lanes;
    const lanes = laneBlocks(layout, maxLanes).lanes;
    let runs = options.runs ?? Math.min(16, floorPow2(8 / lanes));
    let runLength = options.runLength ?? Math.max(1, Math.min(8, Math.floor(32 / layout.members.length)));
    const groups = options.groups ?? Math.max(1, Math.floor(Math.min(8, maxThreads) / (lanes * runs)));
    const shape = (): TileShape => ({ split, groups, runs, runLength, ...(blocked ? { blockLanes: maxLanes } : {}) });
    while (sharedFloatsOf(shape(), layout) > budget && (runLength > 1 || runs > 1)) {
      if (runLength > 1 && options.runLength === undefined) runLength = Math.ceil(runLength / 2);
      else if (runs > 1 && options.runs === undefined) runs /= 2;
      else break;
    }
    return shape();
  };
  let shape = tileFor(blockLanes);
  while (sharedFloatsOf(shape, layout) > budget && options.blockLanes === undefined && layout.freeDims.length && laneBlocks(layout, blockLanes).lanes > reduced) {
    blockLanes = Math.max(reduced, Math.floor(laneBlocks(layout, blockLanes).lanes / 2));
    shape = tileFor(blockLanes);
  }
  if (sharedFloatsOf(shape, layout) > budget) throw new TileRefused(`a tile needs ${sharedFloatsOf(shape, layout)} floats of workgroup memory, over the budget of ${budget}`);
  if (threadsOf(shape, layout) > maxThreads) throw new TileRefused(`a tile needs ${threadsOf(shape, layout)} invocations, over ${maxThreads} per workgroup`);
  return shape;
}
