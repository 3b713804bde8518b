// The server's name index (src/lsp/names.ts) on every example: each name it resolves leads to a
// declaration of that same name, and the monoid's own names (combine operands, `a.m` fields, combine
// lets) resolve as the checker reads them. Hover text for a state is the analysis report's.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { analysisText } from '../../src/compiler/analyse/report.js';
import { analyseDocument } from '../../src/lsp/document.js';
import { hoverText } from '../../src/lsp/hover.js';
import { definitionOf, indexNames, occurrenceAt, type Occurrence } from '../../src/lsp/names.js';

const examples = join(import.meta.dirname, '../../examples');
const cases = join(import.meta.dirname, '../diagnostics/cases');

function load(name: string) {
  const source = new SourceFile(name, readFileSync(join(examples, name), 'utf8'));
  const result = frontEnd(source);
  expect(result.diagnostics.filter((d) => d.severity === 'error'), name).toEqual([]);
  return { source, result, names: indexNames(result.ast!, result.checked!) };
}

/** The occurrence at the n-th appearance of `text` in the source, at its first character. */
function at(source: SourceFile, names: Occurrence[], text: string, n = 0): Occurrence {
  let offset = -1;
  for (let k = 0; k <= n; k++) offset = source.text.indexOf(text, offset + 1);
  expect(offset, text).toBeGreaterThanOrEqual(0);
  return occurrenceAt(names, offset)!;
}

const textOf = (source: SourceFile, span: { start: number; end: number }) => source.text.slice(span.start, span.end);

describe('names: every example', () => {
  const files = readdirSync(examples).filter((f) => f.endsWith('.rnn'));
  it.each(files)('%s: each resolved name leads to a declaration of the same name', (file) => {
    const { source, result, names } = load(file);
    expect(names.length).toBeGreaterThan(10);
    for (const o of names) {
      expect(textOf(source, o.span), o.name).toBe(o.name);
      const def = definitionOf(o.target);
      if (o.target.kind === 'builtin') expect(def).toBeUndefined();
      else expect(textOf(source, def!), `${o.name} at ${o.span.start}`).toBe(o.name);
    }
    // Every name the checker declared is found at its declaration.
    for (const sym of result.checked!.symbols.values()) expect(names.some((o) => o.span.start === sym.span.start && o.name === sym.name), sym.name).toBe(true);
  });
});

describe('names: a monoid (aaren)', () => {
  const { source, result, names } = load('aaren.rnn');
  const defText = (o: Occurrence) => {
    const def = definitionOf(o.target)!;
    return `${o.target.kind} ${source.position(def.start).line}:${source.position(def.start).column}`;
  };

  it('a combine operand, its field, and a combine let', () => {
    // `a.m` in `let top = max(a.m, b.m)`: `a` is the combine's first operand, `m` the state.
    const operand = at(source, names, 'a.m');
    expect(operand.target).toMatchObject({ kind: 'operand', side: 'left' });
    expect(defText(operand)).toBe('operand 12:13');
    expect(defText(at(source, names, 'm, b.m'))).toBe('symbol 7:10');
    // `top` in `exp(a.m - top)` → `let top`.
    expect(defText(at(source, names, 'top', 1))).toBe('local 13:11');
    // `d` in `a.w[d]` ranges over D, learnt from w's declaration.
    const d = at(source, names, 'd] * ea');
    expect(d.target).toMatchObject({ kind: 'index', binding: { dim: 'D' } });
    expect(hoverText(d.target, { source, checked: result.checked!, hasErrors: false })).toContain('```rnn\nindex d: D\n```');
  });

  it('hover on a monoid state: the analysis lines, monoid laws included', () => {
    const m = at(source, names, 'm = -inf');
    const text = hoverText(m.target, { source, checked: result.checked!, analysis: result.analysis!, hasErrors: false });
    const report = analysisText(result.analysis!, source);
    const first = report.findIndex((l) => l.startsWith('  analysis m: '));
    expect(text).toContain(`**analysis**: ${report[first]!.replace('  analysis m: ', '')}`);
    expect(report[first + 1]).toMatch(/monoid laws hold/);
    expect(text).toContain(report[first + 1]!.trim());
  });
});

describe('names: broken specs (the diagnostics corpus)', () => {
  // What an editor holds while the user types: syntax errors with a recovered AST, unknown names, bad
  // shapes. Every name found still spans its own text and leads to a declaration spelled the same, and
  // hovering it answers.
  const files = readdirSync(cases).filter((f) => f.endsWith('.rnn'));
  it('indexes and hovers every name of every case', { timeout: 60_000 }, () => {
    expect(files.length).toBeGreaterThan(50);
    let names = 0;
    for (const file of files) {
      const doc = analyseDocument(`file:///${file}`, 1, readFileSync(join(cases, file), 'utf8'));
      expect(doc.result.diagnostics.length, file).toBeGreaterThan(0);
      for (const o of doc.names) {
        names++;
        expect(textOf(doc.source, o.span), file).toBe(o.name);
        const def = definitionOf(o.target);
        if (def) expect(textOf(doc.source, def), `${file}: ${o.name}`).toBe(o.name);
        const ctx = { source: doc.source, checked: doc.result.checked!, ...(doc.result.analysis ? { analysis: doc.result.analysis } : {}), hasErrors: true };
        expect(hoverText(o.target, ctx), `${file}: ${o.name}`).toMatch(/^```rnn\n/);
      }
    }
    expect(names).toBeGreaterThan(500);
  });
});
