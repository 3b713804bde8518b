// The chunk backend's entry points: a module to its three passes (emit.ts), and a run backend that
// packs a run into the sequential kernel's buffers (the passes share its layout, so `rnnc run`'s
// packing, limits and decoding apply unchanged) plus the scratch buffers `agg` and `carry`.
import type { Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { emitSeq, type SeqKernel } from '../wgsl-seq/emit.js';
import { bufferElements } from '../wgsl-seq/layout.js';
import { packRun, unpackRun } from '../wgsl-seq/pack.js';
import type { GpuJob } from '../job.js';
import { gridDispatch } from '../lower/grid.js';
import type { PreparedRun, RunSize } from '../backend.js';
import { chunkBindings, chunkPasses, CARRY_WORKGROUP, emitChunkPasses, type ChunkGeometry, type ChunkPass, type ChunkPassKernel } from './emit.js';
import { emitWyPasses, wyLayout, WY_ROWS } from './wy.js';
import type { KernelLayout } from '../wgsl-seq/layout.js';
import { chunkShape, ChunkUnsupported, type ChunkShape } from './shape.js';

export { ChunkUnsupported, chunkShape, type ChunkShape } from './shape.js';
export { chunkPasses, type ChunkPass } from './emit.js';

/** Steps per chunk unless asked otherwise; see docs/chunk-bench.md for the measurements behind it. */
export const DEFAULT_CHUNK = 32;
/** Workgroup memory the passes may use (WebGPU's guaranteed 16 KiB), in floats. */
const SHARED_FLOATS = 4096;

export interface ChunkOptions {
  /** Steps per chunk (default DEFAULT_CHUNK); lowered when the chunk's transitions would not fit in workgroup memory. */
  chunk?: number;
  /** The cell's analysis (computed here when absent: tests and scripts). */
  analysis?: Analysis;
  /** WY form: replay the chunks in the carry pass ('fused', the default) or in a parallel steps pass. */
  replay?: 'fused' | 'parallel';
}

export interface ChunkKernels {
  shape: ChunkShape;
  geometry: ChunkGeometry;
  /** The passes, run in chunkPasses order; the WY form's fused replay has no steps pass (passesOf). */
  passes: Partial<Record<ChunkPass, ChunkPassKernel>>;
  /** The sequential kernel whose buffer layout the passes share (and which a caller may compare against). */
  seq: SeqKernel;
}

const nextPow2 = (n: number) => 2 ** Math.ceil(Math.log2(Math.max(1, n)));

/** Most steps per chunk in WY form (the a's of a chunk, C·n floats, are private to an invocation). */
export const MAX_WY_CHUNK = 128;
/** Largest mixed dim in WY form (a state row, K floats, is private to an invocation). */
export const MAX_WY_K = 1024;

/**
 * Chunk size and workgroup size. WY form: nothing per row in workgroup memory, so only private-array
 * bounds (C ≤ MAX_WY_CHUNK and C·n ≤ 512, K ≤ MAX_WY_K). Dense form: C·K² transition floats plus
 * R·K state floats must fit in workgroup memory.
 */
export function chunkGeometry(shape: ChunkShape, requested = DEFAULT_CHUNK): ChunkGeometry {
  const { K, R } = shape;
  if (shape.form === 'wy') {
    if (K > MAX_WY_K) throw new ChunkUnsupported(`K=${K} exceeds ${MAX_WY_K}, the largest state row one invocation holds`);
    const n = shape.wy!.plan.u.length + shape.wy!.plan.offset.z.length;
    // Carry and steps: a workgroup per block of rows of one sequence (at most WY_ROWS rows).
    return { C: Math.max(1, Math.min(requested, MAX_WY_CHUNK, Math.floor(512 / n))), workgroupSize: Math.min(WY_ROWS, nextPow2(R)) };
  }
  const why = shape.whyNotWy ? ` (the WY form does not apply: ${shape.whyNotWy})` : '';
  if (R + K > 256) throw new ChunkUnsupported(`${R} rows + K=${K} exceed 256 invocations per workgroup${why}`);
  const fit = Math.floor((SHARED_FLOATS - R * K) / (K * K));
  if (fit < 1) throw new ChunkUnsupported(`one ${K}×${K} transition and ${R}×${K} state do not fit in ${SHARED_FLOATS} floats of workgroup memory${why}`);
  return { C: Math.max(1, Math.min(requested, fit)), workgroupSize: Math.min(256, Math.max(64, nextPow2(R + K))) };
}

export function compileChunk(module: Module, sizes: DimSizes, options: ChunkOptions = {}): ChunkKernels {
  const shape = chunkShape(module, sizes, options.analysis);
  const geometry = { ...chunkGeometry(shape, options.chunk), ...(options.replay === 'parallel' && shape.form === 'wy' ? { replay: 'parallel' as const } : {}) };
  const seq = emitSeq(module, sizes);
  return { shape, geometry, passes: emitPasses(shape, sizes, seq.layout, geometry), seq };
}

/** The passes a compiled cell runs, in order. */
export const passesOf = (k: { passes: Partial<Record<ChunkPass, ChunkPassKernel>> }): ChunkPass[] => chunkPasses.filter((p) => k.passes[p] !== undefined);

/** The passes in the shape's form. */
export function emitPasses(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry): Partial<Record<ChunkPass, ChunkPassKernel>> {
  return shape.form === 'wy' ? emitWyPasses(shape, sizes, layout, g) : emitChunkPasses(shape, sizes, layout, g);
}

/** Floats of the scratch buffers per (sequence, chunk). Dense: R contribution rows and K aggregate rows; the R carried rows. WY: wy.ts's layout. */
export function chunkScratchFloats(k: Pick<ChunkKernels, 'shape' | 'geometry'>): { agg: number; carry: number } {
  if (k.shape.form === 'wy') {
    const l = wyLayout(k.shape, k.geometry.C, k.geometry.replay !== 'parallel');
    return { agg: l.agg.size, carry: l.carry.size };
  }
  return { agg: (k.shape.R + k.shape.K) * k.shape.K, carry: k.shape.R * k.shape.K };
}

/**
 * Workgroups of each pass: ceil(batch · (chunks if perChunk) · factor / divide). Dense: a workgroup
 * per (sequence, chunk), the carry one invocation per (sequence, row). WY: the carry and steps passes
 * take a block of rows of one sequence per workgroup (so what the rows share has one address).
 */
export interface PassGroups {
  perChunk: boolean;
  factor: number;
  divide: number;
}

export function passGroups(k: Pick<ChunkKernels, 'shape' | 'geometry'>): Record<ChunkPass, PassGroups> {
  const chunk = { perChunk: true, factor: 1, divide: 1 };
  if (k.shape.form === 'wy') {
    const blocks = Math.ceil(k.shape.R / k.geometry.workgroupSize);
    return { aggregate: chunk, carry: { perChunk: false, factor: blocks, divide: 1 }, steps: { perChunk: true, factor: blocks, divide: 1 } };
  }
  return { aggregate: chunk, carry: { perChunk: false, factor: k.shape.R, divide: CARRY_WORKGROUP }, steps: chunk };
}

/** The workgroup count of a pass as text over `batch` and `chunks`, in the host language's ceil. */
export function passGroupsText(g: PassGroups, ceil: string): string {
  const count = ['batch', ...(g.perChunk ? ['chunks'] : []), ...(g.factor > 1 ? [String(g.factor)] : [])].join(' * ');
  return g.divide > 1 ? `${ceil}((${count}) / ${g.divide})` : count;
}

export const chunksOf = (k: ChunkKernels, T: number) => Math.max(1, Math.ceil(T / k.geometry.C));

export function chunkDispatches(k: ChunkKernels, batch: number, T: number): Partial<Record<ChunkPass, [number, number, number]>> {
  const chunks = chunksOf(k, T);
  const groups = passGroups(k);
  return Object.fromEntries(passesOf(k).map((p) => [p, gridDispatch(Math.ceil((batch * (groups[p].perChunk ? chunks : 1) * groups[p].factor) / groups[p].divide))])) as Record<ChunkPass, [number, number, number]>;
}

/** Compiled chunk kernels at one run size: the passes over the seq kernel's buffers, plus `agg` and (unless empty) `carry`. */
export function prepareChunk(module: Module, k: ChunkKernels, { batch, T }: RunSize): PreparedRun {
  const chunks = chunksOf(k, T);
  const passes = passesOf(k);
  const labels = Object.fromEntries(passes.map((p) => [p, `${module.name}.chunk.${p}`])) as Record<ChunkPass, string>;
  const per = chunkScratchFloats(k);
  const scratch = { agg: 4 * batch * chunks * per.agg, carry: 4 * batch * chunks * per.carry };
  const dispatch = chunkDispatches(k, batch, T);
  const seqBuffers = k.seq.layout.buffers;
  return {
    mode: 'chunk',
    shaders: Object.fromEntries(passes.map((p) => [labels[p], k.passes[p]!.code])),
    footprint: [
      { buffer: 'params', usage: 'uniform', bytes: 16, tensors: [] },
      ...seqBuffers.map((b) => ({ buffer: b.role, usage: b.usage, bytes: 4 * bufferElements(b, batch, T), tensors: [] })),
      { buffer: 'agg', usage: 'storage', bytes: scratch.agg, tensors: [{ name: 'chunk aggregates', shape: ['batch', 'T'], bytes: scratch.agg }] },
      ...(scratch.carry ? [{ buffer: 'carry', usage: 'storage' as const, bytes: scratch.carry, tensors: [{ name: 'carried states', shape: ['batch', 'T'], bytes: scratch.carry }] }] : []),
    ],
    dispatches: passes.map((p) => ({ label: labels[p], workgroups: dispatch[p]!, scaledBy: ['--batch', '--T'] })),
    job(data): GpuJob {
      const packed = packRun(module, k.seq, data);
      const buffers = packed.buffers.map((b) => (b.name === 'params' ? { ...b, data: new Uint32Array([batch, T, chunks, 0]).buffer } : b));
      buffers.push({ name: 'agg', usage: 'storage', bytes: scratch.agg });
      if (scratch.carry) buffers.push({ name: 'carry', usage: 'storage', bytes: scratch.carry });
      return {
        shaders: passes.map((p) => ({ label: labels[p], code: k.passes[p]!.code, entryPoint: 'main' })),
        buffers,
        passes: passes.map((p) => ({ shader: labels[p], label: labels[p], bindings: k.passes[p]!.buffers.map((name) => ({ binding: chunkBindings[name], buffer: name })), dispatch: dispatch[p]! })),
      };
    },
    decode: (buffers) => unpackRun(k.seq, batch, T, buffers),
  };
}
