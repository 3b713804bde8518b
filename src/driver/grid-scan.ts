// The parallel form of a separable grid cell (issue 18). A cell whose updates read only `.left` (the
// 'rows' form) is its view along the rows (src/compiler/ir/grid-axes.ts `alongAxis`): a plain time
// cell, run here by the existing planner, kernels and run API with each of the batch·H rows a sequence
// of W steps. A 'columns' form is the same along the columns: batch·W sequences of H steps, the data
// transposed on the host (below, why). A 'pointwise' cell runs as either. The final state is the one
// at (H-1, W-1): the last step of the last row (or column). A 'wavefront' cell is refused here with the
// reason: the wavefront kernel (src/driver/grid.ts) runs it.
import type { GridAnalysis } from '../compiler/analyse/grid.js';
import type { Analysis } from '../compiler/analyse/types.js';
import { tensorSize, type DimSizes } from '../compiler/ir/dims.js';
import { alongAxis, type GridAxis } from '../compiler/ir/grid-axes.js';
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import type { Compilation, Mode } from '../compiler/plan/plan.js';
import type { RunArrays, RunResult } from '../../backends/backend.js';
import type { Device } from '../runtime/device.js';
import { run } from './api.js';
import { plan, type PlanOptions } from './compile.js';
import { RnncError } from './errors.js';
import { targetOf } from './run.js';

export interface GridSize {
  batch: number;
  H: number;
  W: number;
}

export interface GridScanOptions {
  /** The kernel run along the axis: 'scan' (default) or another time mode the view admits. */
  mode?: Mode;
  /** Other planning options (precision, chunk, split) for the plan of the view. */
  plan?: Omit<PlanOptions, 'mode' | 'dims' | 'target'>;
  /** Steps per piece at most (streaming), as `run` takes it. */
  segment?: number;
}

export interface GridScanResult extends RunResult {
  /** The axis the cell ran along. */
  axis: GridAxis;
  /** The compilation of the view along the axis (its plan says which kernel ran). */
  compilation: Compilation;
}

export interface GridAxisChoice {
  axis: GridAxis;
  /** The cell as a time recurrence along the axis. */
  view: Module;
  /** The time analysis of the view (the grid analysis's, computed on the same view). */
  analysis: Analysis;
}

/**
 * The axis a grid cell runs along, or why none: the 'rows' and 'columns' forms have theirs; a
 * 'pointwise' cell takes the rows unless an output reads `.up`. Refused: the wavefront form, and an
 * output that reads the neighbour across the axis (`h.up` in a rows-form cell), which is the state of
 * the previous row, not known while the rows run side by side.
 */
export function chooseGridAxis(module: Module, grid: GridAnalysis): GridAxisChoice | string {
  if (grid.form === 'wavefront') return `${module.name} reads both neighbours in its updates (form wavefront: ${grid.why}): no scan along one axis runs it; the wavefront kernel does`;
  const axes: GridAxis[] = grid.form === 'pointwise' ? ['rows', 'columns'] : [grid.form];
  for (const axis of axes) {
    const view = alongAxis(module, axis);
    // alongAxis adds an input for each state read across the axis; none may be left.
    if (view.tensors.length === module.tensors.length) return { axis, view, analysis: axis === 'rows' ? grid.rows : grid.columns };
  }
  const across = grid.form === 'columns' ? 'left' : 'up';
  const what = grid.form === 'pointwise' ? 'outputs read both `.left` and `.up`' : `an output reads \`.${across}\` (across the ${grid.form}, the ${grid.form === 'rows' ? 'previous row' : 'previous column'}'s state)`;
  return `${module.name} cannot run as independent ${grid.form === 'pointwise' ? 'rows or columns' : grid.form}: ${what}; the wavefront kernel runs it`;
}

/** Why a grid cell cannot run along one axis, or undefined when it can (see chooseGridAxis). */
export function gridScanRefusal(module: Module, grid: GridAnalysis): string | undefined {
  const c = chooseGridAxis(module, grid);
  return typeof c === 'string' ? `rnnc: ${c}` : undefined;
}

