// Renders Tint's messages onto the generated WGSL in the style of rnnc's own diagnostics
// (src/compiler/diagnostics/render.ts): `label:line:col: error: message`, the line, a caret. A shader
// that does not compile is always rnnc's fault (the WGSL is generated), so the error report is aimed
// at whoever debugs the code generator.
import { frame, SourceFile, type RenderOptions } from '../../compiler/diagnostics/render.js';
import type { ShaderMessage } from '../../../backends/job.js';

const MAX_MESSAGES = 10;

/** One message on the shader's code: `label:line:col: type: message` and a code frame under its span. */
export function renderShaderMessage(label: string, code: string, m: ShaderMessage, options: RenderOptions = {}): string {
  if (m.line < 1) return `${label}: ${m.type}: ${m.message}`; // Tint gave no position
  const file = new SourceFile(label, code);
  const start = lineColumnOffset(code, m.line, m.column);
  const span = { start, end: start + Math.max(1, m.length) };
  return [`${label}:${m.line}:${m.column}: ${m.type}: ${m.message}`, ...frame(file, span, options.color ?? false, '^')].join('\n');
}

/** Every message of the given types (default: errors), separated by blank lines. */
export function renderShaderMessages(label: string, code: string, messages: readonly ShaderMessage[], types: readonly ShaderMessage['type'][] = ['error']): string {
  return messages
    .filter((m) => types.includes(m.type))
    .map((m) => renderShaderMessage(label, code, m))
    .join('\n\n');
}

/** The internal-error report of a shader Tint rejected: a headline, then its first errors with code frames. */
export function formatShaderError(label: string, code: string, messages: readonly ShaderMessage[]): string {
  const errors = messages.filter((m) => m.type === 'error');
  const shown = errors.slice(0, MAX_MESSAGES);
  const parts = [
    `internal error: the generated WGSL for shader \`${label}\` does not compile ` +
      `(${errors.length} error${errors.length === 1 ? '' : 's'}); this is a bug in rnnc's code generator, please report it with the spec`,
    renderShaderMessages(label, code, shown),
  ];
  if (errors.length > shown.length) parts.push(`... and ${errors.length - shown.length} more`);
  return parts.join('\n\n');
}

/** UTF-16 offset of a 1-based line and column (what Tint reports, and what SourceFile counts in). */
function lineColumnOffset(code: string, line: number, column: number): number {
  let offset = 0;
  for (let l = 1; l < line; l++) {
    const next = code.indexOf('\n', offset);
    if (next < 0) return code.length;
    offset = next + 1;
  }
  return offset + column - 1;
}
