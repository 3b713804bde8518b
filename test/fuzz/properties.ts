// The fuzzer's properties, as functions that return the problems they find (an empty list is a
// pass), shared by the vitest sample (fuzz.test.ts, fuzz.gpu.test.ts) and `npm run fuzz`. Nothing
// here imports a backend: the front-end properties hold whatever state the backends are in.
import { frontEnd, type FrontEndResult } from '../../src/driver/front-end.js';
import { codes } from '../../src/compiler/diagnostics/codes.js';
import { renderDiagnostics, SourceFile } from '../../src/compiler/diagnostics/render.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import type { Span } from '../../src/compiler/syntax/ast.js';
import type { GeneratedCell } from './generate.js';

/**
 * Random float32 triples per combine in the analysis's law check (the exact check still runs 20).
 * The default (200) costs ~97% of a generated cell's front end; every generated combine is lawful by
 * construction and the fuzzer is after crashes and invalid kernels, so a few triples keep the check
 * running at a fraction of the cost (0 skips it, as the CI sample does for most cases).
 */
export const FUZZ_LAW_TRIPLES = 4;

export interface Problem {
  /** A short class, the key failures are counted by: `front-end: throws`, `tint: scan`, ... */
  kind: string;
  message: string;
}

const spanInside = (s: Span, length: number) =>
  Number.isInteger(s.start) && Number.isInteger(s.end) && 0 <= s.start && s.start <= s.end && s.end <= length && (length === 0 || s.start < length);

/**
 * Property (a): the front end answers any text with diagnostics, never an exception; each diagnostic
 * has a known code that is not an internal error, and a span inside the file; the IR of a clean file
 * passes the IR verifier; the diagnostics render.
 */
export function frontEndProblems(text: string, lawTriples = FUZZ_LAW_TRIPLES): { problems: Problem[]; result?: FrontEndResult } {
  let result: FrontEndResult;
  try {
    result = frontEnd(text, { lawTriples });
  } catch (e) {
    return { problems: [{ kind: 'front-end: throws', message: e instanceof Error ? (e.stack ?? e.message) : String(e) }] };
  }
  const problems: Problem[] = [];
  for (const d of result.diagnostics) {
    const where = `${d.code} at ${d.span.start}-${d.span.end} of ${text.length}: ${d.message}`;
    if (!(d.code in codes)) problems.push({ kind: 'front-end: unknown code', message: where });
    else if (d.code === 'RNN0901') problems.push({ kind: 'front-end: internal error', message: where });
    if (!spanInside(d.span, text.length)) problems.push({ kind: 'front-end: span outside the file', message: where });
    for (const l of d.labels) if (!spanInside(l.span, text.length)) problems.push({ kind: 'front-end: label outside the file', message: `${where} (label ${l.span.start}-${l.span.end})` });
  }
  const errors = result.diagnostics.some((d) => d.severity === 'error');
  if (errors === (result.module !== undefined)) problems.push({ kind: 'front-end: module with errors', message: `errors: ${errors}, module: ${result.module !== undefined}` });
  if (result.module) for (const p of verifyModule(result.module)) problems.push({ kind: 'front-end: invalid IR', message: p });
  try {
    renderDiagnostics(result.diagnostics, new SourceFile('fuzz.rnn', text), { color: false });
  } catch (e) {
    problems.push({ kind: 'front-end: render throws', message: e instanceof Error ? e.message : String(e) });
  }
  return { problems, result };
}

export interface CheckedCell {
  module: Module;
  analysis: Analysis;
  sizes: DimSizes;
}

/** Property (b): a generated cell checks clean (warnings allowed), with the module, analysis and sizes the backends take. */
export function cellProblems(cell: GeneratedCell, lawTriples = FUZZ_LAW_TRIPLES): { problems: Problem[]; checked?: CheckedCell } {
  const { problems, result } = frontEndProblems(cell.text, lawTriples);
  if (problems.length > 0 || !result) return { problems };
  const errors = result.diagnostics.filter((d) => d.severity === 'error');
  if (errors.length > 0 || !result.module || !result.analysis) {
    const text = renderDiagnostics(errors, new SourceFile('cell.rnn', cell.text), { color: false });
    return { problems: [{ kind: `not clean: ${[...new Set(errors.map((e) => e.code))].join(' ')}`, message: text }] };
  }
  return { problems: [], checked: { module: result.module, analysis: result.analysis, sizes: bindDims(result.module, cell.dimSizes) } };
}
