// The formatter's properties: on every example and bench cell, and on specs from the fuzzer's
// generators (generated cells, cells with comments put between any two tokens, mutants that still
// parse), formatting is idempotent, fmt(fmt(x)) === fmt(x), and keeps the meaning: the same tokens,
// the same comments, the same AST without positions, the same lowered IR (meaning.ts).
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { parse } from '../../src/compiler/syntax/build-ast.js';
import { cellArbitrary, mutantArbitrary } from '../fuzz/cases.js';
import { fromChoices } from '../fuzz/choices.js';
import { generateCell } from '../fuzz/generate.js';
import { tokenize } from '../fuzz/mutate.js';
import { fmt, meaningOf } from './meaning.js';

const root = join(import.meta.dirname, '..', '..');
const specs = ['examples', 'bench/cells'].flatMap((dir) =>
  readdirSync(join(root, dir))
    .filter((f) => f.endsWith('.rnn'))
    .sort()
    .map((f) => join(dir, f)),
);

const SEED = 20261201;

async function holds(text: string): Promise<void> {
  const once = await fmt(text);
  const twice = await fmt(once);
  expect(twice, `not idempotent; input:\n${text}\nformatted once:\n${once}`).toBe(once);
  const before = meaningOf(text);
  const after = meaningOf(once);
  expect(after.tokens, `tokens changed; input:\n${text}\nformatted:\n${once}`).toEqual(before.tokens);
  expect(after.comments, `comments changed; input:\n${text}\nformatted:\n${once}`).toEqual(before.comments);
  expect(after.ast).toBe(before.ast);
  expect(after.lowered).toBe(before.lowered);
  expect(once.endsWith('\n') && !once.endsWith('\n\n')).toBe(true);
  expect(once).not.toMatch(/[ \t]\n/);
}

describe('the examples and bench cells', () => {
  it.each(specs)('%s is formatted, and formatting it keeps its meaning', async (path) => {
    const text = readFileSync(join(root, path), 'utf8');
    // CI keeps them formatted.
    expect(await fmt(text), `${path} is not formatted: \`rnnc fmt --write ${path}\` formats it`).toBe(text);
    await holds(text);
  });

  it.each(specs)('%s squeezed onto as few lines as the grammar allows comes back to its layout', async (path) => {
    const text = readFileSync(join(root, path), 'utf8');
    // Every run of blanks becomes one space, except the newlines that end a comment or start an own-line one.
    const squeezed = text.replace(/(\/\/[^\n]*\n)|\s+/g, (m, comment: string | undefined, at: number) =>
      comment ?? (m.includes('\n') && text.startsWith('//', at + m.length) ? '\n' : ' '),
    );
    const once = await fmt(squeezed);
    await holds(squeezed);
    // Blank lines and the blanks before end-of-line comments are what squeezing loses; the rest is back.
    const normal = (t: string) => t.replace(/\n\n+/g, '\n').replace(/ +\/\//g, ' //');
    expect(normal(once)).toBe(normal(text));
  });
});

/** A generated cell with a comment after any token: on the same line, or on a line of its own. */
const commentedArbitrary = fromChoices((c) => {
  const text = generateCell(c).text;
  let k = 0;
  return tokenize(text)
    .map((t) => {
      if (/^\s/.test(t) || t.startsWith('//') || !c.chance(0.2)) return t;
      k++;
      return c.pick([`${t} // c${k}\n`, `${t}\n// own ${k}\n`, `${t}\n\n  // after a blank ${k}\n\n`, `${t}   //c${k}   \n`, `${t}\t//\tc${k}\r\n`]);
    })
    .join('');
});

describe('specs from the fuzzer: idempotent, meaning kept', () => {
  it('generated cells', { timeout: 120_000 }, async () => {
    await fc.assert(fc.asyncProperty(cellArbitrary, (cell) => holds(cell.text)), { seed: SEED, numRuns: 150 });
  });

  it('generated cells with comments between any two tokens', { timeout: 120_000 }, async () => {
    await fc.assert(fc.asyncProperty(commentedArbitrary, (text) => holds(text)), { seed: SEED, numRuns: 150 });
  });

  it('mutants that still parse', { timeout: 120_000 }, async () => {
    let parsed = 0;
    await fc.assert(
      fc.asyncProperty(mutantArbitrary, async (text) => {
        if (!parse(text).ast) return;
        parsed++;
        await holds(text);
      }),
      { seed: SEED, numRuns: 800 },
    );
    expect(parsed).toBeGreaterThan(50);
  });
});
