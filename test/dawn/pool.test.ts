// The Dawn host's buffer pool (src/runtime/dawn/pool.ts), with stand-in buffers: which free buffer a
// request takes. The host binds and copies the size a job asked for, so a larger buffer serves.
import { describe, expect, it } from 'vitest';
import { BufferPool, poolCap } from '../../src/runtime/dawn/pool.js';

const MiB = 2 ** 20;
const fake = (size: number, usage = 1) => ({ size, usage, label: '', unmap() {}, destroy() {} }) as unknown as GPUBuffer;

describe('BufferPool.take', () => {
  it('takes the exact size first, else from 1 MiB on the smallest free buffer at most 1.25x larger of the same usage', () => {
    const pool = new BufferPool();
    const [a, b, c, d] = [fake(10 * MiB), fake(12 * MiB), fake(13 * MiB), fake(11 * MiB, 2)];
    for (const x of [a, b, c, d]) pool.give(x);
    expect(pool.take(9 * MiB, 1)).toBe(a); // 10 is the smallest of 10, 12 (13 > 9 x 1.25)
    expect(pool.take(11 * MiB, 1)).toBe(b); // 12; 11 MiB of usage 2 is not usage 1
    expect(pool.take(11 * MiB, 2)).toBe(d);
    expect(pool.take(10 * MiB, 1)).toBeUndefined(); // 13 > 10 x 1.25
    expect(pool.take(11 * MiB, 1)).toBe(c); // 13 <= 11 x 1.25
  });
});

describe('BufferPool.take below 1 MiB', () => {
  it('takes only the exact size', () => {
    const pool = new BufferPool();
    const small = fake(1000);
    pool.give(small);
    expect(pool.take(900, 1)).toBeUndefined();
    expect(pool.take(1000, 1)).toBe(small);
  });
});

describe('poolCap', () => {
  it('keeps an eighth of host memory for a software adapter (1 to 4 GiB), 1 GiB for a GPU', () => {
    const GiB = 2 ** 30;
    expect(poolCap(true, 24 * GiB)).toBe(3 * GiB);
    expect(poolCap(true, 4 * GiB)).toBe(GiB);
    expect(poolCap(true, 64 * GiB)).toBe(4 * GiB);
    expect(poolCap(false, 64 * GiB)).toBe(GiB);
  });
});
