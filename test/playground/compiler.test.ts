// The playground's compiler and highlighter on the CPU (the unit project): every example compiles
// to kernels in the page's pipeline, an error comes back rendered as the CLI renders it, and the
// highlighter's pieces put back together are the text.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { compileSpec, planReport } from '../../playground/src/compiler.js';
import { highlightPieces } from '../../playground/src/highlight.js';

const dir = join(import.meta.dirname, '../../examples');
const examples = readdirSync(dir).filter((f) => f.endsWith('.rnn')).sort();
const target = { subgroups: false };

describe('the playground compiler', () => {
  it.each(examples)('%s compiles to kernels with mode auto', (name) => {
    const c = compileSpec(name, readFileSync(join(dir, name), 'utf8'), 'auto', target);
    expect(c.rendered).toBe('');
    expect(c.planError).toBeUndefined();
    expect(c.compiled!.kernels.length).toBeGreaterThan(0);
    expect(c.analysisReport).toMatch(/parallel scan: (yes|no)/);
    expect(planReport(c.compilation!)).toMatch(/^mode (seq|scan|chunk) \(asked: auto\)/);
  });

  it('compiles a grid example to its wavefront kernel, with its analysis per axis (not a time kernel)', () => {
    const c = compileSpec('ssm2d.rnn', readFileSync(join(dir, 'ssm2d.rnn'), 'utf8'), 'auto', target);
    expect(c.compiled!.kernels.map((k) => k.wgsl).join('\n')).toMatch(/the anti-diagonals r \+ c = k in order/);
    expect(c.analysisReport).toMatch(/form {4}wavefront/);
    expect(c.scanElement).toBeUndefined();
  });

  it('renders an error as the CLI does, with no kernels', () => {
    const text = readFileSync(join(dir, 'mamba_s6.rnn'), 'utf8').replace('softplus(dt[d])', 'softplus(dt[q])');
    const c = compileSpec('mamba_s6.rnn', text, 'auto', target);
    expect(c.rendered.split('\n').slice(0, 3)).toEqual([
      'mamba_s6.rnn:10:29: error RNN0303: index `q` is not bound: it is neither on the left side nor bound by an enclosing reduction',
      '10 |   let step[d] = softplus(dt[q])',
      '   |                             ^',
    ]);
    expect(c.compiled).toBeUndefined();
  });

  it('says why a mode is refused instead of emitting', () => {
    const c = compileSpec('lstm.rnn', readFileSync(join(dir, 'lstm.rnn'), 'utf8'), 'scan', target);
    expect(c.planError).toMatch(/^lstm cannot take mode scan: .*; choose seq or auto$/);
    expect(c.analysisReport).toMatch(/parallel scan: no/);
  });
});

describe('the playground highlighter', () => {
  it.each(examples)('%s: the pieces are the text, keywords and comments marked', (name) => {
    const text = readFileSync(join(dir, name), 'utf8');
    const pieces = highlightPieces(text);
    expect(pieces.map((p) => p.text).join('')).toBe(text);
    expect(pieces.find((p) => p.cls === 'kw')?.text).toBe('rnn');
    if (text.includes('//')) expect(pieces.some((p) => p.cls === 'com' && p.text.startsWith('//'))).toBe(true);
  });

  it('keeps characters the lexer cannot read, unmarked', () => {
    expect(highlightPieces('rnn a { @ } // c')).toEqual([
      { text: 'rnn', cls: 'kw' },
      { text: ' ' },
      { text: 'a', cls: 'id' },
      { text: ' ' },
      { text: '{', cls: 'punct' },
      { text: ' @ ' },
      { text: '}', cls: 'punct' },
      { text: ' ' },
      { text: '// c', cls: 'com' },
    ]);
  });
});
