// What the driver needs of a GPU: an adapter summary, a way to run a job and a way to close. Dawn
// in a child process (dawn/runtime.ts) is the implementation in Node; a browser's navigator.gpu is
// the same job format run by the generated host modules (backends/host/).
import type { AdapterSummary, GpuJob, GpuJobResult, GpuShaderSpec, ShaderReport } from '../../backends/job.js';
import { GpuSession, type CompileShadersOptions, type GpuSessionOptions } from './dawn/runtime.js';

export interface Device {
  readonly adapter: AdapterSummary;
  run(job: GpuJob): Promise<GpuJobResult>;
  /** Tint's verdict on each shader (and, when asked, timed pipeline creation), without running anything. */
  compileShaders(shaders: GpuShaderSpec[], options?: CompileShadersOptions): Promise<ShaderReport[]>;
  close(): Promise<void>;
  /** Result memory the caller will not read again (its arrays are dropped): the device may read later results into it. */
  recycle?(buffers: Iterable<ArrayBuffer>): void;
}

export type DeviceOptions = GpuSessionOptions;

/** Opens the Dawn device; throws GpuError 'no-adapter' (with what to install) when there is no driver. */
export const openDevice = (options?: DeviceOptions): Promise<Device> => GpuSession.open(options);
