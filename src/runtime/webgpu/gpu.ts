// What every WebGPU program that runs rnnc's kernels needs, kept once per device: pipelines compiled
// on first use and reused by every later call, and a pool of buffers so that calls of the same sizes
// allocate nothing. The generated host modules (backends/host/) and the job executor (executor.ts)
// both run on it. It uses WebGPU alone, so it runs in a browser and under Node's `webgpu` alike;
// usage flags are the numbers the WebGPU spec fixes, so no GPUBufferUsage global is needed.

/** GPUBufferUsage flags, per the WebGPU spec. */
export const Usage = {
  MAP_READ: 0x0001,
  COPY_SRC: 0x0004,
  COPY_DST: 0x0008,
  UNIFORM: 0x0040,
  STORAGE: 0x0080,
} as const;
/** A storage buffer the kernels read and the host fills. */
export const READ = Usage.STORAGE | Usage.COPY_DST;
/** A storage buffer the kernels write (and the host may copy out of, or write). */
export const WRITE = Usage.STORAGE | Usage.COPY_SRC | Usage.COPY_DST;
/** A uniform block. */
export const UNIFORMS = Usage.UNIFORM | Usage.COPY_DST;
const MAP_MODE_READ = 0x0001;
const COMPUTE_STAGE = 0x4;

/** One dispatch: a pipeline, the buffers of its bind group 0 by binding number, and its workgroups. */
export interface HostPass {
  pipeline: GPUComputePipeline;
  bindings: readonly (readonly [number, GPUBuffer])[];
  dispatch: readonly [number, number?, number?];
}

export interface SubmitOptions {
  /** Copies after the passes, `[from, to, bytes]` (a stream carrying its state into the next call). */
  copies?: readonly (readonly [GPUBuffer, GPUBuffer, number])[];
  /** Buffers read back after the passes: the first `bytes` of each. */
  reads?: readonly (readonly [GPUBuffer, number])[];
  /** Buffers given back to the pool once the GPU is done with them. */
  release?: readonly GPUBuffer[];
}

/** One explicit bind group of a pipeline: each binding's buffer type (layout 'auto' drops bindings an entry point does not use). */
export type BindingTypes = readonly (readonly [number, GPUBufferBindingType])[];

/** Idle buffers kept for reuse, per device, before the oldest are destroyed. */
const POOL_BYTES = 256 * 2 ** 20;

/** A device's pipelines and buffers, shared by every caller on that device (`HostGpu.for(device)`). */
export class HostGpu {
  private static readonly perDevice = new WeakMap<GPUDevice, HostGpu>();

  /** The one HostGpu of a device. */
  static for(device: GPUDevice): HostGpu {
    let gpu = HostGpu.perDevice.get(device);
    if (!gpu) HostGpu.perDevice.set(device, (gpu = new HostGpu(device)));
    return gpu;
  }

  private readonly pipelines = new Map<string, Promise<GPUComputePipeline>>();
  private readonly modules = new Map<string, GPUShaderModule>();
  /** Idle buffers by `usage:size`, oldest first. */
  private readonly idle = new Map<string, GPUBuffer[]>();
  private idleBytes = 0;
  /** Reused buffers nothing has written since: cleared at the start of the next submit, so every buffer reads as a new one would. */
  private readonly stale = new Set<GPUBuffer>();
  /** Counters tests read: pipelines compiled and buffers created on this device. */
  readonly made = { pipelines: 0, buffers: 0 };

  private constructor(readonly device: GPUDevice) {}

  /** The shader module of `code`: made on the first call, the same one after. */
  shaderModule(code: string): GPUShaderModule {
    let module = this.modules.get(code);
    if (!module) this.modules.set(code, (module = this.device.createShaderModule({ code })));
    return module;
  }

  /** Forgets a shader module that failed to compile, so that a later call sees its errors again. */
  forgetShader(code: string): void {
    this.modules.delete(code);
  }

  /**
   * The compute pipeline of `entryPoint` in `code`, with layout 'auto' or the given bind groups:
   * compiled on the first call, the same one after.
   */
  pipeline(code: string, entryPoint: string, groups?: readonly BindingTypes[]): Promise<GPUComputePipeline> {
    const key = `${entryPoint}\0${groups ? JSON.stringify(groups) : 'auto'}\0${code}`;
    let p = this.pipelines.get(key);
    if (!p) {
      const dev = this.device;
      const module = this.shaderModule(code);
      const layout = groups
        ? dev.createPipelineLayout({
            bindGroupLayouts: groups.map((g) => dev.createBindGroupLayout({ entries: g.map(([binding, type]) => ({ binding, visibility: COMPUTE_STAGE, buffer: { type } })) })),
          })
        : 'auto';
      p = dev.createComputePipelineAsync({ layout, compute: { module, entryPoint } });
      // A pipeline that failed to compile is not kept: the next call tries again and sees the error.
      p.catch(() => this.pipelines.delete(key));
      this.pipelines.set(key, p);
      this.made.pipelines++;
    }
    return p;
  }

