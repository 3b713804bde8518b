// The analysis of a grid cell (issue 18), per axis: each update classified as a 1-D recurrence along
// the rows (in `h.left`, `h.up` held fixed) and along the columns (in `h.up`, `h.left` held fixed) with
// the time analysis unchanged (src/compiler/ir/grid-axes.ts builds the two views), then which parallel
// form the grid admits and why. The wavefront kernel (backends/wgsl-grid, `--mode seq`) runs every
// grid cell; the 'rows' and 'columns' forms also run along their axis (src/driver/grid-scan.ts).
import type { Module } from '../ir/ir.js';
import { alongAxis, readsNeighbour, type GridAxis } from '../ir/grid-axes.js';
import type { SourceFile } from '../diagnostics/render.js';
import { analyse, type AnalyseOptions } from './analyse.js';
import { analysisText } from './report.js';
import type { Analysis, Reason } from './types.js';

export type GridForm =
  /** No update reads a neighbour: every position is independent of the others. */
  | 'pointwise'
  /** Updates read only `.left`: each row is an independent 1-D recurrence along its columns. */
  | 'rows'
  /** Updates read only `.up`: each column is an independent 1-D recurrence along its rows. */
  | 'columns'
  /** Updates read both neighbours: anti-diagonals r + c = k in order, the positions of one in parallel. */
  | 'wavefront';

export interface GridAnalysis {
  rows: Analysis;
  columns: Analysis;
  form: GridForm;
  /** Whether the 1-D recurrence of a 'rows' or 'columns' form is a parallel scan. */
  scan: boolean;
  /** Why, as a sentence. */
  why: string;
  /** A neighbour read that stops anything but the wavefront (nonlinear in it), at its span. */
  reason?: Reason;
}

const affine = (a: Analysis) => a.states.every((s) => s.classification.kind === 'affine' || s.classification.kind === 'independent');

export function analyseGrid(m: Module, options: AnalyseOptions = {}): GridAnalysis {
  const rows = analyse(alongAxis(m, 'rows'), options).analysis;
  const columns = analyse(alongAxis(m, 'columns'), options).analysis;
  // Lets that read a neighbour feed the updates (or outputs); either way the position waits for it.
  const recurrent = m.step.filter((d) => d.kind === 'update' || d.kind === 'let');
  const left = recurrent.some((d) => readsNeighbour(d, 'left'));
  const up = recurrent.some((d) => readsNeighbour(d, 'up'));
  if (!left && !up) return { rows, columns, form: 'pointwise', scan: false, why: 'no update reads a neighbour: every position is independent of the others' };
  if (left !== up) {
    const axis: GridAxis = left ? 'rows' : 'columns';
    const a = left ? rows : columns;
    const scan = a.plan !== undefined;
    const [line, other] = left ? ['row', 'column'] : ['column', 'row'];
    const why = `the updates read only \`.${left ? 'left' : 'up'}\`: each ${line} is an independent 1-D recurrence along it (the ${other}s batched), ${scan ? 'a parallel scan' : 'sequential (see the analysis along the ' + axis + ')'}`;
    return { rows, columns, form: axis, scan, why };
  }
  if (affine(rows) && affine(columns)) {
    return {
      rows,
      columns,
      form: 'wavefront',
      scan: false,
      why: 'affine in both neighbours: no scan along one axis alone; a wavefront over the anti-diagonals (with coefficients that do not depend on the position, also a 2-D convolution with a path-sum kernel)',
    };
  }
  const classes = [...rows.states, ...columns.states].map((s) => s.classification);
  const nonlinear = classes.find((c) => c.kind === 'nonlinear');
  // Coupled states (pLSTM's edge states feed each other) may be affine in all of them together; what
  // stops a scan along one axis is then the coupling, not a nonlinearity.
  const stop = nonlinear ?? classes.find((c) => c.kind === 'coupled');
  const reason = stop && 'reason' in stop ? stop.reason : undefined;
  const why = nonlinear ? 'not affine in a neighbour: the wavefront only' : 'the states are coupled (one state\'s update reads another\'s), so no axis alone is a scan: the wavefront';
  return { rows, columns, form: 'wavefront', scan: false, why, ...(reason ? { reason } : {}) };
}

/** The grid analysis as lines for `rnnc check` and `explain --after analyse`. */
export function gridAnalysisText(g: GridAnalysis, source: SourceFile): string[] {
  const at = (r: Reason) => {
    const p = source.position(r.span.start);
    return `${p.line}:${p.column}`;
  };
  return [
    `  grid    rows H and columns W replace time; the wavefront kernel runs it (\`rnnc run FILE --grid H,W\`)${g.form === 'rows' || g.form === 'columns' ? ', and so do the kernels along one axis (--mode scan or auto)' : ''}`,
    '  along the rows (in `.left`, `.up` held fixed):',
    ...analysisText(g.rows, source).map((l) => `  ${l}`),
    '  along the columns (in `.up`, `.left` held fixed):',
    ...analysisText(g.columns, source).map((l) => `  ${l}`),
    `  form    ${g.form}: ${g.why}${g.reason ? ` (${g.reason.message}, at ${at(g.reason)})` : ''}`,
  ];
}
