// Which passes a scan runs for a given batch and length, with their uniforms and grid sizes.
//
// carry: one pass; a workgroup per group of sequences walks all tiles in order, carrying its prefix
//   (no communication between workgroups). For many independent sequences.
// reduce-then-scan: for few long sequences. Level 0 is the steps, cut into blocks of whole tiles;
//   reduce_steps writes each block's aggregate (level 1); while a level has more than `topMax`
//   aggregates, reduce_aggs reduces it into the next; scan_aggs scans the top level in place with one
//   workgroup per group looping over it, then each lower level is rescanned in place with its block's
//   carried-in prefix, and scan_steps rescans the steps with theirs and stores states and outputs.
//   2L + 1 dispatches for L levels of aggregates, whatever the batch.
// With the 'thread' and 'stripe' splits (layout.ts) every invocation (or team) is one block: blocks
// are sized so that the passes over the steps have about `targetThreads` invocations, and a level of
// aggregates is walked by one invocation per lane, so L is 1 unless blocks are very many.
import { gridDispatch } from '../lower/grid.js';
import { matrixShape, scheduleMatrix, usesMatrix } from './matrix.js';
import { uniformFields, type KernelName } from './emit.js';
import { recordWords, singlePassFits } from './single.js';
import { CHAIN_MAX_STEPS, CHAIN_SPIN_LIMIT, CHAIN_WORKGROUP, chainSteps } from './chained.js';
import { blocksOf, paddedLanes, stepsPerTrip, threadsOf, type ScanLayout, type TileShape } from './layout.js';

export type Strategy = 'carry' | 'reduce-then-scan' | 'single-pass' | 'chained';

export interface ScheduleOptions {
  strategy?: Strategy | 'auto';
  /** Aim for about this many blocks per sequence group at each reduce level (parallelism across workgroups). */
  targetBlocks?: number;
  /** The top level is scanned by one workgroup looping once it has at most this many aggregates. */
  topMax?: number;
  /** `auto` carries when there are at least this many workgroups' worth of sequence groups. */
  minCarryGroups?: number;
  /** 'thread'/'stripe' splits: aim for about this many invocations in the passes over the steps. */
  targetThreads?: number;
  /** 'thread'/'stripe' splits: `auto` carries when the lanes alone occupy this many invocations. */
  minCarryThreads?: number;
  /** single-pass, chained: looks at a predecessor's record that is not ready before reducing its block instead. */
  spinLimit?: number;
  /** chained: steps per invocation (a multiple of 4; default chainSteps, chained.ts). */
  chainSteps?: number;
  /**
   * The kernels include `scan_chained` (compiled for an adapter where a look-back is safe, chained.ts):
   * `auto` then takes it for few long sequences whose length is a multiple of 4.
   */
  chained?: boolean;
}

/**
 * Defaults measured on lavapipe (2 cores, 8-wide SIMD): 256 invocations over the blocks of a long
 * sequence balance the cores (affine, T = 2^20: 2.8 ms against 4-5 ms with 64, noisier too); and
 * once the lanes alone fill 16 invocations, one pass carrying the prefix beats two passes (maxplus,
 * 16 sequences, T = 2^16: 8 ms against 17.6 ms).
 */
export const TARGET_THREADS = 256;
/** single-pass: about the cost of reducing a block here before a team stops waiting on it. */
const DEFAULT_SPIN_LIMIT = 64;
export const MIN_CARRY_THREADS = 16;
/** 'tile' split: `auto` carries from this many workgroups of (sequence group, lane block) on. */
export const MIN_CARRY_GROUPS = 8;
/** 'tile' split: blocks per reduce level. */
export const TILE_TARGET_BLOCKS = 64;
/** The top level of aggregates holds at most this many trips (then one workgroup loops over it). */
export const TOP_TRIPS = 4;

export interface Pass {
  kernel: KernelName;
  uniforms: Uint32Array;
  dispatch: [number, number];
}

export interface Schedule {
  strategy: Strategy;
  passes: Pass[];
  /** Aggregate elements (all levels) the scratch buffer must hold. */
  aggElements: number;
  /** Aggregates per sequence lane at each level, level 1 first. */
  levels: number[];
  /** single-pass: u32 words of the status buffer (the ticket counter and the blocks' records). */
  statusWords?: number;
}

