// The library entry point: source text in, diagnostics and IR out. The CLI and tests go through here.
import { parse } from '../compiler/syntax/build-ast.js';
import type { RnnFile } from '../compiler/syntax/ast.js';
import { check } from '../compiler/check/checker.js';
import type { CheckedFile } from '../compiler/check/symbols.js';
import { hasErrors, sortDiagnostics, type Diagnostic } from '../compiler/diagnostics/diagnostic.js';
import type { Module } from '../compiler/ir/ir.js';
import { lower } from '../compiler/ir/lower.js';
import { analyse } from '../compiler/analyse/analyse.js';
import type { Analysis } from '../compiler/analyse/types.js';

export interface FrontEndResult {
  ast?: RnnFile;
  checked?: CheckedFile;
  module?: Module;
  /** The structure analysis of the lowered module (present whenever lowering ran). */
  analysis?: Analysis;
  diagnostics: Diagnostic[];
}

/**
 * Parse, check, lower and analyse one .rnn source. `module` is present exactly when there are no
 * errors; the analysis's own errors (a declared structure that does not match, a monoid whose laws
 * fail) count, and `analysis` is then still there to show what was inferred.
 */
export function frontEnd(text: string): FrontEndResult {
  const parsed = parse(text);
  if (!parsed.ast) return { diagnostics: sortDiagnostics(parsed.diagnostics) };
  const { checked, diagnostics } = check(parsed.ast);
  const sorted = sortDiagnostics([...parsed.diagnostics, ...diagnostics]);
  if (hasErrors(sorted)) return { ast: parsed.ast, checked, diagnostics: sorted };
  const module = lower(parsed.ast, checked);
  const analysed = analyse(module);
  const all = sortDiagnostics([...sorted, ...analysed.diagnostics]);
  if (hasErrors(all)) return { ast: parsed.ast, checked, analysis: analysed.analysis, diagnostics: all };
  return { ast: parsed.ast, checked, module, analysis: analysed.analysis, diagnostics: all };
}