/** [outer, A, B, width] → [outer, B, A, width]. Narrow blocks are copied value by value: a subarray per block costs more than the copy (measured in docs/time-direction.md). */
function swapAxes(a: Float32Array, outer: number, A: number, B: number, width: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let o = 0; o < outer; o++)
    for (let i = 0; i < A; i++)
      for (let j = 0; j < B; j++) {
        const from = ((o * A + i) * B + j) * width;
        const to = ((o * B + j) * A + i) * width;
        if (width >= 64) out.set(a.subarray(from, from + width), to);
        else for (let k = 0; k < width; k++) out[to + k] = a[from + k]!;
      }
  return out;
}

/** Each sequence's block of `width` values, `times` times in a row: [batch, width] → [batch·times, width]. */
function repeatEach(a: Float32Array, batch: number, times: number, width: number): Float32Array {
  const out = new Float32Array(a.length * times);
  for (let b = 0; b < batch; b++) for (let k = 0; k < times; k++) out.set(a.subarray(b * width, (b + 1) * width), (b * times + k) * width);
  return out;
}

/**
 * Runs a 'rows', 'columns' or 'pointwise' grid cell along its axis on `device`. `data` is laid out as
 * for T = H*W (inputs [batch, H, W, ...dims] row-major, params [...dims], initial states
 * [batch, ...dims]); the result is outputs [batch, H, W, ...dims] and final states [batch, ...dims]
 * (the state at (H-1, W-1)). A cell this cannot run is a RnncError that says why.
 *
 * The columns' transpose is done on the host: the run API packs every input into its buffers on the
 * host anyway (one more pass over data already in memory, measured in docs/time-direction.md), while a
 * GPU copy pass would need its own buffers and dispatch inside every backend's job.
 */
export async function runGridAlongAxis(module: Module, grid: GridAnalysis, sizes: DimSizes, size: GridSize, data: RunArrays, device: Device, options: GridScanOptions = {}): Promise<GridScanResult> {
  const choice = chooseGridAxis(module, grid);
  if (typeof choice === 'string') throw new RnncError(`rnnc: ${choice}`);
  const { axis, view, analysis } = choice;
  const { batch, H, W } = size;
  if (data.batch !== batch || data.T !== H * W) throw new Error(`runGridAlongAxis: data is [${data.batch}, ${data.T}], the grid [${batch}, ${H}x${W}]`);
  if (data.lengths) throw new RnncError('rnnc: a grid cell takes no lengths (every position of the grid runs)');
  // Along the rows: batch·H sequences of W steps; along the columns: batch·W sequences of H steps.
  const [lines, steps] = axis === 'rows' ? [H, W] : [W, H];
  const width = (name: string) => tensorSize(module.tensors.find((t) => t.name === name)!, sizes);
  const toLines = (a: Float32Array, name: string) => (axis === 'rows' ? a : swapAxes(a, batch, H, W, width(name)));
  const fromLines = (a: Float32Array, name: string) => (axis === 'rows' ? a : swapAxes(a, batch, W, H, width(name)));

  const initialState: Record<string, Float32Array> = {};
  for (const [name, a] of Object.entries(data.initialState ?? {})) initialState[name] = repeatEach(a, batch, lines, width(name));
  const along: RunArrays = {
    batch: batch * lines,
    T: steps,
    inputs: Object.fromEntries(Object.entries(data.inputs).map(([name, a]) => [name, toLines(a, name)])),
    params: data.params,
    initialState,
  };

  const compilation = plan(view, analysis, { ...options.plan, dims: sizes, mode: options.mode ?? 'scan', target: targetOf(device.adapter), verb: `run along the ${axis}` });
  const result = await run(compilation, along, { device, ...(options.segment !== undefined ? { segment: options.segment } : {}) });

  // The final state at (H-1, W-1): the last line's (row H-1, or column W-1) of each batch element.
  const finalState: Record<string, Float32Array> = {};
  for (const t of tensorsOf(module, 'state')) {
    const n = width(t.name);
    const all = result.finalState[t.name]!;
    const out = new Float32Array(batch * n);
    for (let b = 0; b < batch; b++) out.set(all.subarray((b * lines + lines - 1) * n, (b * lines + lines) * n), b * n);
    finalState[t.name] = out;
  }
  const outputs = Object.fromEntries(Object.entries(result.outputs).map(([name, a]) => [name, fromLines(a, name)]));
  return { outputs, finalState, axis, compilation };
}
