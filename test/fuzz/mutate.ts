// Mutations of valid specs for the front-end property: token-level edits (delete, duplicate, swap,
// rename, renumber, insert a stray token or character) and truncation. Most mutants are invalid; the
// front end must answer each with diagnostics, never a crash.
import type { Choices } from './choices.js';

/** Tokens as the .rnn lexer sees them, plus the whitespace and comments between them (kept verbatim). */
const TOKEN = /\/\/[^\n]*|\s+|<-|<=|>=|==|!=|(?:\d+\.\d*|\.\d+|\d+)(?:[eE][+-]?\d+)?|[A-Za-z_][A-Za-z0-9_]*|./gsu;
const isSpace = (t: string) => /^\s/.test(t) || t.startsWith('//');
const isName = (t: string) => /^[A-Za-z_]/.test(t);
const isNumber = (t: string) => /^[\d.]/.test(t) && t !== '.';

const NUMBERS = ['0', '1', '-1', '1e39', '3.5e38', '1e-50', '1.5', '99999999999', '0.0', '2', '1e', '1.2.3', '00', '.'];
const NAMES = ['x', 'h', 'sum', 'max', 'logsumexp', 'select', 'inf', 'rnn', 'dims', 'state', 'monoid', 'combine', 'element', 'identity', 'over', 'let', 'output', 'input', 'param', 'structure', 'D', 'i', 'j', 'a', 'b', 'exp', 'relu', 'diagonal', 'lowrank', 'sum_prod', 'tanh', '_', 'A1'];
const STRAYS = ['(', ')', '[', ']', '{', '}', ',', ':', '.', '=', '<-', '<', '==', '+', '-', '*', '/', '@', '#', '$', '"', "'", '\\', '`', 'é', '😀', '\u0000', '\t', '\n', '//', '/*', ';', '?', '!', '&', '|', '~', '^', '%'];

/** The tokens of the line holding token `at`: [first, past the last). */
function lineAround(tokens: string[], at: number): [number, number] {
  let start = at;
  while (start > 0 && !tokens[start - 1]!.includes('\n')) start--;
  let end = at;
  while (end < tokens.length && !tokens[end]!.includes('\n')) end++;
  return [start, end];
}

export function tokenize(text: string): string[] {
  return text.match(TOKEN) ?? [];
}

/** One to three edits of `text`, or a truncation. */
export function mutate(c: Choices, text: string): string {
  if (c.chance(0.1)) return text.slice(0, c.int(0, text.length));
  const tokens = tokenize(text);
  const edits = c.int(1, 3);
  for (let e = 0; e < edits; e++) {
    // Positions of real tokens (not whitespace), where an edit means something.
    const real = tokens.flatMap((t, k) => (isSpace(t) ? [] : [k]));
    if (real.length === 0) {
      tokens.push(c.pick(STRAYS));
      continue;
    }
    const at = c.pick(real);
    const t = tokens[at]!;
    const names = [...new Set(tokens.filter(isName))];
    switch (c.pick(['delete', 'duplicate', 'swap', 'rename', 'renumber', 'insert', 'insertName', 'deleteLine', 'duplicateLine', 'moveLine'] as const)) {
      case 'delete':
        tokens.splice(at, 1);
        break;
      case 'duplicate':
        tokens.splice(at, 0, t, c.chance(0.5) ? ' ' : '');
        break;
      case 'swap': {
        const other = c.pick(real);
        [tokens[at], tokens[other]] = [tokens[other]!, t];
        break;
      }
      case 'rename':
        tokens[at] = c.chance(0.6) && names.length > 0 ? c.pick(names) : c.pick(NAMES);
        break;
      case 'renumber': {
        const numbers = real.filter((k) => isNumber(tokens[k]!));
        tokens[numbers.length > 0 ? c.pick(numbers) : at] = c.pick(NUMBERS);
        break;
      }
      case 'insert':
        tokens.splice(at + (c.chance(0.5) ? 1 : 0), 0, c.pick(STRAYS));
        break;
      case 'insertName':
        tokens.splice(at, 0, c.pick(c.chance(0.5) && names.length ? names : NAMES), ' ');
        break;
      case 'deleteLine': {
        // A whole line, as a user deleting a line would.
        const [start, end] = lineAround(tokens, at);
        tokens.splice(start, end - start);
        break;
      }
      case 'duplicateLine': {
        // A second declaration, update, monoid part...
        const [start, end] = lineAround(tokens, at);
        tokens.splice(end, 0, '\n', ...tokens.slice(start, end));
        break;
      }
      case 'moveLine': {
        // Statements out of order: a name read before its definition, an update after its readers.
        const [start, end] = lineAround(tokens, at);
        const line = tokens.splice(start, end - start);
        tokens.splice(c.int(0, tokens.length), 0, '\n', ...line, '\n');
        break;
      }
    }
  }
  return tokens.join('');
}
