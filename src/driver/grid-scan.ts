// The parallel form of a separable grid cell (issue 18): a cell whose updates read only `.left` (the
// 'rows' form) is its view along the rows (src/compiler/ir/grid-axes.ts `alongAxis`), a plain time
// cell, run by the existing kernels with each row a sequence of W steps; a 'columns' form likewise
// along the columns. A 'wavefront' cell is refused here: the wavefront kernel runs it.
// STUB: the API only; the implementation follows.
import type { GridAnalysis } from '../compiler/analyse/grid.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import type { GridAxis } from '../compiler/ir/grid-axes.js';
import type { Module } from '../compiler/ir/ir.js';
import type { Mode } from '../compiler/plan/plan.js';
import type { RunArrays, RunResult } from '../../backends/backend.js';
import type { Device } from '../runtime/device.js';
import type { PlanOptions } from './compile.js';
import { RnncError } from './errors.js';

export interface GridSize {
  batch: number;
  H: number;
  W: number;
}

export interface GridScanOptions {
  /** The kernel run along the axis: 'scan' (default) or any time mode the view admits. */
  mode?: Mode;
  /** Other planning options (precision, chunk, split) passed to the plan of the view. */
  plan?: Omit<PlanOptions, 'mode' | 'dims'>;
}

export interface GridScanResult extends RunResult {
  /** The axis the cell ran along. */
  axis: GridAxis;
}

/** Why a grid cell cannot run along one axis (its form is the wavefront), or undefined when it can. */
export function gridScanRefusal(module: Module, grid: GridAnalysis): string | undefined {
  if (grid.form === 'wavefront') return `rnnc: ${module.name} reads both neighbours (form wavefront: ${grid.why}): no scan along one axis runs it; the wavefront kernel does`;
  return undefined;
}

/**
 * Runs a 'rows', 'columns' or 'pointwise' grid cell along its axis on `device`. `data` is laid out as
 * for T = H*W (inputs [batch, H, W, ...dims], params [...dims], initial states [batch, ...dims]); the
 * result is outputs [batch, H, W, ...dims] and final states [batch, ...dims] (the state at (H-1, W-1)).
 */
export async function runGridAlongAxis(module: Module, grid: GridAnalysis, sizes: DimSizes, size: GridSize, data: RunArrays, device: Device, options: GridScanOptions = {}): Promise<GridScanResult> {
  void sizes;
  void size;
  void data;
  void device;
  void options;
  const refusal = gridScanRefusal(module, grid);
  if (refusal) throw new RnncError(refusal);
  throw new RnncError('rnnc: the scan along a grid axis is not built yet');
}
