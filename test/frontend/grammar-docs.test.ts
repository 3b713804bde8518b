// The committed grammar documentation is what the parser generates: regenerate in memory and compare.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { grammarDocPaths, grammarDocs } from '../../scripts/grammar-docs.js';
import { frontEnd } from '../../src/driver/front-end.js';

const stale = 'grammar docs are stale: run npm run grammar-docs';

describe('grammar documentation', () => {
  const docs = grammarDocs();

  it('grammar/GRAMMAR.md matches the parser', () => {
    expect(readFileSync(grammarDocPaths.grammarMd, 'utf8'), stale).toBe(docs.grammarMd);
  });

  it('grammar/railroad.html matches the parser', () => {
    expect(readFileSync(grammarDocPaths.railroadHtml, 'utf8'), stale).toBe(docs.railroadHtml);
  });

  it('renders rules as EBNF', () => {
    expect(docs.grammarMd).toContain("dimsDecl ::= 'dims' dimItem ( ',' dimItem )*");
    expect(docs.grammarMd).toContain("updateStmt ::= shape '<-' expression");
    expect(docs.grammarMd).toContain("unary ::= '-' unary\n        | primary");
  });
});

describe('grammar/README.md', () => {
  const readme = readFileSync(new URL('../../grammar/README.md', import.meta.url), 'utf8');
  const cells = [...readme.matchAll(/```\n([^`]*?)```/g)].map((m) => m[1]!).filter((code) => /^(\/\/.*\n)*rnn /.test(code));

  it.each(cells.map((code) => [/rnn (\w+)/.exec(code)![1]!, code]))('its complete cell %s compiles', (_name, code) => {
    const result = frontEnd(code);
    expect(result.diagnostics).toEqual([]);
    expect(result.module).toBeDefined();
  });
});
