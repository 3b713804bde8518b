// The analysis of a grid cell per axis (issue 18): the update classified along the rows (in `h.left`,
// `h.up` held fixed) and along the columns, and the parallel form that follows, with its reason.
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { analyseGrid, gridAnalysisText } from '../../src/compiler/analyse/grid.js';
import { alongAxis } from '../../src/compiler/ir/grid-axes.js';
import { printModule } from '../../src/compiler/ir/print.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';
import { passes, runPipeline } from '../../src/driver/pipeline.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';

const cell = (update: string, extra = '') => `rnn g grid {\n  dims D = 4\n  input  x[D], a[D], b[D]\n  param  u[D]\n  state  h[D] = 0\n${extra}  h[d] <- ${update}\n  output y[d] = h[d]\n}\n`;

function grid(text: string) {
  const r = frontEnd(text);
  expect(r.diagnostics).toEqual([]);
  return analyseGrid(r.module!);
}

const kinds = (g: ReturnType<typeof grid>) => [g.rows.states[0]!.classification.kind, g.columns.states[0]!.classification.kind];

describe('grid cells: the analysis per axis', () => {
  it('a 2-D SSM is affine along each axis and takes the wavefront', () => {
    const g = grid(cell('a[d] * h.left[d] + b[d] * h.up[d] + x[d]'));
    expect(kinds(g)).toEqual(['affine', 'affine']);
    expect([g.form, g.scan]).toEqual(['wavefront', false]);
    expect(g.why).toMatch(/^affine in both neighbours: no scan along one axis alone/);
    expect(g.reason).toBeUndefined();
  });

  it('only `h.left`: the rows are independent scans; only `h.up`: the columns', () => {
    const rows = grid(cell('a[d] * h.left[d] + x[d]'));
    expect([rows.form, rows.scan]).toEqual(['rows', true]);
    expect(rows.rows.plan).toBeDefined();
    expect(rows.why).toMatch(/each row is an independent 1-D recurrence along it \(the columns batched\), a parallel scan$/);
    const columns = grid(cell('tanh(a[d] * h.up[d]) + x[d]'));
    expect([columns.form, columns.scan]).toEqual(['columns', false]);
    expect(columns.columns.states[0]!.classification.kind).toBe('nonlinear');
  });

  it('no neighbour read: every position is independent', () => {
    expect(grid(cell('x[d] * u[d]')).form).toBe('pointwise');
  });

  it("coupled states (as pLSTM's edge states): the wavefront, said to be for the coupling, at the read that couples them", () => {
    const text = 'rnn g grid {\n  dims D = 4\n  input  x[D], a[D]\n  state  r[D] = 0\n  state  c[D] = 0\n  r[d] <- a[d] * r.left[d] + 0.5 * c.up[d] + x[d]\n  c[d] <- a[d] * c.up[d] + 0.5 * r.left[d]\n  output y[d] = r[d] + c[d]\n}\n';
    const g = grid(text);
    expect(g.form).toBe('wavefront');
    expect([...g.rows.states, ...g.columns.states].map((s) => s.classification.kind)).toContain('coupled');
    expect(g.why).toBe("the states are coupled (one state's update reads another's), so no axis alone is a scan: the wavefront");
    expect(g.reason?.message).toMatch(/reads state `[rc]`/);
  });

  it('nonlinear in one neighbour only: the wavefront, with the read that stops a scan at its span', () => {
    const text = cell('g[d] * h.left[d] + x[d]', '  let g[d] = sigmoid(u[d] * h.up[d])\n');
    const g = grid(text);
    // Along the rows the gate is known before the step (h.up held fixed): a scan; along the columns it is not.
    expect(kinds(g)).toEqual(['affine', 'nonlinear']);
    expect(g.form).toBe('wavefront');
    const source = new SourceFile('g.rnn', text);
    expect(source.position(g.reason!.span.start)).toMatchObject({ line: 6, column: 29 });
    const lines = gridAnalysisText(g, source);
    expect(lines.at(-1)).toBe('  form    wavefront: not affine in a neighbour: the wavefront only (`h` is read inside `sigmoid`, at 6:29)');
  });

  it('the view along an axis turns the other neighbour into an input and the time analysis sees a plain cell', () => {
    const m = frontEnd(cell('a[d] * h.left[d] + b[d] * h.up[d] + x[d]')).module!;
    const text = printModule(alongAxis(m, 'rows'));
    expect(text.split('\n')[0]).toBe('rnn g');
    expect(text).toContain('input h.up[D]');
    expect(text).toContain('load state.old h[d]');
    expect(text).toContain('load input h.up[d]');
    expect(m.grid).toBe(true); // the grid module itself is unchanged
  });

  it('a rows-form cell runs as its view along the rows: each row a time sequence of W steps (the reference, both ways)', () => {
    const m = frontEnd(cell('a[d] * h.left[d] + select(x[d] > 0, x[d], 0.5 * b[d])')).module!;
    const [batch, H, W, D] = [2, 3, 5, 4];
    const n = batch * H * W * D;
    const fill = (seed: number) => Float64Array.from({ length: n }, (_, i) => Math.sin(seed * 7.1 + i * 1.3));
    const inputs = { x: fill(1), a: fill(2), b: fill(3) };
    const params = { u: new Float64Array(D) };
    const onGrid = interpret(m, { batch, T: H * W, sizes: { D }, grid: { H, W } }, { inputs, params });
    // [batch, H, W, D] is [batch * H, W, D]: the rows as sequences of the time view.
    const asTime = interpret(alongAxis(m, 'rows'), { batch: batch * H, T: W, sizes: { D } }, { inputs, params });
    expect(Array.from(asTime.outputs['y']!)).toEqual(Array.from(onGrid.outputs['y']!));
    // The grid's final state is the last row's.
    for (let b = 0; b < batch; b++) expect(Array.from(onGrid.final['h']!.subarray(b * D, (b + 1) * D))).toEqual(Array.from(asTime.final['h']!.subarray((b * H + H - 1) * D, (b * H + H) * D)));
  });

  it('explain --after analyse prints the analysis per axis for a grid cell', () => {
    const source = new SourceFile('g.rnn', cell('a[d] * h.left[d] + b[d] * h.up[d] + x[d]'));
    const { state } = runPipeline(source, 'analyse');
    const printed = passes.find((p) => p.name === 'analyse')!.print(state);
    expect(printed).toContain('  along the rows (in `.left`, `.up` held fixed):');
    expect(printed).toContain('  along the columns (in `.up`, `.left` held fixed):');
    expect(printed).toContain('  form    wavefront: affine in both neighbours');
  });
});
