// `rnn name reversed {`: parsed, checked, lowered to Module.reversed, printed by explain and by fmt,
// and classified exactly as the forward cell (only the order of the positions differs).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { printModule } from '../../src/compiler/ir/print.js';
import { formatRnn } from '../../src/format/index.js';
import { analysisJson, analysisText } from '../../src/compiler/analyse/report.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';
import { differentiate, GradError } from '../../src/compiler/grad/reverse.js';
import { newtonCell } from '../../src/driver/newton.js';
import { reversedText } from './helpers.js';

const mamba = readFileSync('examples/mamba_s6.rnn', 'utf8');

describe('reversed cells: front end', () => {
  it('marks the module reversed, and explain says so in its header', () => {
    const m = frontEnd(reversedText(mamba)).module!;
    expect(m.reversed).toBe(true);
    expect(printModule(m).split('\n')[0]).toBe('rnn mamba_s6 reversed');
    expect(printModule(frontEnd(mamba).module!).split('\n')[0]).toBe('rnn mamba_s6');
  });

  it('classifies a reversed cell as its forward twin', () => {
    const strip = (a: unknown) => JSON.parse(JSON.stringify(a, (k, v) => (k === 'span' ? undefined : v)));
    expect(strip(frontEnd(reversedText(mamba)).analysis!.states)).toEqual(strip(frontEnd(mamba).analysis!.states));
  });

  it('the analysis says the direction (text and JSON); a forward cell says nothing new', () => {
    const source = new SourceFile('m.rnn', reversedText(mamba));
    const a = frontEnd(source).analysis!;
    expect(a.direction).toBe('reversed');
    expect(analysisText(a, source)[0]).toMatch(/^  time runs backward \(`reversed`\)/);
    expect(analysisJson(a, source).direction).toBe('reversed');
    const forward = new SourceFile('m.rnn', mamba);
    expect(analysisJson(frontEnd(forward).analysis!, forward)).not.toHaveProperty('direction');
  });

  it('the analysis of a bidirectional cell names the states that run backward', () => {
    const source = new SourceFile('b.rnn', readFileSync('examples/bimamba.rnn', 'utf8'));
    const a = frontEnd(source).analysis!;
    expect([a.direction, a.backward]).toEqual(['bidirectional', ['hb']]);
    expect(analysisText(a, source)[0]).toBe('  time runs both ways: `hb` backward (the `reversed` block), the other states forward, in the same logical steps');
    expect(analysisJson(a, source)).toMatchObject({ direction: 'bidirectional', backward: ['hb'] });
  });

  it('reports another word after the name (RNN0504) and keeps `reversed` usable as a name', () => {
    const bad = frontEnd('rnn f backward {\n  input x\n  state h = 0\n  h <- h + x\n}\n');
    expect(bad.diagnostics.map((d) => d.code)).toEqual(['RNN0504']);
    const named = frontEnd('rnn f reversed {\n  input reversed\n  state h = 0\n  h <- h + reversed\n}\n');
    expect(named.diagnostics).toEqual([]);
    expect(named.module!.reversed).toBe(true);
  });

  it('rejects two words after the name', () => {
    expect(frontEnd('rnn f reversed reversed {\n  input x\n  state h = 0\n  h <- h + x\n}\n').diagnostics[0]!.code).toBe('RNN0102');
  });

  it('is kept by the formatter', async () => {
    const r = await formatRnn('rnn   f   reversed{\n input x\n state h = 0\n h <- h + x\n}\n');
    expect(r.formatted).toBe('rnn f reversed {\n  input  x\n  state  h = 0\n  h <- h + x\n}\n');
  });

  it('formats a bidirectional cell: the `reversed` block indented as a block, and idempotent', async () => {
    const text = 'rnn bi {\n input x\n state hf = 0\n hf <- hf + x\n reversed   {\n state hb = 0\n  hb <- hb + x   // backward\n output yb = hb\n }\n}\n';
    const once = (await formatRnn(text)).formatted!;
    expect(once).toBe('rnn bi {\n  input  x\n  state  hf = 0\n  hf <- hf + x\n  reversed {\n    state  hb = 0\n    hb <- hb + x   // backward\n    output yb = hb\n  }\n}\n');
    expect((await formatRnn(once)).formatted).toBe(once);
  });

  it("the compiler's reverse-mode pass takes a reversed cell and refuses a fused bidirectional one, which the callers split into its parts (test/grad/directions*.test.ts)", () => {
    const bi = frontEnd(readFileSync('examples/bimamba.rnn', 'utf8')).module!;
    expect(differentiate(frontEnd(reversedText(mamba)).module!).module.step.length).toBeGreaterThan(0);
    expect(() => differentiate(bi)).toThrow(GradError);
    expect(() => differentiate(bi)).toThrow(/two parts \(splitDirections\)/);
  });

  it('--mode newton takes a cell with a time direction: a reversed one in logical time, a bidirectional one as its two parts (test/newton/reversed.test.ts runs them)', () => {
    expect(newtonCell(frontEnd(reversedText(mamba)).module!).module.reversed).toBe(true);
    expect(newtonCell(frontEnd(readFileSync('examples/bimamba.rnn', 'utf8')).module!).parts?.map((p) => p.module.name)).toEqual(['bimamba_forward', 'bimamba_reversed']);
  });
});
