// The library entry point: source text in, diagnostics and IR out. The CLI and tests go through here.
import { parse } from '../grammar/build-ast.js';
import type { RnnFile } from './ast.js';
import { check } from './check/checker.js';
import type { CheckedFile } from './check/symbols.js';
import { hasErrors, sortDiagnostics, type Diagnostic } from './diagnostics/diagnostic.js';
import type { Module } from './ir/ir.js';
import { lower } from './ir/lower.js';

export interface FrontEndResult {
  ast?: RnnFile;
  checked?: CheckedFile;
  module?: Module;
  diagnostics: Diagnostic[];
}

/** Parse, check and lower one .rnn source. `module` is present exactly when there are no errors. */
export function frontEnd(text: string): FrontEndResult {
  const parsed = parse(text);
  if (!parsed.ast) return { diagnostics: sortDiagnostics(parsed.diagnostics) };
  const { checked, diagnostics } = check(parsed.ast);
  const sorted = sortDiagnostics([...parsed.diagnostics, ...diagnostics]);
  if (hasErrors(sorted)) return { ast: parsed.ast, checked, diagnostics: sorted };
  return { ast: parsed.ast, checked, module: lower(parsed.ast, checked), diagnostics: sorted };
}
