// IEEE binary16 (f16) bits from and to float32, for the f16 storage precision (precision.ts): the host
// packs inputs and params as f16 before upload and widens f16 outputs after read-back, and .npy '<f2'
// files carry the same bits. Node 20 has neither Float16Array nor Math.f16round, so f16 data lives in
// Uint16Arrays; where the runtime has Float16Array, `new Float16Array(bits.buffer)` views the same bits.
//
// float32 → f16 rounds to nearest, ties to even, straight from the float32 bits (one rounding: the
// data is float32 already); values past the largest f16 (65504) become ±inf, values below half the
// smallest subnormal (2^-25) ±0, NaN stays NaN (quiet, its top payload bits kept).

/** The largest finite f16, 65504. */
export const F16_MAX = 65504;
/** Half an f16 ulp relative to the value: the relative error of rounding a normal value to f16. */
export const F16_UNIT_ROUNDOFF = 2 ** -11;

const scratchF32 = new Float32Array(1);
const scratchU32 = new Uint32Array(scratchF32.buffer);

/** The f16 bits nearest a float32's bits (round to nearest, ties to even). */
export function halfFromFloatBits(b: number): number {
  const sign = (b >>> 16) & 0x8000;
  const exp = (b >>> 23) & 0xff;
  let mant = b & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant !== 0 ? 0x200 | (mant >>> 13) : 0);
  const e = exp - 112; // the f16 biased exponent: exp - 127 + 15
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // An f16 subnormal (or zero): the significand with its implicit bit, shifted to units of 2^-24.
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    let h = mant >>> shift;
    const rest = mant & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rest > half || (rest === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (mant >>> 13);
  const rest = mant & 0x1fff;
  // A carry out of the significand steps the exponent, up to infinity: both are the right rounding.
  if (rest > 0x1000 || (rest === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** The f16 bits nearest a number (first rounded to float32). */
export function toHalf(x: number): number {
  scratchF32[0] = x;
  return halfFromFloatBits(scratchU32[0]!);
}

/** The value of f16 bits (exact in float32 and float64). */
export function fromHalf(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >>> 10) & 0x1f;
  const mant = h & 0x3ff;
  if (exp === 0) return sign * mant * 2 ** -24;
  if (exp === 0x1f) return mant !== 0 ? NaN : sign * Infinity;
  return sign * (1024 + mant) * 2 ** (exp - 25);
}

/** A number rounded to the nearest f16 (first rounded to float32), as a number. */
export const roundHalf = (x: number): number => fromHalf(toHalf(x));

let table: Float32Array | undefined;
/** Every f16's value, by its bits (256 KiB, built once): widening is one lookup per element. */
function halfTable(): Float32Array {
  if (!table) {
    table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) table[h] = fromHalf(h);
  }
  return table;
}

/** float32 values to f16 bits; `into` (default a new array) must hold `src.length` elements. */
export function packHalf(src: Float32Array, into: Uint16Array = new Uint16Array(src.length)): Uint16Array {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) into[i] = halfFromFloatBits(bits[i]!);
  return into;
}

/** f16 bits to float32 values (exact). */
export function unpackHalf(src: Uint16Array, into: Float32Array = new Float32Array(src.length)): Float32Array {
  const t = halfTable();
  for (let i = 0; i < src.length; i++) into[i] = t[src[i]!]!;
  return into;
}

/** float32 values rounded to the nearest f16, still as float32 (what a kernel with f16 storage reads). */
export function roundToHalf(src: Float32Array): Float32Array {
  const t = halfTable();
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  const out = new Float32Array(src.length);
  for (let i = 0; i < bits.length; i++) out[i] = t[halfFromFloatBits(bits[i]!)]!;
  return out;
}
