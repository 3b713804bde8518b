// The plugin as prettier itself uses it (an editor's prettier, `prettier --plugin`): its own defaults
// give the canonical layout, the language is found by its extension, and a file that does not parse
// is a syntax error with the compiler's code and a line and column.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { format, getSupportInfo } from 'prettier';
import { describe, expect, it } from 'vitest';
import * as pluginModule from '../../src/format/plugin.js';

const root = join(import.meta.dirname, '..', '..');
const plugins = [pluginModule.default];

describe('the prettier plugin', () => {
  it('formats with its own defaults (width 100, two spaces) as rnnc fmt does', async () => {
    // gru has the examples' longest line of code (94 columns): it must not break.
    const gru = readFileSync(join(root, 'examples', 'gru.rnn'), 'utf8');
    expect(await format(gru, { filepath: 'gru.rnn', plugins })).toBe(gru);
    expect(await format(gru.replace(/\n  /g, '\n\t'), { parser: 'rnn', plugins })).toBe(gru);
  });

  it('declares the .rnn language, and its module exports the parts prettier loads', async () => {
    const info = await getSupportInfo({ plugins });
    expect(info.languages.find((l) => l.name === 'rnn')?.extensions).toEqual(['.rnn']);
    expect(Object.keys(pluginModule.parsers ?? {})).toEqual(['rnn']);
    expect(Object.keys(pluginModule.printers ?? {})).toEqual(['rnn-tree']);
  });

  it('reports a file that does not parse as a syntax error at its line and column', async () => {
    await expect(format('rnn x {\n  dims D = 4\n  let y = (1 +\n}\n', { parser: 'rnn', plugins })).rejects.toMatchObject({
      message: expect.stringMatching(/^RNN0106: expected an expression/),
      loc: { start: { line: 3, column: expect.any(Number) } },
    });
  });
});
