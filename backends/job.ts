// Types shared by the parent-side runtime (runtime.ts) and the Dawn host process (host.ts).
// Nothing here loads `webgpu`: the parent must never load it (see docs/dawn-crash.md).

export type BufferUsageKind = 'uniform' | 'storage-read' | 'storage';

export interface GpuBufferSpec {
  name: string;
  /** Size in bytes; rounded up to a multiple of 4 (uniforms: 16) on the device. */
  bytes: number;
  usage: BufferUsageKind;
  /** Initial contents (at most `bytes` bytes); the rest is zero. */
  data?: ArrayBufferView | ArrayBuffer;
  /**
   * Initial contents in pieces, instead of `data`: the caller's arrays as they are, each at its byte
   * offset (a multiple of 4), in order and not overlapping; what no part covers is zero. A job packed
   * from several tensors sends them without copying them into one fresh array first (on the
   * machines we measure on, first touching fresh memory costs ~4 ms a MiB: docs/host-transfer.md).
   */
  parts?: BufferPart[];
  /** Copy this buffer back after the passes ran. */
  read?: boolean;
}

export interface BufferPart {
  offset: number;
  data: ArrayBufferView;
}

/** The bytes of an array or a view of one. */
export const bytesView = (data: ArrayBufferView | ArrayBuffer): Uint8Array => (data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength));

/** Bytes from the start of the buffer to the end of its last part (0 without parts). */
export const partsExtent = (parts: readonly BufferPart[]): number => parts.reduce((end, p) => Math.max(end, p.offset + p.data.byteLength), 0);

/**
 * A buffer's initial contents as one array, for the paths that send a single array (the pipe, a
 * browser's writeBuffer, f16 packing): `data`, or its parts laid out with zeros between them.
 */
export function contentsOf(b: Pick<GpuBufferSpec, 'data' | 'parts'>): ArrayBufferView | ArrayBuffer | undefined {
  if (!b.parts) return b.data;
  const out = new Uint8Array(partsExtent(b.parts));
  for (const p of b.parts) out.set(bytesView(p.data), p.offset);
  return out;
}

export interface GpuShaderSpec {
  label: string;
  code: string;
  /** Defaults to 'main' in jobs; in compileShaders, to the module's one compute entry point. */
  entryPoint?: string;
}

export interface GpuBinding {
  binding: number;
  buffer: string;
  /** Defaults to 0. */
  group?: number;
}

export interface GpuPass {
  /** Label of a shader in the job. */
  shader: string;
  bindings: GpuBinding[];
  /** Workgroup counts; y and z default to 1. */
  dispatch: [number, number?, number?];
  label?: string;
}

export interface GpuTiming {
  repeats: number;
  warmup?: number;
  /** 'auto' (default) uses timestamp queries when the device has them; 'wall' forces wall-clock timing. */
  method?: 'auto' | 'wall';
}

/**
 * Repeats of the whole call, timed inside the host: create buffers, upload, run the passes, read
 * back (the IPC between this process and the host is not counted). For comparisons with libraries
 * whose calls include their uploads and read-backs.
 */
export interface GpuWholeCall {
  repeats: number;
  warmup?: number;
}

/**
 * Times copyBufferToBuffer between buffers of the job (a bandwidth yardstick): each timed repeat runs
 * `copies` in order, after the run whose buffers are read back. With timestamp queries, each repeat is
 * bracketed by two empty compute passes on the same encoder (the end of the one before, the beginning
 * of the one after): WebGPU has no timestamps in copies. Otherwise wall clock, submit to done.
 */
export interface GpuCopyTiming {
  /** Byte counts and offsets are multiples of 4; offsets default to 0. */
  copies: { from: string; to: string; bytes: number; fromOffset?: number; toOffset?: number }[];
  repeats: number;
  warmup?: number;
  /** As in GpuTiming. */
  method?: 'auto' | 'wall';
}

export interface GpuJob {
  shaders: GpuShaderSpec[];
  buffers: GpuBufferSpec[];
  passes: GpuPass[];
  /** Time the pass sequence (after the run whose buffers are read back). */
  timing?: GpuTiming;
  /** Also time whole calls of the job, after the first run and any `timing`. */
  wholeCall?: GpuWholeCall;
  /** Also time buffer-to-buffer copies, after any `timing` (a job may have no passes). */
  copyTiming?: GpuCopyTiming;
  /** Features the job's shaders need; the session's device must have them. */
  requiredFeatures?: GPUFeatureName[];
  /** Kernels that scan across a workgroup with subgroup operations need every subgroup to hold it whole. */
  minSubgroupSize?: number;
}

export interface GpuJobResult {
  /** Contents of every buffer with `read: true`, exactly `bytes` long, after one run of the passes (with `wholeCall`: the last timed call's). */
  buffers: Record<string, ArrayBuffer>;
  /** Per timed repeat: first pass begin to last pass end (timestamps) or submit to done (wall). */
  timingsNs?: number[];
  /** Per timed repeat, per pass (timestamps only). */
  perPassNs?: number[][];
  timingMethod?: 'timestamp' | 'wall';
  /** Per timed repeat of the copies (`copyTiming`), and how they were timed. */
  copyTimingsNs?: number[];
  copyTimingMethod?: 'timestamp' | 'wall';
  /** Per timed whole call (`wholeCall`): wall clock in the host from creating the buffers to the results in host memory. */
  wholeCallNs?: number[];
  adapter: AdapterSummary;
}

