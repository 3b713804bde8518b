// Renders WGSL compiler messages as an internal-error report with code frames. A shader that does
// not compile is always rnnc's fault (the WGSL is generated), so the report is aimed at whoever
// debugs the code generator: label, line:col, the offending line with a caret, some context.
import type { ShaderMessage } from '../../../backends/job.js';

/** Lines shown on each side of the offending line. */
export const FRAME_CONTEXT = 3;
const MAX_MESSAGES = 10;

export function codeFrame(code: string, line: number, column: number, length = 1, context = FRAME_CONTEXT): string {
  const lines = code.split('\n');
  const first = Math.max(1, line - context);
  const last = Math.min(lines.length, line + context);
  const width = String(last).length;
  const out: string[] = [];
  for (let n = first; n <= last; n++) {
    const text = (lines[n - 1] ?? '').replace(/\r$/, '');
    out.push(`${n === line ? '>' : ' '} ${String(n).padStart(width)} | ${text}`);
    if (n === line) {
      // Clamp the caret to the line so a message at end-of-line still points somewhere visible.
      const col = Math.max(1, Math.min(column, text.length + 1));
      const len = Math.max(1, Math.min(length, text.length + 1 - col));
      out.push(`  ${' '.repeat(width)} | ${' '.repeat(col - 1)}${'^'.repeat(len)}`);
    }
  }
  return out.join('\n');
}

export function formatShaderError(label: string, code: string, messages: ShaderMessage[]): string {
  const errors = messages.filter((m) => m.type === 'error');
  const shown = errors.slice(0, MAX_MESSAGES);
  const parts = [
    `internal error: the generated WGSL for shader \`${label}\` does not compile ` +
      `(${errors.length} error${errors.length === 1 ? '' : 's'}); this is a bug in rnnc's code generator, please report it with the spec`,
  ];
  for (const m of shown) {
    parts.push(`error: ${m.message}\n  --> ${label}:${m.line}:${m.column}\n${codeFrame(code, m.line, m.column, m.length)}`);
  }
  if (errors.length > shown.length) parts.push(`... and ${errors.length - shown.length} more`);
  return parts.join('\n\n');
}