type Uniforms = Partial<Record<(typeof uniformFields)[number], number>>;

/** At least one workgroup per pass (a pass over nothing still runs its guards), over x and y. */
function grid(workgroups: number): [number, number] {
  const [x, y] = gridDispatch(Math.max(workgroups, 1));
  return [x, y];
}

export function scheduleScan(layout: ScanLayout, tile: TileShape, batch: number, T: number, options: ScheduleOptions = {}, minLength = T): Schedule {
  // An element a workgroup holds has its own passes (matrix.ts); compiled with a smaller workgroup-memory budget, see scheduleFor (job.ts).
  if (usesMatrix(layout)) return scheduleMatrix(layout, matrixShape(layout), batch, T, minLength, options.targetBlocks);
  const TILE = stepsPerTrip(tile);
  const groups = Math.ceil(batch / tile.groups);
  // Lanes of the batch in the kernels' numbering: padded where the 'tile' split spreads them over
  // workgroups in `laneBlocks` blocks (layout.ts), each one more workgroup per sequence group.
  const lanes = batch * paddedLanes(tile, layout);
  const laneBlocks = blocksOf(tile, layout).blocks;
  const perThread = tile.split !== 'tile';
  const striped = tile.split === 'stripe';
  // Workgroups for `blocks` blocks of every lane: one per (group, block) with the 'tile' split, one
  // per `width` blocks with the 'thread' split, one per block over the steps with the 'stripe' split
  // (whose passes over aggregates are the thread split's).
  const workgroups = (blocks: number, kernel: KernelName) =>
    striped && (kernel === 'scan_steps' || kernel === 'reduce_steps') ? lanes * blocks : perThread ? Math.ceil((lanes * blocks) / tile.width!) : groups * laneBlocks * blocks;
  const targetThreads = options.targetThreads ?? TARGET_THREADS;
  /** Invocations that work on one block of one lane in the passes over the steps. */
  const perBlock = striped ? tile.width! : 1;
  const uniforms = (u: Uniforms) => Uint32Array.from(uniformFields.map((f) => u[f] ?? 0));
  const base = { T, batch, groups, min_len: Math.min(T, minLength) };
  const manyLanes = perThread ? lanes * perBlock >= (options.minCarryThreads ?? MIN_CARRY_THREADS) : groups * laneBlocks >= (options.minCarryGroups ?? MIN_CARRY_GROUPS);
  const strategy: Strategy =
    options.strategy && options.strategy !== 'auto' ? options.strategy : manyLanes || T <= 2 * TILE ? 'carry' : options.chained && chainedRuns(lanes, T) ? 'chained' : 'reduce-then-scan';
  if (strategy === 'chained') {
    if (!options.chained) throw new Error(`scan schedule: the chained pass needs kernels compiled with it (chained.ts)`);
    if (!chainedRuns(lanes, T)) throw new Error(`scan schedule: the chained pass needs T a multiple of 4 (got ${T}) and at most 65,535 workgroups along each axis`);
    // One invocation per range of `steps` steps; a record per group of ranges, sized for the smallest subgroup (the stripe's team).
    const steps = options.chainSteps ?? chainSteps(T, lanes);
    if (steps % 4 !== 0 || steps <= 0) throw new Error(`scan schedule: the chained pass takes a positive multiple of 4 steps per invocation (got ${steps})`);
    const x = Math.ceil(T / (steps * CHAIN_WORKGROUP));
    if (x > 65_535) throw new Error(`scan schedule: ${x} workgroups of ${steps}-step ranges exceed 65,535 along x`);
    const records = Math.ceil((x * CHAIN_WORKGROUP) / tile.width!);
    const pass: Pass = { kernel: 'scan_chained', uniforms: uniforms({ ...base, n: T, block_len: steps, blocks: records, spin_limit: options.spinLimit ?? CHAIN_SPIN_LIMIT }), dispatch: [x, lanes] };
    return { strategy, passes: [pass], aggElements: 1, levels: [records], statusWords: lanes + lanes * records * recordWords(layout.members.length) };
  }
  if (strategy === 'carry') {
    return { strategy, passes: [{ kernel: 'scan_steps', uniforms: uniforms({ ...base, n: T, block_len: Math.max(T, 1), blocks: 1 }), dispatch: grid(workgroups(1, 'scan_steps')) }], aggElements: 1, levels: [] };
  }
  const targetBlocks = options.targetBlocks ?? (perThread ? Math.max(2, Math.ceil(targetThreads / (lanes * perBlock))) : TILE_TARGET_BLOCKS);
  if (strategy === 'single-pass') {
    if (!singlePassFits({ tile, layout })) throw new Error(`scan schedule: the single pass needs the 'stripe' split and an element of at most 2 floats`);
    const blockLen = TILE * Math.max(1, Math.ceil(T / (TILE * targetBlocks)));
    const blocks = Math.max(1, Math.ceil(T / blockLen));
    const pass: Pass = { kernel: 'scan_single', uniforms: uniforms({ ...base, n: T, block_len: blockLen, blocks, spin_limit: options.spinLimit ?? DEFAULT_SPIN_LIMIT }), dispatch: grid(lanes * blocks) };
    return { strategy, passes: [pass], aggElements: 1, levels: [blocks], statusWords: 1 + lanes * blocks * recordWords(layout.members.length) };
  }
  const topMax = options.topMax ?? TOP_TRIPS * TILE;
  /** Block length (a whole number of tiles) and block count for n items. */
  const blocking = (n: number) => {
    const blockLen = TILE * Math.max(1, Math.ceil(n / (TILE * targetBlocks)));
    return { blockLen, blocks: Math.ceil(n / blockLen) };
  };
  // Level 0 (steps) to level 1, then down while a level is too long to scan in one workgroup.
  const levels: { n: number; blockLen: number; blocks: number; offset: number }[] = [];
  let offset = 0;
  let n = T;
  for (;;) {
    const { blockLen, blocks } = blocking(n);
    levels.push({ n, blockLen, blocks, offset });
    if (levels.length > 1) offset += n * lanes;
    n = blocks;
    if (n <= topMax) break;
  }
  // levels[j]: items n at level j (level 0 = steps) reduced in blocks of blockLen into levels[j+1]'s items.
  const top = { n, offset };
  const offsetOf = (j: number) => (j === levels.length ? top.offset : levels[j]!.offset);
  const passes: Pass[] = [];
  levels.forEach((lv, j) => {
    const kernel = j === 0 ? 'reduce_steps' : 'reduce_aggs';
    passes.push({ kernel, uniforms: uniforms({ ...base, n: lv.n, block_len: lv.blockLen, blocks: lv.blocks, in_offset: lv.offset, out_offset: offsetOf(j + 1) }), dispatch: grid(workgroups(lv.blocks, kernel)) });
  });
  passes.push({ kernel: 'scan_aggs', uniforms: uniforms({ ...base, n: top.n, block_len: Math.max(top.n, 1), blocks: 1, out_offset: top.offset }), dispatch: grid(workgroups(1, 'scan_aggs')) });
  for (let j = levels.length - 1; j >= 0; j--) {
    const lv = levels[j]!;
    const kernel = j === 0 ? 'scan_steps' : 'scan_aggs';
    passes.push({ kernel, uniforms: uniforms({ ...base, n: lv.n, block_len: lv.blockLen, blocks: lv.blocks, in_offset: offsetOf(j + 1), out_offset: lv.offset, carry_in: 1 }), dispatch: grid(workgroups(lv.blocks, kernel)) });
  }
  return { strategy, passes, aggElements: top.offset + top.n * lanes, levels: [...levels.slice(1).map((l) => l.n), top.n] };
}

/**
 * Whether the chained pass can run T steps of `lanes` sequence lanes: vec4-aligned ranges, a grid
 * within the per-axis limit, and step indices that stay within a u32 past the last range's end.
 */
export function chainedRuns(lanes: number, T: number): boolean {
  return T >= 4 && T % 4 === 0 && T <= 2 ** 31 && lanes <= 65_535 && Math.ceil(T / (CHAIN_MAX_STEPS * CHAIN_WORKGROUP)) <= 65_535;
}

export { threadsOf };
