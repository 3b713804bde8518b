// A diagnostic: code, severity, message, primary span, labelled secondary spans and notes.
// Positions stay as offsets until rendering (see render.ts).
import type { Span } from '../syntax/ast.js';
import { codes, formatMessage, type Code, type Severity } from './codes.js';

export interface Label {
  span: Span;
  message: string;
}

export interface Diagnostic {
  code: Code;
  severity: Severity;
  message: string;
  span: Span;
  labels: Label[];
  notes: string[];
}

export function diagnostic(
  code: Code,
  span: Span,
  args: Record<string, string | number> = {},
  extra: { labels?: Label[]; notes?: string[] } = {},
): Diagnostic {
  return {
    code,
    severity: codes[code].severity,
    message: formatMessage(code, args),
    span,
    labels: extra.labels ?? [],
    notes: extra.notes ?? [],
  };
}

export const hasErrors = (ds: readonly Diagnostic[]): boolean => ds.some((d) => d.severity === 'error');

/** Sorts by position so output does not depend on which phase found what first. */
export function sortDiagnostics(ds: Diagnostic[]): Diagnostic[] {
  return [...ds].sort((a, b) => a.span.start - b.span.start || a.code.localeCompare(b.code));
}

/** Edit distance counting a swap of two neighbours as one edit (`gaet` → `gate`); for "did you mean". */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i]![j] = Math.min(d[i]![j]!, d[i - 2]![j - 2]! + 1);
    }
  }
  return d[a.length]![b.length]!;
}

/** The nearest candidate within a distance that scales with the name's length, if any. */
export function nearest(name: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Math.max(1, Math.floor(name.length / 3)) + 1;
  for (const candidate of [...candidates].sort()) {
    const d = candidate.toLowerCase() === name.toLowerCase() ? 0.5 : editDistance(name, candidate);
    // Replacing every character is no suggestion: `z` is not a typo of `g`.
    if (d >= name.length) continue;
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  return best;
}

export function didYouMean(name: string, candidates: Iterable<string>): string[] {
  const best = nearest(name, candidates);
  return best === undefined ? [] : [`did you mean \`${best}\`?`];
}
