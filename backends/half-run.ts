// f16 storage at the boundary of a GPU job (src/compiler/plan/precision.ts): a backend prepares its
// run as for f32, and this wraps it so that the buffers its kernels hold as f16 (backends/wgsl/half.ts)
// travel as f16. Before upload their float32 data is rounded to f16 bits (round to nearest even);
// after read-back the f16 bits are widened to the float32 arrays the backend's decode expects. The
// run's data, the reference and every caller keep seeing Float32Arrays.
import { packHalf, unpackHalf } from '../src/compiler/plan/half.js';
import type { PreparedRun } from './backend.js';
import { contentsOf, type GpuBufferSpec } from './job.js';

/**
 * Bytes of an f16 buffer of `floats` elements: 2 each, rounded up to 16 so that a storage binding
 * is a multiple of 4 bytes and a `vec4<f16>` view (8 bytes) covers every element.
 */
export const halfBytes = (floats: number): number => Math.max(16, Math.ceil((2 * floats) / 16) * 16);

function floatsOf(data: ArrayBufferView | ArrayBuffer): Float32Array {
  if (data instanceof ArrayBuffer) return new Float32Array(data, 0, data.byteLength >>> 2);
  if (data instanceof Float32Array) return data;
  return new Float32Array(data.buffer, data.byteOffset, data.byteLength >>> 2);
}

/** The f16 form of one buffer of a job (a buffer not in `half` is unchanged). */
function halfBuffer(b: GpuBufferSpec): GpuBufferSpec {
  const floats = Math.ceil(b.bytes / 4);
  const bytes = halfBytes(floats);
  const { parts: _parts, ...rest } = b;
  const data = contentsOf(b);
  if (!data) return { ...rest, bytes };
  const bits = new Uint16Array(bytes / 2);
  packHalf(floatsOf(data), bits);
  return { ...rest, bytes, data: bits };
}

/** `run` with the buffers named in `half` stored as f16 (the kernels in `run.shaders` must already say so). */
export function halfRun(run: PreparedRun, half: ReadonlySet<string>): PreparedRun {
  /** Elements of each f16 buffer the last job read back, for decode. */
  const floats = new Map<string, number>();
  return {
    ...run,
    footprint: run.footprint.map((b) => (half.has(b.buffer) ? { ...b, bytes: halfBytes(Math.ceil(b.bytes / 4)), tensors: b.tensors.map((t) => ({ ...t, bytes: t.bytes / 2 })) } : b)),
    job(data) {
      const job = run.job(data);
      return {
        ...job,
        buffers: job.buffers.map((b) => {
          if (!half.has(b.name)) return b;
          if (b.read) floats.set(b.name, Math.ceil(b.bytes / 4));
          return halfBuffer(b);
        }),
        requiredFeatures: [...new Set([...(job.requiredFeatures ?? []), 'shader-f16' as GPUFeatureName])],
      };
    },
    decode(buffers) {
      const widened: Record<string, ArrayBuffer> = { ...buffers };
      for (const [name, n] of floats) {
        const got = buffers[name];
        if (got) widened[name] = unpackHalf(new Uint16Array(got, 0, n)).buffer as ArrayBuffer;
      }
      return run.decode(widened);
    },
  };
}
