// What the golden files hold for one .rnn file: the analysis as `rnnc check` prints it, the
// analysis's diagnostics, and the scan plan as IR (fields, combine, identity, apply).
import { readFileSync } from 'node:fs';
import { parse } from '../../src/compiler/syntax/build-ast.js';
import { check } from '../../src/compiler/check/checker.js';
import { lower } from '../../src/compiler/ir/lower.js';
import { analyse, type AnalyseResult } from '../../src/compiler/analyse/analyse.js';
import { analysisText } from '../../src/compiler/analyse/report.js';
import { analyseGrid, gridAnalysisText } from '../../src/compiler/analyse/grid.js';
import { renderDiagnostics, SourceFile } from '../../src/compiler/diagnostics/render.js';
import { printDef } from '../../src/compiler/ir/print.js';
import type { Module } from '../../src/compiler/ir/ir.js';

export interface Analysed {
  source: SourceFile;
  module: Module;
  result: AnalyseResult;
}

/** Lowers a file that must pass the checker, then analyses it (also when the analysis reports errors). */
export function analyseFile(path: string): Analysed {
  const source = new SourceFile(path, readFileSync(path, 'utf8'));
  const parsed = parse(source.text);
  const { checked, diagnostics } = check(parsed.ast!);
  const errors = [...parsed.diagnostics, ...diagnostics].filter((d) => d.severity === 'error');
  if (errors.length) throw new Error(`${path} does not check: ${errors.map((d) => d.message).join('; ')}`);
  const module = lower(parsed.ast!, checked);
  return { source, module, result: analyse(module) };
}

export function renderAnalysis({ source, module, result }: Analysed): string {
  // In the order `rnnc check` prints them: diagnostics, then the analysis.
  const lines = result.diagnostics.length ? [renderDiagnostics(result.diagnostics, source, { color: false }), ''] : [];
  // A grid cell (issue 18): the analysis per axis and its form, as `rnnc check` prints it; no time plan.
  if (module.grid) return [...lines, ...gridAnalysisText(analyseGrid(module), source)].join('\n') + '\n';
  lines.push(...analysisText(result.analysis, source));
  const plan = result.analysis.plan;
  if (plan) {
    lines.push('', 'plan');
    for (const [part, defs] of [['fields', plan.fields], ['combine', plan.combine], ['identity', plan.identity], ['apply', plan.apply]] as const) {
      lines.push(`  ${part}`);
      for (const d of defs) lines.push(...printDef(d, '    ', false));
    }
  }
  return lines.join('\n') + '\n';
}
