// The compiler's diagnostics in the protocol's terms. Ranges come from the same SourceFile positions
// `rnnc check` prints (1-based line and UTF-16 column there, 0-based here), so an editor underlines
// exactly the span the code frame marks; the message is the CLI's message, word for word.
import type { Diagnostic as LspDiagnostic, DiagnosticRelatedInformation, Range } from 'vscode-languageserver';
import type { Diagnostic } from '../compiler/diagnostics/diagnostic.js';
import type { SourceFile } from '../compiler/diagnostics/render.js';
import type { Span } from '../compiler/syntax/ast.js';

// The protocol's DiagnosticSeverity values: Error 1, Warning 2, Information 3.
const severity = { error: 1, warning: 2, note: 3 } as const;

export function rangeOf(span: Span, source: SourceFile): Range {
  const start = source.position(span.start);
  const end = source.position(span.end);
  return { start: { line: start.line - 1, character: start.column - 1 }, end: { line: end.line - 1, character: end.column - 1 } };
}

/**
 * One compiler diagnostic. Its labels ("first declared here") become related information at their own
 * spans; its notes ("did you mean `gate`?") too, at the diagnostic's own span, since a note has none.
 */
export function toLspDiagnostic(d: Diagnostic, source: SourceFile, uri: string): LspDiagnostic {
  const range = rangeOf(d.span, source);
  const related: DiagnosticRelatedInformation[] = [
    ...d.labels.map((l) => ({ location: { uri, range: rangeOf(l.span, source) }, message: l.message })),
    ...d.notes.map((n) => ({ location: { uri, range }, message: `note: ${n}` })),
  ];
  return { range, severity: severity[d.severity], code: d.code, source: 'rnnc', message: d.message, ...(related.length ? { relatedInformation: related } : {}) };
}
