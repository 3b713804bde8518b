// Small negative and borderline cells. Each fixture states its expected facts in its header:
//   // structure: S            every state's structure (as a declaration would write it)
//   // structure h2: S         one state's
//   // scan: yes|no            whether the whole cell is a parallel scan
//   // reason[ h]: TEXT        the reason (message and line/col) a state is not a scan
//   // note: TEXT              the "small change" note
//   // unplanned: TEXT         why an affine state is not planned
//   // transition: JSON        the exact transition
//   // exact: passed           the exact law check's verdict
//   // error: RNNxxxx          the analysis reports this error
import { readdirSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyseFile, renderAnalysis } from './render.js';
import { structureText } from '../../src/compiler/analyse/declared.js';
import type { Reason } from '../../src/compiler/analyse/types.js';

const dir = 'test/fixtures/analysis';
const fixtures = readdirSync(dir).filter((f) => f.endsWith('.rnn')).map((f) => f.replace(/\.rnn$/, '')).sort();

function header(name: string): { key: string; state?: string; value: string }[] {
  const facts = [];
  for (const line of readFileSync(`${dir}/${name}.rnn`, 'utf8').split('\n')) {
    const m = /^\/\/ (structure|scan|reason|note|unplanned|transition|exact|error)(?: (\w+))?: (.*)$/.exec(line);
    if (m) facts.push({ key: m[1]!, ...(m[2] ? { state: m[2] } : {}), value: m[3]! });
  }
  return facts;
}

describe('analysis fixtures', () => {
  it('there are at least 15 fixtures, each with expectations', () => {
    expect(fixtures.length).toBeGreaterThanOrEqual(15);
    for (const f of fixtures) expect(header(f).length, f).toBeGreaterThan(0);
  });

  it.each(fixtures)('%s: header facts', (name) => {
    const a = analyseFile(`${dir}/${name}.rnn`);
    const { analysis, diagnostics } = a.result;
    const where = (r: Reason) => {
      const p = a.source.position(r.span.start);
      return `${r.message} (line ${p.line}, col ${p.column})`;
    };
    const facts = header(name);
    const states = (state?: string) => analysis.states.filter((r) => !state || r.state === state);
    for (const f of facts) {
      switch (f.key) {
        case 'structure':
          for (const r of states(f.state)) expect(structureText(r), `${name} ${r.state}`).toBe(f.value);
          break;
        case 'scan':
          expect(analysis.plan !== undefined, name).toBe(f.value === 'yes');
          break;
        case 'reason':
          for (const r of states(f.state)) {
            const c = r.classification;
            if (c.kind !== 'nonlinear' && c.kind !== 'coupled') throw new Error(`${name}: ${r.state} is ${c.kind}`);
            expect(where(c.reason)).toBe(f.value);
          }
          break;
        case 'note':
          for (const r of states(f.state)) expect((r.classification as { note?: string }).note).toBe(f.value);
          break;
        case 'unplanned':
          for (const r of states(f.state)) expect(r.unplanned && where(r.unplanned)).toBe(f.value);
          break;
        case 'transition':
          for (const r of states(f.state)) expect((r.classification as { transition?: unknown }).transition).toEqual(JSON.parse(f.value));
          break;
        case 'exact':
          expect(analysis.laws.map((l) => l.exact)).toEqual([f.value]);
          break;
        case 'error':
          expect(diagnostics.map((d) => d.code)).toContain(f.value);
          break;
      }
    }
    if (!facts.some((f) => f.key === 'error')) expect(diagnostics).toEqual([]);
  });

  it.each(fixtures)('%s: golden report', async (name) => {
    await expect(renderAnalysis(analyseFile(`${dir}/${name}.rnn`))).toMatchFileSnapshot(`golden/fixtures/${name}.txt`);
  });
});
