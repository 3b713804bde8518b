// The argument checks and the workgroup grid every generated host module shares, so that each module
// holds only what is its own: its kernels, its layouts and its schedule.
import { gridDispatch, MAX_WORKGROUPS_PER_DIMENSION } from '../../../backends/lower/grid.js';

/** Throws, naming the cell and the array, when `a` does not hold `n` elements. */
export function checkLength(cell: string, name: string, a: ArrayLike<number>, n: number): void {
  if (a.length !== n) throw new Error(`${cell}: ${name} has ${a.length} elements, expected ${n}`);
}

/** Throws unless every count is a positive integer. */
export function checkCounts(cell: string, counts: Record<string, number>): void {
  for (const [name, n] of Object.entries(counts)) if (!(Number.isInteger(n) && n >= 1)) throw new Error(`${cell}: ${name} must be a positive integer, not ${n}`);
}

/** Each sequence's steps: `given` (checked, clamped to T) or T for every one. */
export function sequenceLengths(cell: string, batch: number, T: number, given?: Int32Array): Uint32Array {
  const lengths = new Uint32Array(batch).fill(T);
  if (given) {
    checkLength(cell, 'lengths', given, batch);
    given.forEach((n, b) => {
      if (!(n >= 0)) throw new Error(`${cell}: lengths[${b}] is negative`);
      lengths[b] = Math.min(n, T);
    });
  }
  return lengths;
}

/** `workgroups` as [x, y], at most 65,535 per dimension (the kernels number them x + y·x_count and skip those past the end). */
export function grid(workgroups: number): [number, number] {
  const [x, y] = gridDispatch(Math.max(workgroups, 1));
  if (y > MAX_WORKGROUPS_PER_DIMENSION) throw new Error(`${workgroups} workgroups exceed ${MAX_WORKGROUPS_PER_DIMENSION} x ${MAX_WORKGROUPS_PER_DIMENSION}`);
  return [x, y];
}
