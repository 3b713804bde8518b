// The one interface every backend implements, and what they hand back. The planner asks a backend
// once (`probe`, from ModeProbe) whether it takes a cell and with which decisions; `compile` then
// builds exactly what the plan recorded; `prepare` turns the compiled kernels into a GPU job for one
// run size. Nothing here knows about Dawn: a job is data (backends/job.ts) any WebGPU runtime runs.
import { halfStorage, type Compilation, type Mode, type ModeProbe } from '../src/compiler/plan/plan.js';
import type { GpuJob } from './job.js';
import type { RunArrays, RunResult } from './run-data.js';

export type { RunArrays, RunResult } from './run-data.js';

export interface RunSize {
  batch: number;
  T: number;
  /** A grid cell's rows and columns (T = H * W, positions in row-major order); absent for a time cell. */
  grid?: { H: number; W: number };
}

/** One tensor's share of a GPU buffer; `shape` is symbolic (`batch`, `T`, dim names) to name the flags that size it. */
export interface FootprintTensor {
  name: string;
  shape: string[];
  bytes: number;
}

export interface BufferFootprint {
  buffer: string;
  usage: 'uniform' | 'storage-read' | 'storage';
  bytes: number;
  tensors: FootprintTensor[];
}

export interface Dispatch {
  label: string;
  workgroups: [number, number, number];
  /** The flags that scale the workgroup count, for the message when it is too large. */
  scaledBy: string[];
}

/** Compiled kernels at one run size: what they will allocate and dispatch, and how to pack and unpack data. */
export interface PreparedRun {
  mode: Mode;
  /** Generated WGSL per shader label (for reports). */
  shaders: Record<string, string>;
  footprint: BufferFootprint[];
  dispatches: Dispatch[];
  job(data: RunArrays): GpuJob;
  decode(buffers: Record<string, ArrayBuffer>): RunResult;
}

/** One WGSL kernel of a compiled cell. */
export interface Kernel {
  /** `<cell>.<kernel>`: the shader label in jobs and reports. */
  label: string;
  /** The file `rnnc compile` writes it to. */
  file: string;
  wgsl: string;
  entryPoint: string;
}

export interface GeneratedFile {
  /** File name inside the output directory. */
  name: string;
  text: string;
}

/** What a backend builds from a Compilation. */
export interface CompiledCell {
  mode: Mode;
  kernels: Kernel[];
  /** The JSON manifest: bindings, layouts and the plan's decisions, for hosts written by hand. */
  manifest: object;
  /** The typed TypeScript host module (depends on WebGPU only). */
  hostModule(sourcePath: string): Promise<string>;
  prepare(size: RunSize): PreparedRun;
}

export interface Backend<M extends Mode = Mode> extends ModeProbe<M> {
  /** One line for `--help`. */
  readonly description: string;
  /** Builds the kernels of a compilation whose plan chose this backend's mode. */
  compile(c: Compilation): CompiledCell;
}

/** The files `rnnc compile` writes for a compiled cell: kernels, `<name>.<mode>.json` or `<name>.json`, and the host module. */
export async function generatedFiles(c: Compilation, compiled: CompiledCell, sourcePath: string): Promise<GeneratedFile[]> {
  const base = compiled.mode === 'seq' ? c.module.name : `${c.module.name}.${compiled.mode}`;
  // With f16 storage the manifest says which buffers hold f16 (2 bytes an element, each buffer padded
  // to 16 bytes); the host module packs them (rnnc/runtime's halfBits) and widens its outputs.
  const half = halfStorage(c.plan);
  const manifest = half ? { ...compiled.manifest, precision: { ...c.plan.precision, f16Buffers: 'inputs, params (the seq and chunk kernels\' weights) and outputs: f16 (Uint16Array bits, or Float16Array where the runtime has it), each buffer padded to a multiple of 16 bytes' } } : compiled.manifest;
  return [
    ...compiled.kernels.map((k) => ({ name: k.file, text: k.wgsl })),
    { name: `${base}.json`, text: JSON.stringify(manifest, null, 2) + '\n' },
    { name: `${base}.ts`, text: await compiled.hostModule(sourcePath) },
  ];
}
