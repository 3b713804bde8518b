// Validation before belief: every kernel rnnc emits goes through Tint (Dawn's createShaderModule and
// getCompilationInfo) before it is written with --validate, snapshotted, benchmarked or run.
import type { CompiledCell } from '../../backends/backend.js';
import { formatShaderError } from '../runtime/dawn/frame.js';
import type { Device } from '../runtime/device.js';
import { reportingGpuErrors } from './run.js';

/** Tint's errors on the compiled kernels, each rendered with a code frame on the generated WGSL; empty when all are valid. */
export async function validateKernels(device: Device, compiled: CompiledCell): Promise<string[]> {
  const shaders = compiled.kernels.map((k) => ({ label: k.file, code: k.wgsl, entryPoint: k.entryPoint }));
  const reports = await reportingGpuErrors(() => device.compileShaders(shaders));
  return reports.flatMap((r, i) => (r.messages.some((m) => m.type === 'error') ? [formatShaderError(r.label, shaders[i]!.code, r.messages)] : []));
}
