// f32 <-> f16 bits (src/compiler/plan/half.ts): round to nearest even, subnormals, overflow to
// infinity, NaN, signed zeros; checked against the definition (the nearest of the two f16 neighbours,
// ties to the even one) on every f16 and on f32 values between and around them.
import { describe, expect, it } from 'vitest';
import { F16_MAX, fromHalf, halfFromFloatBits, packHalf, roundHalf, roundToHalf, toHalf, unpackHalf } from '../../src/compiler/plan/half.js';

const f32bits = (x: number) => new Uint32Array(new Float32Array([x]).buffer)[0]!;

/** The f16 nearest a finite float32 by the definition: the two f16 neighbours, the nearer, ties to an even significand. */
function nearestByDefinition(x: number): number {
  const sign = x < 0 || Object.is(x, -0) ? 0x8000 : 0;
  const a = Math.abs(x);
  // Largest finite f16 plus half an ulp (2^4 = 16 past 65504 is the tie with infinity, which rounds to it: 65520).
  if (a >= 65520) return sign | 0x7c00;
  // The largest finite f16 at or below a (binary search: f16 bits order like their values).
  let [lo, hi] = [0, 0x7bff];
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (fromHalf(mid) <= a) lo = mid;
    else hi = mid - 1;
  }
  if (fromHalf(lo) === a) return sign | lo;
  const [dl, dh] = [a - fromHalf(lo), fromHalf(lo + 1) - a];
  return sign | (dl < dh ? lo : dh < dl ? lo + 1 : lo % 2 === 0 ? lo : lo + 1);
}

describe('f16 bits', () => {
  it('round-trips every f16 (NaNs stay NaN)', () => {
    const wrong: number[] = [];
    for (let h = 0; h < 65536; h++) {
      const v = fromHalf(h);
      const ok = Number.isNaN(v) ? (h & 0x7c00) === 0x7c00 && (h & 0x3ff) !== 0 && Number.isNaN(fromHalf(toHalf(v))) : toHalf(v) === h;
      if (!ok) wrong.push(h);
    }
    expect(wrong).toEqual([]);
  });

  it('has the known values', () => {
    expect(toHalf(1)).toBe(0x3c00);
    expect(toHalf(-2)).toBe(0xc000);
    expect(toHalf(F16_MAX)).toBe(0x7bff);
    expect(toHalf(65519.99)).toBe(0x7bff);
    expect(toHalf(65520)).toBe(0x7c00); // the tie with the next binade rounds to even: infinity
    expect(toHalf(1e6)).toBe(0x7c00);
    expect(toHalf(-Infinity)).toBe(0xfc00);
    expect(toHalf(-0)).toBe(0x8000);
    expect(toHalf(2 ** -24)).toBe(0x0001); // the smallest subnormal
    expect(toHalf(2 ** -25)).toBe(0x0000); // half of it: a tie, to even (zero)
    expect(toHalf(1.5 * 2 ** -25)).toBe(0x0001);
    expect(toHalf(3 * 2 ** -25)).toBe(0x0002); // 1.5 ulps: a tie, to even (2)
    expect(toHalf(2 ** -14)).toBe(0x0400); // the smallest normal
    expect(toHalf(2 ** -14 - 2 ** -25)).toBe(0x0400); // the largest subnormal plus half an ulp: a tie, to even, which carries into the exponent
    expect(toHalf(1 + 2 ** -11)).toBe(0x3c00); // tie, to even
    expect(toHalf(1 + 3 * 2 ** -11)).toBe(0x3c02); // tie, to even
    expect(toHalf(1 + 2 ** -11 + 2 ** -20)).toBe(0x3c01); // just past the tie
    expect(Number.isNaN(fromHalf(toHalf(NaN)))).toBe(true);
    expect(fromHalf(0x7c00)).toBe(Infinity);
    expect(fromHalf(0x0001)).toBe(2 ** -24);
  });

  it('rounds float32 values to the nearest f16 as defined (ties to even), around every binade and at random', () => {
    const values: number[] = [];
    for (let e = -26; e <= 16; e++) for (const m of [1, 1 + 2 ** -11, 1 + 2 ** -10 + 2 ** -11, 1.999, 1 + 2 ** -12, 1.3333]) values.push(m * 2 ** e, -m * 2 ** e);
    let seed = 12345;
    const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    for (let i = 0; i < 300; i++) values.push((rand() - 0.5) * 2 ** Math.floor(rand() * 44 - 26));
    const wrong = values.map(Math.fround).filter((v) => halfFromFloatBits(f32bits(v)) !== nearestByDefinition(v));
    expect(wrong).toEqual([]);
  });

  it('packs and unpacks arrays, and rounds them', () => {
    const a = new Float32Array([0.1, -3.25, 70000, 1e-9, 2 ** -20]);
    const bits = packHalf(a);
    expect(Array.from(bits)).toEqual(Array.from(a, (x) => toHalf(x)));
    expect(Array.from(unpackHalf(bits))).toEqual(Array.from(a, (x) => roundHalf(x)));
    expect(Array.from(roundToHalf(a))).toEqual(Array.from(unpackHalf(bits)));
    expect(roundToHalf(a)[2]).toBe(Infinity);
    // A view with an offset reads its own elements.
    expect(Array.from(packHalf(a.subarray(1, 3)))).toEqual(Array.from(bits.subarray(1, 3)));
  });
});
