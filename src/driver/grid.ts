// Running a grid cell (`rnn name grid`, issue 18) as one kernel, the wavefront (backends/wgsl-grid),
// and the grid's files: inputs and outputs are [batch, H, W, ...dims], the time layout with T = H*W
// (positions in row-major order), so the data of a grid run is a time run's with T = H*W once each
// input file's two grid axes are merged into one; `--save` writes them back as [batch, H, W, ...].
import { tensorsOf, type Module, type Tensor } from '../compiler/ir/ir.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import type { Compilation } from '../compiler/plan/plan.js';
import type { AdapterLimits } from '../../backends/job.js';
import type { PreparedRun, RunArrays, RunResult } from '../../backends/backend.js';
import { deviceBytes } from '../runtime/dawn/check.js';
import type { Device } from '../runtime/device.js';
import { emit } from './compile.js';
import { checkHostMemory, type HostMemoryOptions } from './segments.js';
import { reportingGpuErrors } from './run.js';
import { savedNames, type InputDir } from './inputs.js';
import { npyParts } from './npy.js';
import { writeAllOrNothingAsync } from './output.js';
import { RnncError } from './errors.js';

export interface GridRunSize {
  batch: number;
  H: number;
  W: number;
}

/** A grid run as a time run: T = H * W. */
export const timeSize = (size: GridRunSize) => ({ batch: size.batch, T: size.H * size.W, grid: { H: size.H, W: size.W } });

/** The concrete shape of a tensor's array in a grid run: [batch, H, W, ...dims], [batch, ...dims] or [...dims]. */
export function gridArrayShape(t: Tensor, sizes: DimSizes, size: GridRunSize): number[] {
  const dims = t.dims.map((d) => sizes[d]!);
  return t.role === 'input' || t.role === 'output' ? [size.batch, size.H, size.W, ...dims] : t.role === 'state' ? [size.batch, ...dims] : dims;
}

/**
 * The input files of a grid run, each [batch, H, W, ...dims], as the time layout's [batch, H*W, ...]
 * (the same values: positions are row-major). The grid and the batch come from the first input file
 * when not given; every input file must agree with them. Param and state files pass unchanged.
 */
export function gridInputDir(m: Module, dir: InputDir, given: Partial<GridRunSize>): { dir: InputDir; size: Partial<GridRunSize> } {
  const size: Partial<GridRunSize> = { ...given };
  const files = new Map(dir.files);
  for (const t of tensorsOf(m, 'input')) {
    const f = dir.files.get(t.name);
    if (!f) continue;
    const want = `[batch, H, W${t.dims.map((d) => `, ${d}`).join('')}]`;
    if (f.shape.length !== 3 + t.dims.length) throw new RnncError(`rnnc: ${f.path} has shape (${f.shape.join(', ')}), but input \`${t.name}\` of the grid cell ${m.name} is ${want}: ${3 + t.dims.length} axes`);
    const [batch, H, W] = f.shape as [number, number, number];
    if (batch < 1 || H < 1 || W < 1) throw new RnncError(`rnnc: ${f.path} has shape (${f.shape.join(', ')}): a grid run needs at least one grid (batch), one row (H) and one column (W)`);
    for (const [name, n, flag] of [['H', H, '--grid'], ['W', W, '--grid'], ['batch', batch, '--batch']] as const) {
      const seen = size[name];
      if (seen !== undefined && seen !== n) throw new RnncError(`rnnc: ${f.path} has shape (${f.shape.join(', ')}), but input \`${t.name}\` is ${want} with ${name} = ${seen}${given[name] === seen ? ` (${flag})` : ' (as the other input files have it)'}`);
      size[name] = n;
    }
    files.set(t.name, { ...f, shape: [batch, H * W, ...f.shape.slice(3)] });
  }
  return { dir: { ...dir, files }, size };
}

/** Host memory for a grid run's arrays (as a time run's with T = H*W), with the grid's flags in the message. */
export function checkGridHostMemory(m: Module, sizes: DimSizes, size: GridRunSize, options: HostMemoryOptions = {}): void {
  try {
    checkHostMemory(m, sizes, timeSize(size), options);
  } catch (e) {
    if (e instanceof RnncError) throw new RnncError(e.message.replace(/\bT (\d+)/g, `T = H * W = $1`).replace(/--T\b/g, '--grid'), e.kind);
    throw e;
  }
}

/** Why the wavefront kernel's buffers exceed the adapter's limits, or undefined when they fit. */
export function gridLimitViolation(run: PreparedRun, limits: AdapterLimits, size: GridRunSize): string | undefined {
  for (const b of run.footprint) {
    const bytes = deviceBytes(b);
    const limit = b.usage === 'uniform' ? limits.maxUniformBufferBindingSize : Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    if (bytes <= limit) continue;
    return `rnnc: the wavefront kernel's \`${b.buffer}\` buffer would need ${bytes} bytes (${(bytes / 2 ** 20).toFixed(1)} MiB) for batch ${size.batch} × grid ${size.H} x ${size.W}, more than this adapter's limit of ${limit} bytes. Lower --batch, --grid or a --dim.`;
  }
  return undefined;
}

/** Runs a grid cell's compilation (its wavefront kernel) on `device` over one batch of grids. */
export async function runGridKernel(device: Device, c: Compilation, data: RunArrays, size: GridRunSize): Promise<RunResult> {
  if (!c.module.grid) throw new Error(`runGridKernel: ${c.module.name} is not a grid cell`);
  if (data.T !== size.H * size.W || data.batch !== size.batch) throw new Error(`runGridKernel: data of batch ${data.batch}, T ${data.T} for batch ${size.batch} × grid ${size.H} x ${size.W}`);
  const prepared = emit(c).prepare(timeSize(size));
  const why = gridLimitViolation(prepared, device.adapter.limits, size);
  if (why) throw new RnncError(why);
  const result = await reportingGpuErrors(() => device.run(prepared.job(data)));
  return prepared.decode(result.buffers);
}

/** Writes `<output>.npy` ([batch, H, W, ...]) and `<state>.final.npy` ([batch, ...]), all or nothing; returns the paths. */
export function saveGridResults(dir: string, m: Module, sizes: DimSizes, size: GridRunSize, result: RunResult): Promise<string[]> {
  const tensors = [...tensorsOf(m, 'output'), ...tensorsOf(m, 'state')];
  const names = savedNames(m);
  const files = tensors.map((t, k) => ({ name: names[k]!, data: npyParts({ shape: gridArrayShape(t, sizes, size), data: t.role === 'output' ? result.outputs[t.name]! : result.finalState[t.name]! }) }));
  return writeAllOrNothingAsync(dir, files, `--save ${dir}`);
}
