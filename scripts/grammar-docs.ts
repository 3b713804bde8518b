// Generates the grammar documentation from the parser itself, so it cannot drift from it:
// grammar/railroad.html (chevrotain's syntax diagrams) and grammar/GRAMMAR.md (EBNF).
// `npm run grammar-docs` rewrites both; test/frontend/grammar-docs.test.ts fails when they are stale.
import { createSyntaxDiagramsCode } from 'chevrotain';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { grammarToEbnf, tokensToEbnf } from '../src/compiler/syntax/ebnf.js';
import { allTokens, keywords } from '../src/compiler/syntax/lexer.js';
import { rnnParser } from '../src/compiler/syntax/parser.js';

export interface GrammarDocs {
  railroadHtml: string;
  grammarMd: string;
}

export function grammarDocs(): GrammarDocs {
  const rules = rnnParser().getSerializedGastProductions();
  const grammarMd = [
    '# The .rnn grammar',
    '',
    'Generated from the parser by `npm run grammar-docs` (scripts/grammar-docs.ts); do not edit by hand.',
    'See [README.md](README.md) for the language explained with examples, and `railroad.html` for the same rules as diagrams.',
    '',
    'Notation: `x?` optional, `x*` zero or more, `x+` one or more, `( a | b )` a choice; quoted text is literal.',
    '',
    '## Syntax',
    '',
    '```ebnf',
    grammarToEbnf(rules),
    '```',
    '',
    'A `primary` that starts with a name followed by `(` is a `reduction` when a name and `:` follow the parenthesis (`sum(j: ...)`), and a `call` otherwise.',
    '',
    '## Tokens',
    '',
    `Keywords are reserved, never names: ${keywords.map((k) => `\`${(k.PATTERN as RegExp).source}\``).join(', ')}. Whitespace and line comments separate tokens and are otherwise ignored.`,
    '',
    '```ebnf',
    tokensToEbnf(allTokens),
    '```',
    '',
  ].join('\n');
  return { railroadHtml: createSyntaxDiagramsCode(rules), grammarMd };
}

export const grammarDocPaths = {
  railroadHtml: fileURLToPath(new URL('../grammar/railroad.html', import.meta.url)),
  grammarMd: fileURLToPath(new URL('../grammar/GRAMMAR.md', import.meta.url)),
};

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const docs = grammarDocs();
  writeFileSync(grammarDocPaths.railroadHtml, docs.railroadHtml);
  writeFileSync(grammarDocPaths.grammarMd, docs.grammarMd);
  process.stdout.write(`wrote ${grammarDocPaths.railroadHtml}\nwrote ${grammarDocPaths.grammarMd}\n`);
}
