// The TextMate grammar (editor/vscode/syntaxes/rnn.tmLanguage.json) against the compiler's own word
// lists: every keyword the chevrotain lexer defines is a keyword of the grammar and nothing else is,
// the builtin and reduction names are those of src/compiler/builtins.ts, and a number is what the
// lexer reads as one. Its regexes are run with JavaScript's engine; they use only syntax that
// Oniguruma (VS Code's engine) reads the same way. The extension's manifest points at real files.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { callableNames, reducers } from '../../src/compiler/builtins.js';
import { keywords, rnnLexer } from '../../src/compiler/syntax/lexer.js';

const root = join(import.meta.dirname, '../..');
const extension = join(root, 'editor/vscode');
const readJson = (path: string) => JSON.parse(readFileSync(path, 'utf8'));

interface Rule {
  name?: string;
  match?: string;
  include?: string;
  patterns?: Rule[];
  captures?: Record<string, { name: string }>;
}
const grammar = readJson(join(extension, 'syntaxes/rnn.tmLanguage.json')) as { scopeName: string; patterns: Rule[]; repository: Record<string, Rule> };

const rules = (key: string): Rule[] => {
  const r = grammar.repository[key]!;
  return r.patterns ?? [r];
};
/** The words of a `\b(a|b|c)\b`-style alternation. */
const words = (rule: Rule): string[] => {
  const m = /\\b\(([A-Za-z_|]+)\)/.exec(rule.match!);
  expect(m, rule.match).not.toBeNull();
  return m![1]!.split('|');
};
/** The scope a rule gives a whole string, if it matches all of it. */
const scopeOf = (candidates: Rule[], text: string) => candidates.find((r) => new RegExp(`^(?:${r.match})$`).test(text))?.name;

const lexerKeywords = keywords.map((k) => (k.PATTERN as RegExp).source);

describe('TextMate grammar for .rnn', () => {
  it('has every keyword of the lexer in its keyword patterns, and no other word', () => {
    expect(lexerKeywords).toContain('rnn');
    for (const k of lexerKeywords) expect(scopeOf(rules('keywords'), k), k).toMatch(/^(storage\.type|keyword\.other|constant\.language)\b/);
    expect(rules('keywords').flatMap(words).sort()).toEqual([...lexerKeywords].sort());
  });

  it('does not colour a name that starts with a keyword (`dimsX`, `inputs`, `state_1`) as one', () => {
    for (const name of ['dimsX', 'inputs', 'state_1', 'letter', 'over2', '_inf']) {
      for (const r of rules('keywords')) expect(new RegExp(r.match!).exec(name), `${name} by ${r.match}`).toBeNull();
      // The lexer agrees: one identifier.
      expect(rnnLexer.tokenize(name).tokens.map((t) => t.tokenType.name)).toEqual(['Identifier']);
    }
  });

  it('names the builtins and reductions of src/compiler/builtins.ts', () => {
    const [reduction, builtin] = rules('builtins');
    expect(words(reduction!).sort()).toEqual([...reducers].sort());
    expect(words(builtin!).sort()).toEqual([...callableNames].sort());
    // A reduction is told from a call as the parser does, by the `index :` after the parenthesis.
    expect(new RegExp(reduction!.match!).exec('sum(j: x[j])')?.[0]).toBe('sum');
    expect(new RegExp(reduction!.match!).exec('max(a, b)')).toBeNull();
    expect(new RegExp(builtin!.match!).exec('max(a, b)')?.[0]).toBe('max');
  });

  it('reads a number exactly as the lexer does', () => {
    const number = new RegExp(grammar.repository['number']!.match!, 'g');
    for (const text of ['0', '12', '1.5', '.5', '3.', '1e-6', '2.5E+10', '7e3']) {
      const lexed = rnnLexer.tokenize(text).tokens;
      expect(lexed.map((t) => t.tokenType.name), text).toEqual(['Number']);
      expect(text.match(number), text).toEqual([text]);
    }
    // Digits inside a name are part of the name.
    expect('x1 h2'.match(number)).toBeNull();
  });

  it('marks `//` comments, `<-`, and the parts of a structure declaration', () => {
    expect(new RegExp(grammar.repository['comment']!.match!).exec('h <- h // carried')?.[0]).toBe('// carried');
    expect(scopeOf(rules('operators'), '<-')).toBe('keyword.operator.update.rnn');
    const structure = grammar.repository['structure']!;
    const m = new RegExp(structure.match!).exec('structure h: lowrank(2) over sum_prod')!;
    const scoped = Object.fromEntries(Object.entries(structure.captures!).flatMap(([k, v]) => (m[Number(k)] ? [[v.name, m[Number(k)]]] : [])));
    expect(scoped).toMatchObject({ 'variable.other.state.rnn': 'h', 'support.constant.structure.rnn': 'lowrank', 'constant.numeric.rnn': '2', 'support.constant.semiring.rnn': 'sum_prod' });
  });

  it('includes only rules it defines', () => {
    const includes = JSON.stringify(grammar).match(/"include":"#[^"]+"/g) ?? [];
    expect(includes.length).toBeGreaterThan(5);
    for (const inc of includes) expect(Object.keys(grammar.repository)).toContain(inc.slice('"include":"#'.length, -1));
  });
});

describe('the VS Code extension folder', () => {
  const manifest = readJson(join(extension, 'package.json'));

  it('contributes the language, its configuration and the grammar, from files that exist', () => {
    const [language] = manifest.contributes.languages;
    expect(language).toMatchObject({ id: 'rnn', extensions: ['.rnn'] });
    expect(existsSync(join(extension, language.configuration))).toBe(true);
    const config = readJson(join(extension, language.configuration));
    expect(config.comments).toEqual({ lineComment: '//' });
    expect(config.brackets).toEqual([['{', '}'], ['[', ']'], ['(', ')']]);
    const [contributed] = manifest.contributes.grammars;
    expect(contributed).toMatchObject({ language: 'rnn', scopeName: grammar.scopeName });
    expect(existsSync(join(extension, contributed.path))).toBe(true);
    expect(existsSync(join(extension, manifest.main))).toBe(true);
  });

  it('keeps its client library out of the rnnc package', () => {
    expect(Object.keys(manifest.dependencies)).toEqual(['vscode-languageclient']);
    const rootManifest = readJson(join(root, 'package.json'));
    expect({ ...rootManifest.dependencies, ...rootManifest.devDependencies }).not.toHaveProperty('vscode-languageclient');
  });
});
