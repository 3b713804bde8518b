// How a sequential kernel's tensors are packed into buffers. WebGPU guarantees only 8 storage
// buffers per stage, and an LSTM has 12 params, so each role shares one buffer: tensor k of a role
// is a row-major region starting at `offset.elements * scale`, where scale is 1 (params),
// batch (states) or batch*T (per-step inputs and outputs). The manifest, the generated host module
// and `rnnc run` all pack and unpack through this description.
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import type { BufferFootprint } from '../backend.js';

export type BufferRole = 'inputs' | 'weights' | 'state_in' | 'lengths' | 'outputs' | 'state_out';
export type OffsetScale = '1' | 'batch' | 'batch*T';

export interface Region {
  tensor: string;
  /** Dim names of one element (one step, one sequence); the full shape prefixes [batch, T] or [batch]. */
  dims: string[];
  /** Elements of one step of one sequence. */
  size: number;
  offset: { elements: number; scale: OffsetScale };
}

export interface BufferLayout {
  role: BufferRole;
  binding: number;
  usage: 'storage-read' | 'storage';
  /** Per-sequence (or per-step) element count of the whole buffer: total = perUnit * scale. */
  perUnit: number;
  scale: OffsetScale;
  elementType: 'f32' | 'u32';
  regions: Region[];
}

export interface KernelLayout {
  /** binding 0: the uniform `Params { batch: u32, T: u32 }`. */
  uniformBinding: 0;
  buffers: BufferLayout[];
}

function regions(names: { name: string; dims: string[] }[], sizes: DimSizes, scale: OffsetScale): { regions: Region[]; perUnit: number } {
  let at = 0;
  const out = names.map((t) => {
    const size = t.dims.reduce((n, d) => n * sizes[d]!, 1);
    const r: Region = { tensor: t.name, dims: t.dims, size, offset: { elements: at, scale } };
    at += size;
    return r;
  });
  return { regions: out, perUnit: at };
}

/**
 * The layout for a module: `weightNames` are the params the kernel reads (a param used only as a
 * state's initial value is folded into state_in by the host). Empty roles get no binding.
 */
export function kernelLayout(m: Module, sizes: DimSizes, weightNames: string[]): KernelLayout {
  const states = tensorsOf(m, 'state');
  const roles: { role: BufferRole; usage: BufferLayout['usage']; scale: OffsetScale; tensors: { name: string; dims: string[] }[]; elementType?: 'u32' }[] = [
    { role: 'inputs', usage: 'storage-read', scale: 'batch*T', tensors: tensorsOf(m, 'input') },
    { role: 'weights', usage: 'storage-read', scale: '1', tensors: tensorsOf(m, 'param').filter((p) => weightNames.includes(p.name)) },
    { role: 'state_in', usage: 'storage-read', scale: 'batch', tensors: states },
    { role: 'lengths', usage: 'storage-read', scale: 'batch', tensors: [{ name: 'lengths', dims: [] }], elementType: 'u32' },
    { role: 'outputs', usage: 'storage', scale: 'batch*T', tensors: tensorsOf(m, 'output') },
    { role: 'state_out', usage: 'storage', scale: 'batch', tensors: states },
  ];
  const buffers: BufferLayout[] = [];
  let binding = 1;
  for (const r of roles) {
    const { regions: rs, perUnit } = regions(r.tensors, sizes, r.scale);
    if (perUnit === 0) continue;
    buffers.push({ role: r.role, binding: binding++, usage: r.usage, perUnit, scale: r.scale, elementType: r.elementType ?? 'f32', regions: rs });
  }
  return { uniformBinding: 0, buffers };
}

/**
 * With f16 storage (the plan's precision), the roles held as f16, and the WGSL globals that read them
 * (the vec4 views included): inputs, params and outputs; states, lengths and scratch stay f32/u32.
 */
export const HALF_ROLES: ReadonlySet<string> = new Set<BufferRole>(['inputs', 'weights', 'outputs']);
export const HALF_GLOBALS: ReadonlySet<string> = new Set([...HALF_ROLES, 'inputs4', 'weights4']);

export const scaleValue = (scale: OffsetScale, batch: number, T: number): number => (scale === '1' ? 1 : scale === 'batch' ? batch : batch * T);

/** Elements of a buffer for a given batch and sequence length. */
export const bufferElements = (b: BufferLayout, batch: number, T: number): number => b.perUnit * scaleValue(b.scale, batch, T);

/**
 * A buffer's entry in a run's footprint: its bytes and each tensor's, with shapes named by `prefix`
 * per scale (the sequential kernel's [batch, T, ...]; the wavefront's [batch, H, W, ...]).
 */
export function bufferFootprint(b: BufferLayout, batch: number, T: number, prefix: Record<OffsetScale, string[]>): BufferFootprint {
  return {
    buffer: b.role,
    usage: b.usage,
    bytes: 4 * bufferElements(b, batch, T),
    tensors: b.regions.map((r) => ({ name: r.tensor, shape: [...prefix[b.scale], ...r.dims], bytes: 4 * r.size * scaleValue(b.scale, batch, T) })),
  };
}
