// Syntax highlighting from the compiler's own lexer (src/compiler/syntax/lexer.ts), so the colours
// follow the language as the parser reads it. The lexer skips comments and white space; they are the
// gaps between its tokens, and a gap's `//` runs to the end of its line. Characters the lexer cannot
// read come back as errors and stay plain (the diagnostics say what is wrong with them).
import { callableNames, reducers, semirings, structureKinds } from '../../src/compiler/builtins.js';
import { Arrow, Identifier, keywords, Number as NumberToken, rnnLexer } from '../../src/compiler/syntax/lexer.js';

export type TokenClass = 'kw' | 'fn' | 'num' | 'arrow' | 'com' | 'id' | 'punct';

export interface Piece {
  text: string;
  cls?: TokenClass;
}

const keywordTypes = new Set(keywords);
const functionNames = new Set<string>([...callableNames, ...reducers, ...semirings, ...structureKinds]);

/** The text cut into pieces, each with its class (none for white space and unread characters). */
export function highlightPieces(text: string): Piece[] {
  const pieces: Piece[] = [];
  const gap = (from: number, to: number) => {
    const s = text.slice(from, to);
    // A comment starts at `//` and ends at the line's end; the lexer skipped it with the white space.
    const re = /\/\/[^\n\r]*/g;
    let at = 0;
    for (const m of s.matchAll(re)) {
      if (m.index > at) pieces.push({ text: s.slice(at, m.index) });
      pieces.push({ text: m[0], cls: 'com' });
      at = m.index + m[0].length;
    }
    if (at < s.length) pieces.push({ text: s.slice(at) });
  };
  let pos = 0;
  for (const t of rnnLexer.tokenize(text).tokens) {
    if (t.startOffset > pos) gap(pos, t.startOffset);
    pieces.push({ text: t.image, cls: classOf(t.tokenType, t.image) });
    pos = t.startOffset + t.image.length;
  }
  if (pos < text.length) gap(pos, text.length);
  return pieces;
}

function classOf(type: unknown, image: string): TokenClass {
  if (keywordTypes.has(type as never)) return 'kw';
  if (type === NumberToken) return 'num';
  if (type === Arrow) return 'arrow';
  if (type === Identifier) return functionNames.has(image) ? 'fn' : 'id';
  return 'punct';
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The highlighted text as HTML spans (the overlay behind the editor's textarea). */
export function highlightHtml(text: string): string {
  return highlightPieces(text)
    .map((p) => (p.cls ? `<span class="tok-${p.cls}">${escapeHtml(p.text)}</span>` : escapeHtml(p.text)))
    .join('');
}
