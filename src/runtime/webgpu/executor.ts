// Runs a GpuJob (backends/job.ts: plain data a backend's prepare(size).job(data) builds) on any
// WebGPU GPUDevice: the browser's navigator.gpu, or a device the caller opened some other way. It
// does what the Dawn host (src/runtime/dawn/host.ts) does for one run, without the Node parts (the
// child process, the bulk file, the event-pump throttle): explicit pipeline layouts from the job's
// bindings, uploads, the passes, read-backs. Shader modules, pipelines and buffers come from the
// device's HostGpu (gpu.ts), which the generated host modules share: pipelines are made once per
// device, buffers pooled across jobs.
import { contentsOf, GpuError, LIMIT_NAMES, type AdapterLimits, type AdapterSummary, type GpuBufferSpec, type GpuJob, type GpuPass, type ShaderMessage } from '../../../backends/job.js';
import { checkJob, deviceBytes } from '../dawn/check.js';
import { formatShaderError } from '../dawn/frame.js';
import { HostGpu, UNIFORMS, Usage, WRITE, type BindingTypes } from './gpu.js';

const MAP_MODE_READ = 0x0001; // GPUMapMode.READ, per the WebGPU spec

/** The features a device for rnnc's kernels should be asked for, where the adapter has them. */
export const WANTED_FEATURES: readonly GPUFeatureName[] = ['subgroups', 'shader-f16', 'timestamp-query'];

/**
 * Opens a device with the features rnnc's kernels may use and the adapter's maxima for the limits
 * they need (the defaults, e.g. 128 MiB storage bindings, are lower than many adapters allow).
 */
export function requestRnncDevice(adapter: GPUAdapter): Promise<GPUDevice> {
  const requiredFeatures = WANTED_FEATURES.filter((f) => adapter.features.has(f));
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) requiredLimits[k] = adapter.limits[k];
  return adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'rnnc' });
}

/** What a device offers, in the form the planner (its target) and checkJob read. */
export function summarizeDevice(device: GPUDevice): AdapterSummary {
  const info = device.adapterInfo;
  const limits = {} as AdapterLimits;
  for (const k of LIMIT_NAMES) limits[k] = device.limits[k];
  const ident = `${info.vendor} ${info.architecture} ${info.description} ${info.device}`;
  return {
    description: info.description,
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    features: [...device.features].sort(),
    limits,
    isSoftware: Boolean((info as { isFallbackAdapter?: boolean }).isFallbackAdapter) || /llvmpipe|lavapipe|swiftshader|software/i.test(ident),
    ...(info.subgroupMinSize ? { subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize } : {}),
  };
}

const bindingType = (usage: GpuBufferSpec['usage']): GPUBufferBindingType =>
  usage === 'uniform' ? 'uniform' : usage === 'storage-read' ? 'read-only-storage' : 'storage';

/** Runs jobs on one device, on that device's HostGpu. */
export class WebGpuExecutor {
  private static readonly perDevice = new WeakMap<GPUDevice, WebGpuExecutor>();

  /** The executor of a device: one per device, so its pipelines are shared by every caller. */
  static for(device: GPUDevice): WebGpuExecutor {
    let e = WebGpuExecutor.perDevice.get(device);
    if (!e) WebGpuExecutor.perDevice.set(device, (e = new WebGpuExecutor(device)));
    return e;
  }

  readonly adapter: AdapterSummary;
  private readonly gpu: HostGpu;
  /** Shaders whose compilation messages were checked. */
  private readonly checked = new Set<string>();
  /** Runs go one at a time: error scopes are per device, and a run's scopes must not catch another's errors. */
  private queue: Promise<unknown> = Promise.resolve();

  private constructor(readonly device: GPUDevice) {
    this.adapter = summarizeDevice(device);
    this.gpu = HostGpu.for(device);
  }

  /** Pipelines made so far on this device (tests check that a second run makes none). */
  get pipelineCount(): number {
    return this.gpu.made.pipelines;
  }

  /**
   * Runs the job's passes once and returns the contents of its `read` buffers, each exactly `bytes`
   * long. Timing requests are the Dawn runtime's business (benchmarks) and are refused here.
   */
  run(job: GpuJob): Promise<Record<string, ArrayBuffer>> {
    const next = this.queue.then(() => this.runNow(job));
    this.queue = next.catch(() => {});
    return next;
  }

