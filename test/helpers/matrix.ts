// CI runs a representative part of the biggest test matrices, to stay within its time budget on 2
// cores with a cold shader cache; `RNNC_TEST_MATRIX=full` (npm run test:full) runs all of them.
// What each file keeps in CI is said where it filters.

/** Whether to run every case of every matrix. */
export const FULL_MATRIX = process.env['RNNC_TEST_MATRIX'] === 'full';

/** `all` under RNNC_TEST_MATRIX=full, else the cases `keep` selects (it must select at least one). */
export function ciCases<T>(all: readonly T[], keep: (c: T, index: number) => boolean): T[] {
  if (FULL_MATRIX) return [...all];
  const kept = all.filter(keep);
  if (kept.length === 0) throw new Error('ciCases: the CI selection is empty');
  return kept;
}
