// Renders diagnostics the way tsc and clang do: `file:line:col: error RNNxxxx: message`,
// then a code frame with a caret under the span, then labels and notes. NO_COLOR is honoured.
import type { Span } from '../syntax/ast.js';
import type { Diagnostic } from './diagnostic.js';

export interface Position {
  line: number; // 1-based
  column: number; // 1-based, in UTF-16 code units
}

export class SourceFile {
  private readonly lineStarts: number[] = [0];
  constructor(
    readonly path: string,
    readonly text: string,
  ) {
    for (let i = 0; i < text.length; i++) if (text[i] === '\n') this.lineStarts.push(i + 1);
  }

  position(offset: number): Position {
    let lo = 0;
    let hi = this.lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1, column: offset - this.lineStarts[lo]! + 1 };
  }

  lineText(line: number): string {
    const start = this.lineStarts[line - 1] ?? this.text.length;
    const end = this.lineStarts[line] ?? this.text.length + 1;
    return this.text.slice(start, end - 1).replace(/\r$/, '');
  }

  get lineCount(): number {
    return this.lineStarts.length;
  }
}

export interface RenderOptions {
  color?: boolean;
}

const paint = (on: boolean, code: string, s: string) => (on ? `\x1b[${code}m${s}\x1b[0m` : s);

/** The lines of a span with `marker` under it; exported for renderers of other sources (Tint messages on generated WGSL). */
export function frame(file: SourceFile, span: Span, color: boolean, marker: string, labelText?: string): string[] {
  const start = file.position(span.start);
  const end = file.position(Math.max(span.start, span.end - 1));
  const width = String(end.line + 1).length;
  const gutter = (n?: number) => paint(color, '2', `${n === undefined ? ' '.repeat(width) : String(n).padStart(width)} | `);
  const out: string[] = [];
  for (let line = start.line; line <= end.line; line++) {
    const text = file.lineText(line);
    out.push(gutter(line) + text);
    const from = line === start.line ? start.column - 1 : 0;
    const to = line === end.line ? Math.max(end.column, from + 1) : text.length;
    const underline = ' '.repeat(from) + marker.repeat(Math.max(1, to - from));
    const suffix = line === end.line && labelText ? ` ${labelText}` : '';
    out.push(gutter() + paint(color, '1;31', underline + suffix));
  }
  return out;
}

export function renderDiagnostic(d: Diagnostic, file: SourceFile, options: RenderOptions = {}): string {
  const color = options.color ?? false;
  const pos = file.position(d.span.start);
  const kind = paint(color, d.severity === 'error' ? '1;31' : d.severity === 'warning' ? '1;33' : '1;36', `${d.severity} ${d.code}`);
  const lines = [`${file.path}:${pos.line}:${pos.column}: ${kind}: ${d.message}`];
  lines.push(...frame(file, d.span, color, '^'));
  for (const label of d.labels) {
    const lp = file.position(label.span.start);
    lines.push(`  ${file.path}:${lp.line}:${lp.column}: ${label.message}`);
    lines.push(...frame(file, label.span, color, '-'));
  }
  for (const note of d.notes) lines.push(`  = note: ${note}`);
  return lines.join('\n');
}

export function renderDiagnostics(ds: readonly Diagnostic[], file: SourceFile, options: RenderOptions = {}): string {
  return ds.map((d) => renderDiagnostic(d, file, options)).join('\n\n');
}

/** The JSON form used by `--json`: positions resolved, stable key order. */
export function diagnosticToJson(d: Diagnostic, file: SourceFile) {
  const start = file.position(d.span.start);
  const end = file.position(d.span.end);
  return {
    code: d.code,
    severity: d.severity,
    message: d.message,
    file: file.path,
    line: start.line,
    column: start.column,
    endLine: end.line,
    endColumn: end.column,
    labels: d.labels.map((l) => ({ message: l.message, ...file.position(l.span.start) })),
    notes: d.notes,
  };
}
