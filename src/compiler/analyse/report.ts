// The analysis as text (`rnnc check`'s summary, golden tests) and as JSON (`rnnc check --json`).
// Per state: algebra, structure, scan element, and whether a parallel scan is possible; for a
// state that is not a scan, the reason at its line and column, and a note when a small change would
// make it one.
import type { Span } from '../syntax/ast.js';
import type { SourceFile } from '../diagnostics/render.js';
import type { Analysis, Classification, Reason, StateReport } from './types.js';
import { semiringOps } from './semirings.js';

const at = (source: SourceFile, span: Span) => {
  const p = source.position(span.start);
  return { line: p.line, column: p.column };
};

function algebraText(c: Classification): string {
  switch (c.kind) {
    case 'independent':
      return 'independent of the state';
    case 'affine':
      return `${c.semiring} ${semiringOps[c.semiring].text}`;
    case 'monoid':
      return 'declared monoid';
    case 'nonlinear':
      return 'nonlinear';
    case 'coupled':
      return 'coupled to other states';
  }
}

function structureOf(c: Classification): string {
  if (c.kind !== 'affine') return c.kind === 'independent' ? 'diagonal (a = 0)' : c.kind === 'monoid' ? 'monoid' : 'sequential';
  const t = c.transition;
  switch (t.kind) {
    case 'diagonal':
      return 'diagonal';
    case 'dense':
      return `dense along ${t.index}`;
    case 'lowrank':
      return `diagonal plus rank ${t.rank} along ${t.along}${t.shared.length ? `, one transition shared by every ${t.shared.join(', ')}` : ', one transition per row'} (planned in dense form)`;
  }
}

const reasonText = (source: SourceFile, r: Reason) => {
  const p = at(source, r.span);
  return `${r.message} (line ${p.line}, col ${p.column})${r.detail ? `: ${r.detail}` : ''}`;
};

function stateLines(r: StateReport, source: SourceFile, laws: Analysis['laws']): string[] {
  const c = r.classification;
  const head = `  analysis ${r.state}: algebra ${algebraText(c)}, structure ${structureOf(c)}`;
  if (r.scan) {
    const perLane = c.kind === 'independent' || (c.kind === 'affine' && c.transition.kind === 'diagonal');
    const size = r.elementSize ? `${r.elementSize} float${r.elementSize === 1 ? '' : 's'}${perLane ? ' per lane' : ''}` : 'size set by the dims';
    const lines = [`${head}, element (${r.fields.join(', ')}) = ${size}, parallel scan: yes`];
    const law = laws.find((l) => l.states.includes(r.state));
    if (c.kind === 'monoid' && law && r.state === law.states[0]) {
      const exact = typeof law.exact === 'string' ? `exact check ${law.exact}` : `exact check not applicable (${law.exact.notApplicable})`;
      lines.push(`    monoid laws hold: ${exact}; float32 check passed on ${law.float32.triples - law.float32.skipped} random triples`);
    }
    return lines;
  }
  const lines = [`${head}, parallel scan: no`];
  if (c.kind === 'nonlinear' || c.kind === 'coupled') {
    lines.push(`    ${reasonText(source, c.reason)}, so this cell runs sequentially`);
    if (c.note) lines.push(`    note: ${c.note}`);
  }
  if (r.unplanned) lines.push(`    ${reasonText(source, r.unplanned)}, so this cell runs sequentially`);
  if (c.kind === 'monoid') lines.push('    the monoid laws fail (see the errors above), so this cell runs sequentially');
  return lines;
}

/** Summary lines, one or a few per state, indented like `rnnc check`'s summary. */
export function analysisText(analysis: Analysis, source: SourceFile): string[] {
  const direction =
    analysis.direction === 'reversed'
      ? ['  time runs backward (`reversed`): each sequence from its last step to its first, classified as the forward cell']
      : analysis.direction === 'bidirectional'
        ? [`  time runs both ways: ${(analysis.backward ?? []).map((s) => `\`${s}\``).join(', ')} backward (the \`reversed\` block), the other states forward, in the same logical steps`]
        : [];
  return [...direction, ...analysis.states.flatMap((r) => stateLines(r, source, analysis.laws))];
}

/** JSON: per state, its classification with reasons at line and column; then the law reports. */
export function analysisJson(analysis: Analysis, source: SourceFile) {
  const reason = (r: Reason) => ({ message: r.message, ...(r.detail ? { detail: r.detail } : {}), ...at(source, r.span) });
  return {
    ...(analysis.direction ? { direction: analysis.direction } : {}),
    ...(analysis.backward ? { backward: analysis.backward } : {}),
    scan: analysis.plan !== undefined,
    states: analysis.states.map((r) => {
      const c = r.classification;
      return {
        state: r.state,
        kind: c.kind,
        ...(c.kind === 'affine' ? { semiring: c.semiring, transition: c.transition } : {}),
        ...(c.kind === 'nonlinear' || c.kind === 'coupled' ? { reason: reason(c.reason), ...(c.note ? { note: c.note } : {}) } : {}),
        ...(r.unplanned ? { unplanned: reason(r.unplanned) } : {}),
        scan: r.scan,
        elementSize: r.elementSize,
        fields: r.fields,
      };
    }),
    laws: analysis.laws,
  };
}
