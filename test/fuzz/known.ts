// Failures the fuzzer finds that are known, open bugs outside the front end, each with the regression
// test that pins it (test/fuzz/regressions/NAME.rnn). A failure matching none of these fails the run.
import type { Problem } from './properties.js';

interface KnownBug {
  /** The reproducer's file name in test/fuzz/regressions/, without `.rnn`. */
  regression: string;
  kind: RegExp;
  message: RegExp;
}

export const knownBugs: KnownBug[] = [
];

/** The regression that explains a problem, if it is a known bug. */
export function knownBug(p: Problem): string | undefined {
  return knownBugs.find((b) => b.kind.test(p.kind) && b.message.test(p.message))?.regression;
}