  /** A buffer of at least `bytes` (16 at least, a multiple of 4): a pooled one when one fits exactly, else a new one. It reads as zeros until written. */
  buffer(bytes: number, usage: number): GPUBuffer {
    const size = Math.max(16, Math.ceil(bytes / 4) * 4);
    if (!(usage & Usage.MAP_READ)) usage |= Usage.COPY_DST; // so that a reused one can be cleared
    const reused = this.idle.get(`${usage}:${size}`)?.shift();
    if (reused) {
      this.idleBytes -= size;
      if (!(usage & Usage.MAP_READ)) this.stale.add(reused);
      return reused;
    }
    this.made.buffers++;
    return this.device.createBuffer({ size, usage });
  }

  /** A buffer holding `data` (its tail past the data zeroed). */
  upload(data: ArrayBufferView, usage: number): GPUBuffer {
    const buffer = this.buffer(data.byteLength, usage);
    this.write(buffer, data);
    return buffer;
  }

  /** Writes `data` at the start of `buffer` (queued before the next submit); the rest of the buffer reads as zeros. */
  write(buffer: GPUBuffer, data: ArrayBufferView): void {
    const whole = data.byteLength === buffer.size && data.byteLength % 4 === 0;
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const padded = whole ? bytes : new Uint8Array(buffer.size);
    if (!whole) padded.set(bytes);
    this.stale.delete(buffer);
    this.device.queue.writeBuffer(buffer, 0, padded as Uint8Array<ArrayBuffer>);
  }

  /**
   * Encodes the passes, then the copies and read-backs, submits them, and resolves with the bytes read
   * once the GPU is done; then gives `release` back to the pool.
   */
  async submit(passes: readonly HostPass[], options: SubmitOptions = {}): Promise<ArrayBuffer[]> {
    const dev = this.device;
    const encoder = this.encoder();
    for (const p of passes) {
      const pass = encoder.beginComputePass();
      pass.setPipeline(p.pipeline);
      const entries = p.bindings.map(([binding, buffer]) => ({ binding, resource: { buffer } }));
      pass.setBindGroup(0, dev.createBindGroup({ layout: p.pipeline.getBindGroupLayout(0), entries }));
      pass.dispatchWorkgroups(p.dispatch[0], p.dispatch[1] ?? 1, p.dispatch[2] ?? 1);
      pass.end();
    }
    for (const [from, to, bytes] of options.copies ?? []) encoder.copyBufferToBuffer(from, 0, to, 0, bytes);
    const staging = (options.reads ?? []).map(([source, bytes]) => {
      const target = this.buffer(bytes, Usage.MAP_READ | Usage.COPY_DST);
      encoder.copyBufferToBuffer(source, 0, target, 0, Math.ceil(bytes / 4) * 4);
      return { target, bytes };
    });
    dev.queue.submit([encoder.finish()]);
    let results: ArrayBuffer[];
    if (staging.length) {
      await Promise.all(staging.map((s) => s.target.mapAsync(MAP_MODE_READ)));
      results = staging.map((s) => {
        const bytes = s.target.getMappedRange().slice(0, s.bytes);
        s.target.unmap();
        return bytes;
      });
      this.release(...staging.map((s) => s.target));
    } else {
      await dev.queue.onSubmittedWorkDone();
      results = [];
    }
    this.release(...(options.release ?? []));
    return results;
  }

  /** A command encoder that first clears the reused buffers nothing has written since they were taken. */
  encoder(label?: string): GPUCommandEncoder {
    const encoder = this.device.createCommandEncoder(label ? { label } : {});
    for (const b of this.stale) encoder.clearBuffer(b);
    this.stale.clear();
    return encoder;
  }

  /** Gives buffers back to the pool; past the pool's size the oldest idle ones are destroyed. Call only once the GPU is done with them. */
  release(...buffers: GPUBuffer[]): void {
    for (const b of buffers) {
      this.stale.delete(b);
      const key = `${b.usage}:${b.size}`;
      const list = this.idle.get(key) ?? [];
      list.push(b);
      this.idle.set(key, list);
      this.idleBytes += b.size;
    }
    for (const [key, list] of this.idle) {
      while (this.idleBytes > POOL_BYTES && list.length) {
        const b = list.shift()!;
        this.idleBytes -= b.size;
        b.destroy();
      }
      if (!list.length) this.idle.delete(key);
    }
  }

  /** Destroys the idle buffers (pipelines stay: they are cheap to keep and costly to remake). */
  trim(): void {
    for (const list of this.idle.values()) for (const b of list) b.destroy();
    this.idle.clear();
    this.idleBytes = 0;
  }
}
