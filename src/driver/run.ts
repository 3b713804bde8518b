// Running compiled kernels: a prepared run is checked against the adapter's limits before any data
// exists, run on a Device, and its buffers decoded into per-tensor arrays. Runtime failures become
// errors a user can act on.
import type { DimSizes } from '../compiler/ir/dims.js';
import type { Target } from '../compiler/plan/plan.js';
import type { PreparedRun, RunArrays, RunResult, RunSize } from '../../backends/backend.js';
import { GpuError, type AdapterLimits, type AdapterSummary } from '../../backends/job.js';
import { deviceBytes } from '../runtime/dawn/check.js';
import { killedFromOutside } from '../runtime/dawn/death.js';
import { openDevice, type Device, type DeviceOptions } from '../runtime/device.js';
import { RnncError } from './errors.js';
import { lookBackSafe } from '../../backends/wgsl-scan/index.js';

export type { PreparedRun, RunArrays, RunResult, RunSize } from '../../backends/backend.js';

/** Subgroup kernels run where the adapter has subgroups that hold a scan stripe (8 invocations). */
export const targetOf = (adapter: Pick<AdapterSummary, 'features' | 'subgroupMinSize'> & Partial<Pick<AdapterSummary, 'vendor' | 'architecture' | 'device' | 'description' | 'isSoftware'>>): Target => ({
  subgroups: adapter.features.includes('subgroups') && (adapter.subgroupMinSize ?? 0) >= 8,
  lookBack: lookBackSafe(adapter),
  f16: adapter.features.includes('shader-f16'),
});

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
 * Why a prepared run exceeds the adapter's limits, or undefined when it fits: the buffer, its
 * largest tensor, the bytes, the limit and the flags to lower. Checked before any data is allocated.
 */
export function limitViolation(run: PreparedRun, limits: AdapterLimits, sizes: DimSizes, size: RunSize): string | undefined {
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
      return `rnnc: the ${run.mode} kernel's \`${b.buffer}\` buffer would need ${mib(bytes)}, more than this adapter's ${name} of ${mib(limit)}${what}.` + (flags ? ` Lower ${flags}.` : '');
    }
  }
  for (const d of run.dispatches)
    for (const [axis, n] of d.workgroups.entries())
      if (n > limits.maxComputeWorkgroupsPerDimension)
        return `rnnc: kernel \`${d.label}\` would dispatch ${n} workgroups along ${'xyz'[axis]}, more than this adapter's maxComputeWorkgroupsPerDimension of ${limits.maxComputeWorkgroupsPerDimension}. Lower ${orList(d.scaledBy)}.`;
  return undefined;
}

/** Throws a RnncError (exit 1) when a prepared run exceeds the adapter's limits (see limitViolation). */
export function checkLimits(run: PreparedRun, limits: AdapterLimits, sizes: DimSizes, size: RunSize): void {
  const why = limitViolation(run, limits, sizes, size);
  if (why !== undefined) throw new RnncError(why);
}

/**
 * A runtime failure as the CLI reports it. A missing driver is the environment's problem (exit 1,
 * with the install hint); a shader that does not compile or a job Dawn rejects is rnnc's bug
 * (exit 2, with the generated line); a crashed host is the known webgpu 0.6.2 crash (exit 2), unless
 * a signal from outside killed it (exit 2, saying so).
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
      // Killed from outside (kill -9, the OOM killer): not the crash, and rerunning as is may meet the same fate.
      if (killedFromOutside(e)) {
        const oom = e.details?.signal === 'SIGKILL' ? ' If memory ran out (the kernel log, `dmesg`, says so), lower --batch, --T or a --dim.' : '';
        return new RnncError(`rnnc: the GPU run failed: ${e.message} Nothing was written.${oom}`, 'internal');
      }
      return new RnncError(`rnnc: the GPU run failed: ${e.message}\nThe crash is intermittent: running the command again usually succeeds.`, 'internal');
    case 'device-lost':
      return new RnncError(`rnnc: the GPU run failed: ${e.message}`, 'internal');
    case 'timeout':
      return new RnncError(`rnnc: the GPU run failed: ${e.message}`, 'internal', 'timeout');
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

export function openGpu(options?: DeviceOptions): Promise<Device> {
  return reportingGpuErrors(() => openDevice(options));
}

/** Checks the limits, runs the job and decodes its results. */
export async function runPrepared(session: Device, run: PreparedRun, data: RunArrays, sizes: DimSizes): Promise<RunResult> {
  checkLimits(run, session.adapter.limits, sizes, data);
  const job = run.job(data);
  const result = await reportingGpuErrors(() => session.run(job));
  return run.decode(result.buffers);
}
