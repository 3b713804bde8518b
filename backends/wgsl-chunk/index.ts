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

/** Chunk size and workgroup size: C·K² transition floats plus R·K state floats must fit in workgroup memory. */
export function chunkGeometry(shape: ChunkShape, requested = DEFAULT_CHUNK): ChunkGeometry {
  const { K, R } = shape;
  if (R + K > 256) throw new ChunkUnsupported(`${R} rows + K=${K} exceed 256 invocations per workgroup`);
  const fit = Math.floor((SHARED_FLOATS - R * K) / (K * K));
  if (fit < 1) throw new ChunkUnsupported(`one ${K}×${K} transition and ${R}×${K} state do not fit in ${SHARED_FLOATS} floats of workgroup memory`);
  return { C: Math.max(1, Math.min(requested, fit)), workgroupSize: Math.min(256, Math.max(64, nextPow2(R + K))) };
}

export function compileChunk(module: Module, sizes: DimSizes, options: ChunkOptions = {}): ChunkKernels {
  const shape = chunkShape(module, sizes, options.analysis);
  const geometry = chunkGeometry(shape, options.chunk);
  const seq = emitSeq(module, sizes);
  return { shape, geometry, passes: emitChunkPasses(shape, sizes, seq.layout, geometry), seq };
}

export const chunksOf = (k: ChunkKernels, T: number) => Math.max(1, Math.ceil(T / k.geometry.C));

export function chunkDispatches(k: ChunkKernels, batch: number, T: number): Record<ChunkPass, [number, number, number]> {
  const groups = batch * chunksOf(k, T);
  return { aggregate: gridDispatch(groups), carry: gridDispatch(Math.ceil((batch * k.shape.R) / CARRY_WORKGROUP)), steps: gridDispatch(groups) };
}

/** Compiled chunk kernels at one run size: three passes over the seq kernel's buffers, plus `agg` and `carry`. */
export function prepareChunk(module: Module, k: ChunkKernels, { batch, T }: RunSize): PreparedRun {
  const { K, R } = k.shape;
  const chunks = chunksOf(k, T);
  const labels = Object.fromEntries(chunkPasses.map((p) => [p, `${module.name}.chunk.${p}`])) as Record<ChunkPass, string>;
  const scratch = { agg: 4 * batch * chunks * (R + K) * K, carry: 4 * batch * chunks * R * K };
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