  private async runNow(job: GpuJob): Promise<Record<string, ArrayBuffer>> {
    if (job.timing || job.wholeCall || job.copyTiming)
      throw new GpuError('validation', 'the WebGPU executor runs jobs once; timing (timing, wholeCall, copyTiming) needs the Dawn runtime');
    checkJob(job, this.adapter);
    const dev = this.device;
    const gpu = this.gpu;
    const specs = new Map(job.buffers.map((b) => [b.name, b]));
    for (const s of job.shaders) await this.checkShader(s.label, s.code);
    // Pipelines first: they are made outside the error scopes, which see only this run's commands.
    const pipelines = await Promise.all(
      job.passes.map((pass) => {
        const shader = job.shaders.find((s) => s.label === pass.shader)!;
        return this.pipelineFor(pass, shader.code, shader.entryPoint ?? 'main', specs);
      }),
    );

    const buffers = new Map<string, GPUBuffer>();
    const staging: { name: string; bytes: number; buffer: GPUBuffer }[] = [];
    try {
      await this.scoped('running the job', () => {
        for (const b of job.buffers) {
          const usage = b.usage === 'uniform' ? UNIFORMS : WRITE;
          const buffer = gpu.buffer(deviceBytes(b), usage);
          buffers.set(b.name, buffer);
          const data = contentsOf(b);
          if (data) gpu.write(buffer, data instanceof ArrayBuffer ? new Uint8Array(data) : data);
        }
        const enc = gpu.encoder('rnnc run');
        job.passes.forEach((pass, k) => {
          const { pipeline, groups } = pipelines[k]!;
          const cp = enc.beginComputePass({ label: pass.label ?? pass.shader });
          cp.setPipeline(pipeline);
          for (let g = 0; g < groups; g++) {
            const entries = pass.bindings.filter((b) => (b.group ?? 0) === g).map((b) => ({ binding: b.binding, resource: { buffer: buffers.get(b.buffer)! } }));
            cp.setBindGroup(g, dev.createBindGroup({ layout: pipeline.getBindGroupLayout(g), entries }));
          }
          const [x, y = 1, z = 1] = pass.dispatch;
          cp.dispatchWorkgroups(x, y, z);
          cp.end();
        });
        for (const b of job.buffers.filter((b) => b.read)) {
          const source = buffers.get(b.name)!;
          const buffer = gpu.buffer(source.size, Usage.MAP_READ | Usage.COPY_DST);
          enc.copyBufferToBuffer(source, 0, buffer, 0, source.size);
          staging.push({ name: b.name, bytes: b.bytes, buffer });
        }
        dev.queue.submit([enc.finish()]);
      });
      await Promise.all(staging.map((s) => s.buffer.mapAsync(MAP_MODE_READ)));
      const out: Record<string, ArrayBuffer> = {};
      for (const s of staging) {
        out[s.name] = s.buffer.getMappedRange().slice(0, s.bytes);
        s.buffer.unmap();
      }
      gpu.release(...buffers.values(), ...staging.map((s) => s.buffer));
      return out;
    } catch (e) {
      // After an error the GPU may still hold them: destroyed, not pooled.
      for (const b of [...buffers.values(), ...staging.map((s) => s.buffer)]) b.destroy();
      throw e;
    }
  }

  /** Runs fn inside validation and out-of-memory error scopes, always popping them; what they caught becomes a GpuError. */
  private async scoped<T>(what: string, fn: () => T): Promise<T> {
    const dev = this.device;
    dev.pushErrorScope('out-of-memory');
    dev.pushErrorScope('validation');
    let value: T | undefined;
    let thrown: unknown;
    try {
      value = fn();
    } catch (e) {
      thrown = e;
    }
    const invalid = await dev.popErrorScope();
    const oom = await dev.popErrorScope();
    if (thrown !== undefined) throw thrown;
    if (invalid) throw new GpuError('validation', `GPU validation error while ${what}: ${invalid.message}`);
    if (oom) throw new GpuError('limits', `the GPU ran out of memory while ${what}: ${oom.message}`, { limit: 'memory' });
    return value as T;
  }

  /** Tint's verdict on a shader, once per code: its errors come back as GpuError 'shader' with code frames. */
  private async checkShader(label: string, code: string): Promise<void> {
    if (this.checked.has(code)) return;
    const dev = this.device;
    dev.pushErrorScope('validation');
    const module = this.gpu.shaderModule(code);
    const info = await module.getCompilationInfo();
    const rejected = await dev.popErrorScope();
    const messages: ShaderMessage[] = info.messages.map((m) => ({ type: m.type, line: m.lineNum, column: m.linePos, offset: m.offset, length: m.length, message: m.message }));
    const failed = messages.some((m) => m.type === 'error') || rejected;
    if (failed) this.gpu.forgetShader(code);
    if (messages.some((m) => m.type === 'error')) throw new GpuError('shader', formatShaderError(label, code, messages), { shader: label, messages });
    if (rejected) throw new GpuError('shader', `internal error: shader \`${label}\` was rejected: ${rejected.message}`, { shader: label, messages });
    this.checked.add(code);
  }

  /**
   * Explicit bind group layouts from the pass's bindings and the buffers' usages, rather than layout
   * 'auto': 'auto' drops bindings the entry point does not use, and binding them then fails.
   */
  private async pipelineFor(pass: GpuPass, code: string, entryPoint: string, specs: Map<string, GpuBufferSpec>) {
    const groups: [number, GPUBufferBindingType][][] = [];
    for (const b of pass.bindings) (groups[b.group ?? 0] ??= []).push([b.binding, bindingType(specs.get(b.buffer)!.usage)]);
    for (let g = 0; g < groups.length; g++) (groups[g] ??= []).sort((x, y) => x[0] - y[0]);
    try {
      return { pipeline: await this.gpu.pipeline(code, entryPoint, groups as BindingTypes[]), groups: groups.length };
    } catch (e) {
      throw new GpuError('validation', `GPU validation error while creating the pipeline of \`${pass.shader}\`: ${e instanceof Error ? e.message : String(e)}`);
    }
  }
}
