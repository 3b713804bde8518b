// How a reduction over an index becomes code: unrolled at or below UNROLL_MAX terms, a `for` loop
// above it. Unrolling repeats the term's code once per index value, and lavapipe's compile time
// grows faster than linearly with shader size (minmax's 4×4 (max, min) combine, unrolled at every
// call site, took ~100 s to compile cold); a loop keeps a kernel's size independent of dim sizes.
// Unrolling 4 terms or fewer keeps the short sums of the examples straight-line code.
export const UNROLL_MAX = 4;

/** Whether a reduction (or any per-point evaluation) over `terms` points is unrolled rather than looped. */
export const unrolls = (terms: number): boolean => terms <= UNROLL_MAX;
