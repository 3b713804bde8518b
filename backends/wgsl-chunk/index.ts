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
import { emitWyPasses, wyLayout, WY_WORKGROUP } from './wy.js';
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
}

export interface ChunkKernels {
  shape: ChunkShape;
  geometry: ChunkGeometry;
  passes: Record<ChunkPass, ChunkPassKernel>;
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
    return { C: Math.max(1, Math.min(requested, MAX_WY_CHUNK, Math.floor(512 / n))), workgroupSize: WY_WORKGROUP };
  }
  const why = shape.whyNotWy ? ` (the WY form does not apply: ${shape.whyNotWy})` : '';
  if (R + K > 256) throw new ChunkUnsupported(`${R} rows + K=${K} exceed 256 invocations per workgroup${why}`);
  const fit = Math.floor((SHARED_FLOATS - R * K) / (K * K));
  if (fit < 1) throw new ChunkUnsupported(`one ${K}×${K} transition and ${R}×${K} state do not fit in ${SHARED_FLOATS} floats of workgroup memory${why}`);
  return { C: Math.max(1, Math.min(requested, fit)), workgroupSize: Math.min(256, Math.max(64, nextPow2(R + K))) };
}

export function compileChunk(module: Module, sizes: DimSizes, options: ChunkOptions = {}): ChunkKernels {
  const shape = chunkShape(module, sizes, options.analysis);
  const geometry = chunkGeometry(shape, options.chunk);
  const seq = emitSeq(module, sizes);
  return { shape, geometry, passes: emitPasses(shape, sizes, seq.layout, geometry), seq };
}

/** The three passes in the shape's form. */
export function emitPasses(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry): Record<ChunkPass, ChunkPassKernel> {
  return shape.form === 'wy' ? emitWyPasses(shape, sizes, layout, g) : emitChunkPasses(shape, sizes, layout, g);
}

/** Floats of the scratch buffers per (sequence, chunk). Dense: R contribution rows and K aggregate rows; the R carried rows. WY: wy.ts's layout. */
export function chunkScratchFloats(k: Pick<ChunkKernels, 'shape' | 'geometry'>): { agg: number; carry: number } {
  if (k.shape.form === 'wy') {
    const l = wyLayout(k.shape, k.geometry.C);
    return { agg: l.agg.size, carry: l.carry.size };
  }
  return { agg: (k.shape.R + k.shape.K) * k.shape.K, carry: k.shape.R * k.shape.K };
}

/** Invocations per workgroup of the carry pass. */
export const carryWorkgroup = (k: Pick<ChunkKernels, 'shape'>) => (k.shape.form === 'wy' ? WY_WORKGROUP : CARRY_WORKGROUP);

/** Workgroups of each pass, as a count of (batch, chunks) for the host module and manifest: [per sequence-chunk, per sequence-row, per sequence-chunk-row] units and the invocations per workgroup. */
export function passUnits(k: Pick<ChunkKernels, 'shape'>): Record<ChunkPass, { per: 'chunk' | 'row' | 'chunk-row'; workgroup: number }> {
  if (k.shape.form === 'wy') return { aggregate: { per: 'chunk', workgroup: 1 }, carry: { per: 'row', workgroup: WY_WORKGROUP }, steps: { per: 'chunk-row', workgroup: WY_WORKGROUP } };
  return { aggregate: { per: 'chunk', workgroup: 1 }, carry: { per: 'row', workgroup: CARRY_WORKGROUP }, steps: { per: 'chunk', workgroup: 1 } };
}

export const chunksOf = (k: ChunkKernels, T: number) => Math.max(1, Math.ceil(T / k.geometry.C));

export function chunkDispatches(k: ChunkKernels, batch: number, T: number): Record<ChunkPass, [number, number, number]> {
  const chunks = chunksOf(k, T);
  const units = passUnits(k);
  const count = { chunk: batch * chunks, row: batch * k.shape.R, 'chunk-row': batch * chunks * k.shape.R };
  return Object.fromEntries(chunkPasses.map((p) => [p, gridDispatch(Math.ceil(count[units[p].per] / units[p].workgroup))])) as Record<ChunkPass, [number, number, number]>;
}

/** Compiled chunk kernels at one run size: three passes over the seq kernel's buffers, plus `agg` and `carry`. */
export function prepareChunk(module: Module, k: ChunkKernels, { batch, T }: RunSize): PreparedRun {
  const chunks = chunksOf(k, T);
  const labels = Object.fromEntries(chunkPasses.map((p) => [p, `${module.name}.chunk.${p}`])) as Record<ChunkPass, string>;
  const per = chunkScratchFloats(k);
  const scratch = { agg: 4 * batch * chunks * per.agg, carry: 4 * batch * chunks * per.carry };
  const dispatch = chunkDispatches(k, batch, T);
  const seqBuffers = k.seq.layout.buffers;
  return {
    mode: 'chunk',
    shaders: Object.fromEntries(chunkPasses.map((p) => [labels[p], k.passes[p].code])),
    footprint: [
      { buffer: 'params', usage: 'uniform', bytes: 16, tensors: [] },
      ...seqBuffers.map((b) => ({ buffer: b.role, usage: b.usage, bytes: 4 * bufferElements(b, batch, T), tensors: [] })),
      { buffer: 'agg', usage: 'storage', bytes: scratch.agg, tensors: [{ name: 'chunk aggregates', shape: ['batch', 'T'], bytes: scratch.agg }] },
      { buffer: 'carry', usage: 'storage', bytes: scratch.carry, tensors: [{ name: 'carried states', shape: ['batch', 'T'], bytes: scratch.carry }] },
    ],
    dispatches: chunkPasses.map((p) => ({ label: labels[p], workgroups: dispatch[p], scaledBy: ['--batch', '--T'] })),
    job(data): GpuJob {
      const packed = packRun(module, k.seq, data);
      const buffers = packed.buffers.map((b) => (b.name === 'params' ? { ...b, data: new Uint32Array([batch, T, chunks, 0]).buffer } : b));
      buffers.push({ name: 'agg', usage: 'storage', bytes: scratch.agg }, { name: 'carry', usage: 'storage', bytes: scratch.carry });
      return {
        shaders: chunkPasses.map((p) => ({ label: labels[p], code: k.passes[p].code, entryPoint: 'main' })),
        buffers,
        passes: chunkPasses.map((p) => ({ shader: labels[p], label: labels[p], bindings: k.passes[p].buffers.map((name) => ({ binding: chunkBindings[name], buffer: name })), dispatch: dispatch[p] })),
      };
    },
    decode: (buffers) => unpackRun(k.seq, batch, T, buffers),
  };
}
