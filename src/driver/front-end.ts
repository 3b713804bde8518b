// The front end as the library offers it: source text in; diagnostics, the IR and its analysis out.
// It is the pipeline (pipeline.ts) run up to `analyse`.
import type { AnalyseOptions } from '../compiler/analyse/analyse.js';
import type { Analysis } from '../compiler/analyse/types.js';
import type { CheckedFile } from '../compiler/check/symbols.js';
import { hasErrors, type Diagnostic } from '../compiler/diagnostics/diagnostic.js';
import { SourceFile } from '../compiler/diagnostics/render.js';
import type { Module } from '../compiler/ir/ir.js';
import type { RnnFile } from '../compiler/syntax/ast.js';
import { runPipeline } from './pipeline.js';

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
 * fail) count, and `analysis` is then still there to show what was inferred. `options` go to the
 * analysis (the fuzzer runs fewer random law checks per cell).
 */
export function frontEnd(text: string | SourceFile, options: AnalyseOptions = {}): FrontEndResult {
  const source = typeof text === 'string' ? new SourceFile('<input>', text) : text;
  const { state } = runPipeline(source, 'analyse', { analyse: options });
  const { ast, checked, module, analysis, diagnostics } = state;
  return {
    diagnostics,
    ...(ast ? { ast } : {}),
    ...(checked ? { checked } : {}),
    ...(analysis ? { analysis } : {}),
    ...(module && analysis && !hasErrors(diagnostics) ? { module } : {}),
  };
}