export interface AdapterLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
  maxComputeWorkgroupsPerDimension: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupStorageSize: number;
  maxStorageBuffersPerShaderStage: number;
  maxUniformBufferBindingSize: number;
}

export const LIMIT_NAMES: readonly (keyof AdapterLimits)[] = [
  'maxStorageBufferBindingSize',
  'maxBufferSize',
  'maxComputeWorkgroupsPerDimension',
  'maxComputeInvocationsPerWorkgroup',
  'maxComputeWorkgroupSizeX',
  'maxComputeWorkgroupStorageSize',
  'maxStorageBuffersPerShaderStage',
  'maxUniformBufferBindingSize',
];

export interface AdapterSummary {
  description: string;
  vendor: string;
  architecture: string;
  device: string;
  backend?: string;
  /** Features of the device the session opened (a subset of the adapter's). */
  features: string[];
  /** Limits of the device the session opened (the adapter's maxima for the limits listed). */
  limits: AdapterLimits;
  isSoftware: boolean;
  subgroupMinSize?: number;
  subgroupMaxSize?: number;
}

export type GpuErrorKind = 'no-adapter' | 'shader' | 'limits' | 'device-lost' | 'host-crashed' | 'validation' | 'timeout';

/** One WGSL compiler message, 1-based line and column in the shader's code. */
export interface ShaderMessage {
  type: 'error' | 'warning' | 'info';
  line: number;
  column: number;
  /** UTF-16 offset of the message's span in the code, and its length (0 and 0 when Tint gives no position). */
  offset: number;
  length: number;
  message: string;
}

/** Options of GpuSession.compileShaders. */
export interface CompileShadersOptions {
  /** Also create each shader's compute pipeline (layout 'auto') and time it in the host. */
  pipelines?: boolean;
  /** Features the shaders need; the session's device must have them. */
  requiredFeatures?: GPUFeatureName[];
  /**
   * Also dispatch one workgroup of each pipeline, on zeroed buffers, and time it to completion: lazy
   * drivers (Mesa lavapipe) compile a pipeline to machine code only at its first dispatch. Implies
   * `pipelines`; the pipeline then has an explicit layout of the buffers the module declares.
   */
  dispatch?: boolean;
  /** Past this, the host is killed and the call fails with GpuError 'timeout' (default: the session's jobTimeoutMs). */
  timeoutMs?: number;
}

/** One buffer binding of a shader's entry point, as read from its WGSL (src/runtime/dawn/reflect.ts). */
export interface ShaderBinding {
  group: number;
  binding: number;
  type: GPUBufferBindingType;
  /** Bytes of the zeroed buffer bound there. */
  bytes: number;
}

/** What Dawn (Tint, then the driver when pipelines are asked for) said about one shader. */
export interface ShaderReport {
  label: string;
  /** Tint's messages: errors, warnings and infos, in Tint's order. */
  messages: ShaderMessage[];
  /** Wall time of createComputePipelineAsync in the host (only with `pipelines`, for a shader without errors). */
  pipelineMs?: number;
  /** Wall time of the first dispatch of one workgroup, submit to done (only with `dispatch`). */
  dispatchMs?: number;
  /**
   * CPU time of the host process (all its threads, the driver's compiler included) over the pipeline
   * creation and the first dispatch: on a machine shared with other work, closer than wall time to
   * what the compile takes on an idle one (only with `pipelines`).
   */
  cpuMs?: number;
  /** The pipeline creation or the first dispatch failed (only with `pipelines`): Dawn's message. */
  pipelineError?: string;
}

/** A shader to compile, with what its first dispatch binds (when one is asked for). */
export interface CompileShaderRequest extends GpuShaderSpec {
  dispatch?: { bindings: ShaderBinding[] };
}

export interface GpuErrorDetails {
  /** 'shader': the failing shader and its compiler messages. */
  shader?: string;
  messages?: ShaderMessage[];
  /** 'limits': the limit that was exceeded. */
  limit?: string;
  /** 'host-crashed' / 'timeout': how the host process ended and the tail of its stderr. */
  exitCode?: number | null;
  signal?: string | null;
  stderr?: string;
}

export class GpuError extends Error {
  override name = 'GpuError';
  constructor(
    readonly kind: GpuErrorKind,
    message: string,
    readonly details?: GpuErrorDetails,
  ) {
    super(message);
  }
}

// ---- IPC protocol (structured clone, `serialization: 'advanced'`) ----

export interface OpenOptions {
  /** Features to request in addition to the defaults (timestamp-query, subgroups, shader-f16 when the adapter has them). */
  features?: GPUFeatureName[];
}

export type HostRequest =
  | { id: number; type: 'open'; options: OpenOptions }
  | { id: number; type: 'run'; job: GpuJob }
  | { id: number; type: 'compile'; shaders: CompileShaderRequest[]; pipelines: boolean }
  | { id: number; type: 'close' }
  /** Test hook: the host kills itself with SIGSEGV, as the Dawn crash does. */
  | { id: number; type: '__crashForTest' };

export interface SerializedGpuError {
  kind: GpuErrorKind;
  message: string;
  details?: GpuErrorDetails;
}

export type HostReply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: SerializedGpuError }
  /** Unsolicited: the device was lost; the host exits right after. */
  | { id: -1; ok: false; event: 'device-lost'; error: SerializedGpuError };
