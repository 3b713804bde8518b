// f16 storage in the host modules (the `f16-storage` precision): the buffers that hold inputs, params
// and outputs as f16 are packed from the caller's arrays and widened after read-back here, with the
// same rounding and padding as rnnc's own runs (backends/half-run.ts, src/compiler/plan/half.ts).
import { packHalf, unpackHalf } from '../../compiler/plan/half.js';
import { halfBytes } from '../../../backends/half-run.js';

export { halfBytes };

/**
 * The f16 bits of an array: a Float32Array rounded to the nearest f16 (ties to even); an array of
 * 2-byte elements (f16 bits in a Uint16Array, or a Float16Array where the runtime has one) as it is.
 */
export function halfBits(a: Float32Array | Uint16Array): Uint16Array {
  if (a instanceof Float32Array) return packHalf(a);
  if (a.BYTES_PER_ELEMENT !== 2) throw new Error('f16 data must be a Float32Array, or f16 bits in a Uint16Array (or Float16Array)');
  return new Uint16Array(a.buffer, a.byteOffset, a.length);
}

/** An f16 buffer's contents for `n` elements, padded as the kernels' f16 bindings want (halfBytes). */
export const halfArray = (n: number): Uint16Array => new Uint16Array(halfBytes(n) / 2);

/** The first `n` f16 elements of read-back bytes, widened (exactly) to float32. */
export const widenHalf = (bytes: ArrayBuffer, n: number): Float32Array => unpackHalf(new Uint16Array(bytes, 0, n));
