// Running a compiled cell on the GPU: a mode picks a run backend (kernel + packing), the job is
// checked against the adapter's limits before any data exists, run through the Dawn runtime, and its
// buffers decoded into per-tensor arrays. Runtime failures become errors a user can act on.
import type { Module } from '../compiler/ir/ir.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import { emitSeq } from '../../backends/wgsl-seq/emit.js';
import { bufferElements, scaleValue, type OffsetScale } from '../../backends/wgsl-seq/layout.js';
import { seqDispatch } from '../../backends/wgsl-seq/emit.js';
import { deviceBytes, GpuError, GpuSession, type AdapterLimits, type AdapterSummary, type GpuJob, type GpuSessionOptions } from '../runtime/dawn/runtime.js';
import { RnncError } from './errors.js';
import { packRun, unpackRun, type RunArrays, type RunResult } from '../../backends/wgsl-seq/pack.js';
import { scanRunBackend } from './scan-run.js';
import { chunkRunBackend } from '../../backends/wgsl-chunk/index.js';

export interface RunSize {
  batch: number;
  T: number;
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

/** A kernel compiled for one run size: what it will allocate and dispatch, and how to pack and unpack data. */
export interface PreparedRun {
  mode: string;
  /** Generated WGSL per shader label (for reports). */
  shaders: Record<string, string>;
  footprint: BufferFootprint[];
  dispatches: Dispatch[];
  job(data: RunArrays): GpuJob;
  decode(buffers: Record<string, ArrayBuffer>): RunResult;
}

/** `adapter`, once the GPU is open: a backend may fit its kernels to it (the scan's use of subgroups). */
export type RunBackend = (module: Module, sizes: DimSizes, size: RunSize, adapter?: AdapterSummary) => PreparedRun;

const SCALE_PREFIX: Record<OffsetScale, string[]> = { '1': [], batch: ['batch'], 'batch*T': ['batch', 'T'] };

/** The sequential kernel: one dispatch, buffers shared per role (backends/wgsl-seq/layout.ts). */
export const seqRunBackend: RunBackend = (module, sizes, { batch, T }) => {
  const kernel = emitSeq(module, sizes);
  const label = `${module.name}.seq`;
  return {
    mode: 'seq',
    shaders: { [label]: kernel.wgsl },
    footprint: [
      { buffer: 'params', usage: 'uniform', bytes: 16, tensors: [] },
      ...kernel.layout.buffers.map((b) => ({
        buffer: b.role,
        usage: b.usage,
        bytes: 4 * bufferElements(b, batch, T),
        tensors: b.regions.map((r) => ({ name: r.tensor, shape: [...SCALE_PREFIX[b.scale], ...r.dims], bytes: 4 * r.size * scaleValue(b.scale, batch, T) })),
      })),
    ],
    dispatches: [{ label, workgroups: seqDispatch(kernel, batch), scaledBy: ['--batch', ...kernel.sliceAxes.map((d) => `--dim ${d}`)] }],
    job(data) {
      const packed = packRun(module, kernel, data);
      return {
        shaders: [{ label, code: kernel.wgsl, entryPoint: kernel.entryPoint }],
        buffers: packed.buffers,
        passes: [{ shader: label, bindings: packed.bindings, dispatch: packed.dispatch }],
      };
    },
    decode: (buffers) => unpackRun(kernel, batch, T, buffers),
  };
};

/**
 * Run backends by `--mode`; `auto` chooses between seq and scan. The chunked kernel is opt-in:
 * on lavapipe it measured 10-50x slower than seq (docs/chunk-bench.md), so auto does not pick it.
 */
export const runBackends: Record<string, RunBackend> = { seq: seqRunBackend, scan: scanRunBackend, chunk: chunkRunBackend };

const mib = (n: number) => `${n} bytes (${(n / 2 ** 20).toFixed(1)} MiB)`;

/** The flags that size a symbolic shape: `--batch`, `--T`, `--dim NAME`. */
function flagsFor(shape: string[]): string[] {
  return shape.map((s) => (s === 'batch' ? '--batch' : s === 'T' ? '--T' : `--dim ${s}`));
}

function orList(items: string[]): string {
  const unique = [...new Set(items)];
  return unique.length <= 1 ? (unique[0] ?? '') : `${unique.slice(0, -1).join(', ')} or ${unique.at(-1)}`;
}

/**
 * Throws a RnncError (exit 1) when a buffer or a dispatch exceeds the adapter's limits, naming the
 * buffer, its largest tensor, the bytes, the limit and the flags to lower. Runs before any data is
 * allocated, so an oversized request fails at once instead of exhausting host memory.
 */
export function checkLimits(run: PreparedRun, limits: AdapterLimits, sizes: DimSizes, size: RunSize): void {
  const valueOf = (s: string) => (s === 'batch' ? size.batch : s === 'T' ? size.T : sizes[s]);
  const shapeText = (shape: string[]) => `[${shape.map((s) => `${s}=${valueOf(s)}`).join(', ')}]`;
  for (const b of run.footprint) {
    const bytes = deviceBytes(b);
    const checks: [keyof AdapterLimits, number][] = [
      ['maxBufferSize', limits.maxBufferSize],
      b.usage === 'uniform' ? ['maxUniformBufferBindingSize', limits.maxUniformBufferBindingSize] : ['maxStorageBufferBindingSize', limits.maxStorageBufferBindingSize],
    ];
    for (const [name, limit] of checks) {
      if (bytes <= limit) continue;
      const largest = [...b.tensors].sort((x, y) => y.bytes - x.bytes)[0];
      const what = largest ? `; its largest tensor is \`${largest.name}\` ${shapeText(largest.shape)}, ${mib(largest.bytes)}` : '';
      const flags = largest ? orList(flagsFor(largest.shape.filter((s) => (valueOf(s) ?? 1) > 1))) : '';
      throw new RnncError(
        `rnnc: the ${run.mode} kernel's \`${b.buffer}\` buffer would need ${mib(bytes)}, more than this adapter's ${name} of ${mib(limit)}${what}.` +
          (flags ? ` Lower ${flags}.` : ''),
      );
    }
  }
  for (const d of run.dispatches) {
    d.workgroups.forEach((n, axis) => {
      if (n > limits.maxComputeWorkgroupsPerDimension)
        throw new RnncError(
          `rnnc: kernel \`${d.label}\` would dispatch ${n} workgroups along ${'xyz'[axis]}, more than this adapter's maxComputeWorkgroupsPerDimension of ${limits.maxComputeWorkgroupsPerDimension}. Lower ${orList(d.scaledBy)}.`,
        );
    });
  }
}

/**
 * A runtime failure as the CLI reports it. A missing driver is the environment's problem (exit 1,
 * with the install hint); a shader that does not compile or a job Dawn rejects is rnnc's bug
 * (exit 2, with the generated line); a crashed host is the known webgpu 0.6.2 crash (exit 2).
 */
export function gpuFailure(e: GpuError): RnncError {
  switch (e.kind) {
    case 'no-adapter':
      return new RnncError(`rnnc: cannot run on a GPU: ${e.message}`, 'input');
    case 'limits':
      return new RnncError(`rnnc: ${e.message}`, 'input');
    case 'shader':
      // The runtime's message already starts with "internal error" and shows the generated line.
      return new RnncError(`rnnc: ${e.message}`, 'internal');
    case 'validation':
      return new RnncError(`rnnc: internal error: the GPU rejected the job rnnc built: ${e.message}; please report it with the spec`, 'internal');
    case 'host-crashed':
      return new RnncError(`rnnc: the GPU run failed: ${e.message}\nThe crash is intermittent: running the command again usually succeeds.`, 'internal');
    case 'device-lost':
    case 'timeout':
      return new RnncError(`rnnc: the GPU run failed: ${e.message}`, 'internal');
  }
}

/** Maps a GpuError thrown by `fn` to the CLI's error; anything else passes through. */
export async function reportingGpuErrors<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    throw e instanceof GpuError ? gpuFailure(e) : e;
  }
}

export function openGpu(options?: GpuSessionOptions): Promise<GpuSession> {
  return reportingGpuErrors(() => GpuSession.open(options));
}

/** Checks the limits, runs the job and decodes its results. */
export async function runPrepared(session: GpuSession, run: PreparedRun, data: RunArrays, sizes: DimSizes): Promise<RunResult> {
  checkLimits(run, session.adapter.limits, sizes, data);
  const job = run.job(data);
  const result = await reportingGpuErrors(() => session.run(job));
  return run.decode(result.buffers);
}
