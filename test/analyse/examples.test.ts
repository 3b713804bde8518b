// Golden analysis of every example, plus the facts each example's comment promises.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { analyseFile, renderAnalysis } from './render.js';
import { structureText } from '../../src/compiler/analyse/declared.js';
import { analyseGrid, type GridForm } from '../../src/compiler/analyse/grid.js';

const examples = readdirSync('examples').filter((f) => f.endsWith('.rnn')).map((f) => f.replace(/\.rnn$/, '')).sort();

/** Per example and state: the structure it must be inferred to have. */
const expected: Record<string, Record<string, string>> = {
  aaren: { m: 'monoid', u: 'monoid', w: 'monoid' },
  bimamba: { hf: 'diagonal over sum_prod', hb: 'diagonal over sum_prod' },
  deltanet: { S: 'lowrank(1) over sum_prod' },
  deltaproduct2: { S: 'lowrank(2) over sum_prod' },
  deltaproduct3: { S: 'lowrank(3) over sum_prod' },
  gated_deltanet: { S: 'lowrank(1) over sum_prod' },
  gla: { S: 'diagonal over sum_prod' },
  gru: { h: 'sequential' },
  gru_diag: { h: 'sequential' },
  lru: { x: 'diagonal over sum_prod' },
  lstm: { h: 'sequential', c: 'sequential' },
  lstm_diag: { h: 'sequential', c: 'sequential' },
  mamba_s6: { h: 'diagonal over sum_prod' },
  maxplus: { score: 'dense over max_plus' },
  mingru: { h: 'diagonal over sum_prod' },
  minmax: { h: 'dense over max_min' },
  modcount: { h: 'lowrank(1) over sum_prod' },
  parity: { h: 'diagonal over sum_prod' },
  rwkv7: { S: 'lowrank(1) over sum_prod' },
};

/** The grid examples (issue 18): the parallel form their analysis per axis names (a time structure does not apply). */
const expectedGrid: Record<string, GridForm> = {
  mamba_rows: 'rows',
  plstm: 'wavefront',
  ssm2d: 'wavefront',
};

describe('analysis of the examples', () => {
  it('covers every example', () => {
    expect(examples).toEqual([...Object.keys(expected), ...Object.keys(expectedGrid)].sort());
  });

  it.each(Object.keys(expectedGrid))('%s: a grid cell, no errors, its form', (name) => {
    const a = analyseFile(`examples/${name}.rnn`);
    expect(a.result.diagnostics).toEqual([]);
    expect(a.module.grid).toBe(true);
    expect(analyseGrid(a.module).form).toBe(expectedGrid[name]);
  });

  it.each(examples.filter((name) => !Object.hasOwn(expectedGrid, name)))('%s: structure per state, no errors, a plan exactly when every state scans', (name) => {
    const a = analyseFile(`examples/${name}.rnn`);
    expect(a.result.diagnostics).toEqual([]);
    const got = Object.fromEntries(a.result.analysis.states.map((r) => [r.state, structureText(r)]));
    expect(got).toEqual(expected[name]);
    const scans = Object.values(expected[name]!).every((s) => s !== 'sequential');
    expect(a.result.analysis.plan !== undefined).toBe(scans);
  });

  it.each(examples)('%s: golden report', async (name) => {
    await expect(renderAnalysis(analyseFile(`examples/${name}.rnn`))).toMatchFileSnapshot(`golden/examples/${name}.txt`);
  });

  it('DeltaNet: rank 1 along j, one transition shared by every row i', () => {
    const c = analyseFile('examples/deltanet.rnn').result.analysis.states[0]!.classification;
    expect(c).toEqual({ kind: 'affine', semiring: 'sum_prod', transition: { kind: 'lowrank', rank: 1, along: 'j', shared: ['i'] } });
  });

  it('GRU: the reason is at the state read inside the gate, with the minGRU note', () => {
    const a = analyseFile('examples/gru.rnn');
    const c = a.result.analysis.states[0]!.classification;
    if (c.kind !== 'nonlinear') throw new Error('expected nonlinear');
    expect(c.reason.message).toBe('`h` is read inside `sigmoid`');
    expect(a.source.position(c.reason.span.start)).toEqual({ line: 11, column: 66 });
    expect(a.source.text.slice(c.reason.span.start, c.reason.span.end)).toBe('h[m]');
    expect(c.note).toBe('if `z`, `n` read only the inputs and params (as the gates of minGRU do), the update of `h` would be a diagonal scan over (+, ×)');
  });

  it('LSTM: c is affine in c given the gates (note), h reads c inside tanh; no cell plan', () => {
    const a = analyseFile('examples/lstm.rnn');
    const [h, c] = a.result.analysis.states;
    expect(h!.classification.kind).toBe('nonlinear');
    expect(c!.classification).toMatchObject({ kind: 'nonlinear', note: expect.stringContaining('the update of `c` would be a diagonal scan') });
    expect(a.result.analysis.plan).toBeUndefined();
    expect(a.result.analysis.statePlans).toEqual({});
  });

  it('Mamba: the plan is the diagonal (a, b) over (+, ×) the scan backend expects', () => {
    const plan = analyseFile('examples/mamba_s6.rnn').result.analysis.plan!;
    expect(plan.fields.map((f) => `${f.target}[${f.vars.map((v) => v.name).join(',')}]`)).toEqual(['h.a[d,n]', 'h.b[d,n]']);
    expect(plan.identity.map((d) => d.nodes[d.root])).toMatchObject([{ op: 'const', value: 1 }, { op: 'const', value: 0 }]);
    expect(plan.apply.map((d) => [d.kind, d.target])).toEqual([['update', 'h']]);
  });
});
