// The staged backward's rest every step on its own (src/driver/grad.ts): each step's final states are
// its terms of the params' sums, and runSegmented hands them back in pieces of steps that need not
// start or end with a sequence. addSteps adds a piece into its sequences' sums.
import { describe, expect, it } from 'vitest';
import { addSteps } from '../../src/driver/grad.js';

describe('addSteps', () => {
  it('adds each row of a piece into the sum of the sequence it is a step of, across sequence boundaries', () => {
    // batch 3, T 4, n 2: row r = (sequence ⌊r / 4⌋, step r % 4) holds [r, 100 r].
    const T = 4;
    const n = 2;
    const rows = Array.from({ length: 12 }, (_, r) => [r, 100 * r]);
    const out = new Float64Array(3 * n);
    // Pieces of 5 rows: 0-4 (ends one step into sequence 1), 5-9, 10-11.
    for (const first of [0, 5, 10]) addSteps(out, Float32Array.from(rows.slice(first, first + 5).flat()), first, T, n);
    const want = [0, 1, 2].flatMap((b) => [0, 1, 2, 3].reduce((s, t) => [s[0]! + b * T + t, s[1]! + 100 * (b * T + t)], [0, 0]));
    expect(Array.from(out)).toEqual(want);
  });
});
