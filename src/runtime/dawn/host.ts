// The Dawn host: a child process (forked by runtime.ts with `--no-opt`) that owns the one WebGPU
// device of a session and does only uploads, dispatches and read-backs. It must stay free of hot
// JavaScript loops: V8 optimizing hot code while a Dawn device is alive crashes npm webgpu 0.6.2
// (docs/dawn-crash.md). Requests are handled one at a time, since error scopes are per device.
import { closeSync, openSync } from 'node:fs';
import { totalmem } from 'node:os';
import v8 from 'node:v8';
import { deviceBytes } from './check.js';
import { BufferPool, Lease, poolCap } from './pool.js';
import { formatShaderError } from './frame.js';
import {
  BULK_ENV,
  PIECE_BYTES,
  now,
  readAll,
  writeAll,
  type BulkRef,
  type HostStamps,
  type WireBufferSpec,
  type WireJob,
  type WireAdapterPreview,
  type WireProgress,
  type WireRequest,
  type WireResult,
  type WireRunReply,
} from './transfer.js';
import {
  GpuError,
  LIMIT_NAMES,
  type AdapterLimits,
  type AdapterSummary,
  type GpuPass,
  type CompileShaderRequest,
  type HostReply,
  type OpenOptions,
  type ShaderBinding,
  type ShaderMessage,
  type ShaderReport,
} from '../../../backends/job.js';
import { gpuWait, installPumpThrottle, soon, spinning } from './pump.js';
import { NO_ADAPTER_HINT } from './hints.js';

// Belt and braces: the parent already passes --no-opt; this also covers a host started by hand.
// It must run before webgpu is loaded, hence the dynamic import below.
v8.setFlagsFromString('--no-opt');

if (!process.send) {
  console.error('src/runtime/dawn/host is started by src/runtime/dawn/runtime (child_process.fork), not directly');
  process.exit(2);
}

// The bulk file (transfer.ts), when the parent gave one: reopened through /proc so that this
// process's descriptor is close-on-exec (an inherited one is not, and a child of ours — esbuild under
// tsx — would keep the file alive).
const bulkFd = ((): number | null => {
  const given = process.env[BULK_ENV];
  delete process.env[BULK_ENV];
  if (given === undefined) return null;
  const fd = Number(given);
  try {
    const own = openSync(`/proc/self/fd/${fd}`, 'r+');
    closeSync(fd);
    return own;
  } catch {
    return fd;
  }
})();

/**
 * How much of each run's input stream the parent has written into the bulk file (its `written`
 * messages, which come after the run's request and are taken at once, not queued behind it).
 */
const written = new Map<number, { upTo: number; error?: string; wake?: () => void }>();
/** Runs are handled in the order they came, and ids grow: a `written` for this id or an older one is late. */
let lastRunDone = 0;

function inputEntry(id: number) {
  let w = written.get(id);
  if (!w) written.set(id, (w = { upTo: 0 }));
  return w;
}

function noteWritten(m: { id: number; upTo: number; error?: string }) {
  if (m.id <= lastRunDone) return;
  const w = inputEntry(m.id);
  w.upTo = Math.max(w.upTo, m.upTo);
  if (m.error !== undefined) w.error = m.error;
  w.wake?.();
}

/** Resolves once the parent has written `upTo` bytes of run `id`'s input stream. */
async function inputsWritten(id: number, upTo: number): Promise<void> {
  const w = inputEntry(id);
  while (w.upTo < upTo) {
    if (w.error !== undefined) throw new GpuError('validation', `the job's inputs could not be written into the bulk file: ${w.error}`);
    await new Promise<void>((resolve) => (w.wake = resolve));
    w.wake = undefined;
  }
}

const { create, globals } = await import('webgpu');
Object.assign(globalThis, globals);

// Dawn's busy event pump, throttled (pump.ts); before the first instance is created.
installPumpThrottle();

/**
 * RNNC_DAWN_PROFILE=sync (measurements only, scripts/bench-host-transfer.ts): wait for the GPU after
 * the upload copies and after the passes, so that a run's profile can tell them from the read-back
 * copies. Costs a round trip through the event pump each.
 */
const SYNC_PROFILE = process.env.RNNC_DAWN_PROFILE === 'sync';

/** Exit code of a host that lost its device (the parent maps it to GpuError 'device-lost'). */
const EXIT_DEVICE_LOST = 3;
/** Requested whenever the adapter has them: timing, subgroup scans, f16 kernels. */
const DEFAULT_FEATURES: GPUFeatureName[] = ['timestamp-query', 'subgroups', 'shader-f16'];
/** WebGPU caps a query set at 4096 queries. */
const MAX_QUERIES = 4096;


let gpu: GPU | null = null;
let device: GPUDevice | null = null;
let summary: AdapterSummary | null = null;
let closing = false;
// Compiled modules and pipelines, reused by later jobs of the session (benchmarks resend the same kernels).
const modules = new Map<string, GPUShaderModule>();
const pipelines = new Map<string, GPUComputePipeline>();
// Buffers too (pool.ts): later jobs and repeated calls take them back instead of allocating anew.
const pool = new BufferPool();

function send(msg: HostReply): Promise<void> {
  return new Promise((resolve) => process.send!(msg, undefined, {}, () => resolve()));
}

function exit(code: number): never {
  closing = true;
  try {
    device?.destroy();
  } catch {}
  device = null;
  gpu = null; // drop the instance: a live one keeps Dawn's event pump spinning
  process.exit(code);
}

async function open(options: OpenOptions, preview?: (summary: AdapterSummary) => void): Promise<AdapterSummary> {
  gpu = create(['disable-dawn-features=timestamp_quantization']);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) {
    const icd = process.env.VK_ICD_FILENAMES;
    throw new GpuError('no-adapter', NO_ADAPTER_HINT + (icd ? ` (VK_ICD_FILENAMES is set to ${icd}: check that it names an existing ICD file)` : ''));
  }
  for (const f of options.features ?? [])
    if (!adapter.features.has(f))
      throw new GpuError('limits', `the adapter lacks the requested GPU feature '${f}'`, { limit: f });
  const requiredFeatures = [...new Set([...DEFAULT_FEATURES, ...(options.features ?? [])])].filter((f) => adapter.features.has(f));
  // Ask for the adapter's maxima: the defaults (e.g. 128 MiB storage bindings) are lower than many adapters allow.
  const requiredLimits: Record<string, number> = {};
  for (const k of LIMIT_NAMES) requiredLimits[k] = adapter.limits[k];
  const describe = (features: Iterable<string>, limits: AdapterLimits): AdapterSummary => {
    const info = adapter.info;
    const ident = `${info.vendor} ${info.description} ${info.device}`;
    return {
      description: info.description,
      vendor: info.vendor,
      architecture: info.architecture,
      device: info.device,
      features: [...features].sort(),
      limits,
      isSoftware: info.isFallbackAdapter || /llvmpipe|lavapipe|swiftshader|software/i.test(ident),
      ...(info.subgroupMinSize ? { subgroupMinSize: info.subgroupMinSize, subgroupMaxSize: info.subgroupMaxSize } : {}),
    };
  };
  // What the device will be, before creating it: the parent plans for it while the device is made.
  preview?.(describe(requiredFeatures, { ...requiredLimits } as unknown as AdapterLimits));
  const dev = await adapter.requestDevice({ requiredFeatures, requiredLimits, label: 'rnnc' });
  device = dev;
  dev.lost.then(async (info) => {
    if (closing || info.reason === 'destroyed') return;
    await send({ id: -1, ok: false, event: 'device-lost', error: { kind: 'device-lost', message: `the GPU device was lost: ${info.message}` } });
    exit(EXIT_DEVICE_LOST);
  });
  dev.addEventListener('uncapturederror', (e) => console.error(`[dawn host] uncaptured GPU error: ${(e as GPUUncapturedErrorEvent).error.message}`));
  const limits = {} as AdapterLimits;
  for (const k of LIMIT_NAMES) limits[k] = dev.limits[k];
  summary = describe(dev.features as Iterable<string>, limits);
  // A software adapter's buffers are host memory: the pool may keep more of them (pool.ts).
  pool.capBytes = poolCap(summary.isSoftware, totalmem());
  return summary;
}

/**
 * Runs fn inside validation and out-of-memory error scopes and always pops them, so an exception
 * cannot leave the device's scope stack unbalanced for later jobs. Captured errors become GpuErrors.
 */
async function scoped<T>(dev: GPUDevice, what: string, fn: () => T | Promise<T>): Promise<T> {
  dev.pushErrorScope('out-of-memory');
  dev.pushErrorScope('validation');
  let value: T | undefined, thrown: unknown;
  try {
    value = await fn();
  } catch (e) {
    thrown = e;
  }
  const [invalid, oom] = await soon(Promise.all([dev.popErrorScope(), dev.popErrorScope()]));
  if (thrown !== undefined) throw thrown;
  if (invalid) throw new GpuError('validation', `GPU validation error while ${what}: ${invalid.message}`);
  if (oom) throw new GpuError('limits', `the GPU ran out of memory while ${what}: ${oom.message}`, { limit: 'memory' });
  return value as T;
}

/** Creates a module and collects Tint's messages; a rejection outside them (no message) comes back as `rejected`. */
async function createModule(dev: GPUDevice, label: string, code: string) {
  dev.pushErrorScope('validation');
  const compiled = (async () => {
    const module = dev.createShaderModule({ label, code });
    return { module, info: await module.getCompilationInfo() };
  })();
  await compiled.catch(() => {}); // pop the scope whatever happened
  const rejected = await dev.popErrorScope();
  const { module, info } = await compiled;
  const messages: ShaderMessage[] = info.messages.map((m) => ({
    type: m.type,
    line: m.lineNum,
    column: m.linePos,
    offset: m.offset,
    length: m.length,
    message: m.message,
  }));
  return { module, messages, rejected };
}

async function shaderModule(dev: GPUDevice, label: string, code: string): Promise<GPUShaderModule> {
  const cached = modules.get(code);
  if (cached) return cached;
  const { module, messages, rejected } = await createModule(dev, label, code);
  if (messages.some((m) => m.type === 'error'))
    throw new GpuError('shader', formatShaderError(label, code, messages), { shader: label, messages });
  if (rejected) throw new GpuError('shader', `internal error: shader \`${label}\` was rejected: ${rejected.message}`, { shader: label, messages });
  modules.set(code, module);
  return module;
}

/**
 * Validation without running: Tint's messages per shader and, when asked, the time to create its
 * compute pipeline and to run its first dispatch (where a lazy driver compiles to machine code).
 * Nothing is cached, so that every pipeline is built here and timed; Dawn may still reuse an
 * identical pipeline of the same device.
 */
async function compileShaders(shaders: CompileShaderRequest[], pipelines: boolean): Promise<ShaderReport[]> {
  const dev = device;
  if (!dev) throw new GpuError('device-lost', 'the Dawn host has no device (the session was not opened or was closed)');
  const reports: ShaderReport[] = [];
  for (const s of shaders) {
    const { module, messages, rejected } = await createModule(dev, s.label, s.code);
    const report: ShaderReport = { label: s.label, messages };
    if (rejected && !messages.some((m) => m.type === 'error'))
      messages.push({ type: 'error', line: 0, column: 0, offset: 0, length: 0, message: rejected.message });
    if (pipelines && !messages.some((m) => m.type === 'error')) {
      try {
        await scoped(dev, `creating the pipeline of ${s.label}`, () => timePipeline(dev, module, s, report));
      } catch (e) {
        report.pipelineError = e instanceof Error ? e.message : String(e);
      }
    }
    reports.push(report);
  }
  return reports;
}

/** Creates the shader's pipeline and, when asked, runs one workgroup of it on zeroed buffers, timing both. */
async function timePipeline(dev: GPUDevice, module: GPUShaderModule, s: CompileShaderRequest, report: ShaderReport): Promise<void> {
  const groups: ShaderBinding[][] = [];
  for (const b of s.dispatch?.bindings ?? []) (groups[b.group] ??= []).push(b);
  const layout = s.dispatch
    ? dev.createPipelineLayout({
        bindGroupLayouts: Array.from(groups, (entries = []) =>
          dev.createBindGroupLayout({ entries: entries.map((e) => ({ binding: e.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: e.type } })) }),
        ),
      })
    : 'auto';
  const cpu0 = process.cpuUsage();
  const cpuMs = () => {
    const { user, system } = process.cpuUsage(cpu0);
    return (user + system) / 1000;
  };
  let t0 = performance.now();
  // Without a named entry point WebGPU takes the module's only one (scan kernels name theirs after the kernel).
  const pipeline = await dev.createComputePipelineAsync({ label: s.label, layout, compute: { module, ...(s.entryPoint ? { entryPoint: s.entryPoint } : {}) } });
  report.pipelineMs = performance.now() - t0;
  report.cpuMs = cpuMs();
  if (!s.dispatch) return;
  const buffers: GPUBuffer[] = [];
  try {
    const bindGroups = Array.from(groups, (entries = [], g) =>
      dev.createBindGroup({
        layout: pipeline.getBindGroupLayout(g),
        entries: entries.map((e) => {
          const usage = e.type === 'uniform' ? GPUBufferUsage.UNIFORM : GPUBufferUsage.STORAGE;
          const buffer = dev.createBuffer({ size: e.bytes, usage, label: `${s.label} @group(${g}) @binding(${e.binding})` });
          buffers.push(buffer);
          return { binding: e.binding, resource: { buffer } };
        }),
      }),
    );
    const enc = dev.createCommandEncoder({ label: `first dispatch of ${s.label}` });
    const pass = enc.beginComputePass();
    pass.setPipeline(pipeline);
    bindGroups.forEach((bg, g) => pass.setBindGroup(g, bg));
    pass.dispatchWorkgroups(1); // zeroed sizes in the uniforms: the kernel returns at once
    pass.end();
    t0 = performance.now();
    dev.queue.submit([enc.finish()]);
    await dev.queue.onSubmittedWorkDone();
    report.dispatchMs = performance.now() - t0;
    report.cpuMs = cpuMs();
  } finally {
    for (const b of buffers) b.destroy();
  }
}

const bindingType = (usage: WireBufferSpec['usage']): GPUBufferBindingType =>
  usage === 'uniform' ? 'uniform' : usage === 'storage-read' ? 'read-only-storage' : 'storage';

/**
 * Explicit bind group layouts from the pass's bindings and the buffers' usages, rather than
 * layout 'auto': 'auto' drops bindings the entry point does not use, and binding them then fails.
 */
function pipelineFor(dev: GPUDevice, pass: GpuPass, module: GPUShaderModule, code: string, entryPoint: string, specs: Map<string, WireBufferSpec>) {
  const groups: { binding: number; type: GPUBufferBindingType }[][] = [];
  for (const b of pass.bindings) (groups[b.group ?? 0] ??= []).push({ binding: b.binding, type: bindingType(specs.get(b.buffer)!.usage) });
  for (let g = 0; g < groups.length; g++) (groups[g] ??= []).sort((x, y) => x.binding - y.binding);
  const key = `${entryPoint}\0${JSON.stringify(groups)}\0${code}`;
  let pipeline = pipelines.get(key);
  if (!pipeline) {
    const layouts = groups.map((entries) =>
      dev.createBindGroupLayout({ entries: entries.map((e) => ({ binding: e.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: e.type } })) }),
    );
    pipeline = dev.createComputePipeline({
      label: pass.shader,
      layout: dev.createPipelineLayout({ bindGroupLayouts: layouts }),
      compute: { module, entryPoint },
    });
    if (pipelines.size > 256) pipelines.clear();
    pipelines.set(key, pipeline);
  }
  return { pipeline, groups: groups.length };
}

function upload(dev: GPUDevice, buffer: GPUBuffer, data: ArrayBufferView | ArrayBuffer) {
  const bytes = data instanceof ArrayBuffer ? new Uint8Array(data) : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (bytes.byteLength === 0) return;
  // writeBuffer wants a multiple of 4 bytes.
  const padded = bytes.byteLength % 4 ? new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4) : bytes;
  if (padded !== bytes) padded.set(bytes);
  dev.queue.writeBuffer(buffer, 0, padded as Uint8Array<ArrayBuffer>);
}

type Make = (size: number, usage: number, label: string) => GPUBuffer;
type Encode = (enc: GPUCommandEncoder, timestamps?: (i: number) => GPUComputePassTimestampWrites) => void;

async function runJob(id: number, job: WireJob, stamps: Partial<HostStamps>): Promise<WireResult> {
  const dev = device;
  if (!dev || !summary) throw new GpuError('device-lost', 'the Dawn host has no device (the session was not opened or was closed)');
  const lease = new Lease(dev, pool);
  let clean = false;
  try {
    const compiled = new Map<string, GPUShaderModule>();
    for (const s of job.shaders) compiled.set(s.label, await shaderModule(dev, s.label, s.code));
    stamps.compiled = now();

    const call = await startCall(dev, id, job, compiled, lease, stamps);
    const result: WireResult = { buffers: {}, adapter: summary };
    if (job.timing && job.passes.length > 0) Object.assign(result, await time(dev, job, call.encodePasses, lease.make));
    if (job.copyTiming) Object.assign(result, await timeCopies(dev, job, call.buffers, lease.make));
    // With wholeCall, the results returned are the last timed call's: nothing to announce before.
    const announce = job.wholeCall ? undefined : (upTo: number) => void process.send!({ id, progress: upTo } satisfies WireProgress);
    result.buffers = await call.readBack(stamps, announce);
    lease.release((clean = true));
    if (job.wholeCall) Object.assign(result, await timeWholeCalls(dev, id, job, compiled));
    return result;
  } finally {
    lease.release(clean);
  }
}

/**
 * Uploads the bulk inputs through staging buffers mapped for writing: the file's bytes are read
 * straight into them (one copy, into memory the pool keeps warm) and copied into the job's buffers
 * on the GPU's queue. writeBuffer would copy twice, the second time into a staging buffer Dawn
 * allocates afresh for every large write (page faults). (Staging in pieces, so that the queue
 * copies one piece while the next is read, measured no faster on lavapipe, docs/host-transfer.md.)
 */
async function uploadBulk(dev: GPUDevice, id: number, job: WireJob, lease: Lease, buffers: Map<string, GPUBuffer>): Promise<void> {
  const bulk = job.buffers.filter((b): b is WireBufferSpec & { from: BulkRef } => !!b.from && b.from.bytes > 0);
  if (bulk.length === 0) return;
  if (bulkFd === null) throw new GpuError('validation', 'internal error: a job refers to the bulk file, and this Dawn host has none');
  const staged = bulk.map((b) => {
    const size = Math.ceil(b.from.bytes / 4) * 4; // copies move multiples of 4 bytes
    const { buffer, mapped } = lease.makeMapped(size, GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC, `${b.name} (upload)`);
    return { target: buffers.get(b.name)!, from: b.from, size, staging: buffer, mapped };
  });
  // Idle buffers: their last use, a copy of an earlier call, is done.
  await soon(Promise.all(staged.filter((s) => !s.mapped).map((s) => s.staging.mapAsync(GPUMapMode.WRITE))));
  const enc = dev.createCommandEncoder({ label: 'upload' });
  let stream = 0; // where this input starts in the run's input stream
  for (const s of staged) {
    const range = new Uint8Array(s.staging.getMappedRange(0, s.size));
    // Piece by piece, as the parent announces them: it writes the next while this one is read.
    for (let off = 0; off < s.from.bytes; off += PIECE_BYTES) {
      const end = Math.min(s.from.bytes, off + PIECE_BYTES);
      await inputsWritten(id, stream + end);
      readAll(bulkFd, range.subarray(off, end), s.from.at + off);
    }
    stream += s.from.bytes;
    range.fill(0, s.from.bytes); // a reused staging buffer holds an earlier call's bytes past the data
    s.staging.unmap();
    enc.copyBufferToBuffer(s.staging, 0, s.target, 0, s.size);
  }
  dev.queue.submit([enc.finish()]);
}

/**
 * One call of the job up to its submission: buffers, uploads, bind groups, then the passes and copies
 * into MAP_READ staging buffers, submitted. `readBack` maps the staging buffers and copies them out.
 */
async function startCall(dev: GPUDevice, id: number, job: WireJob, compiled: Map<string, GPUShaderModule>, lease: Lease, stamps: Partial<HostStamps> = {}) {
  const { make } = lease;
  const specs = new Map(job.buffers.map((b) => [b.name, b]));
  const shaders = new Map(job.shaders.map((s) => [s.label, s]));
  // Setup: buffers, pipelines, bind groups. Errors come back through the scopes, not as uncaptured noise.
  const buffers = new Map<string, GPUBuffer>();
  const prepared = await scoped(dev, 'preparing the job', async () => {
    for (const b of job.buffers) {
      const usage = b.usage === 'uniform' ? GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST : GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | GPUBufferUsage.COPY_SRC;
      buffers.set(b.name, make(deviceBytes(b), usage, b.name));
    }
    // What the data does not cover must read as zero: a reused buffer is cleared there first. The
    // clears and the copies from the staging buffers are submitted before the inline uploads, which
    // the queue then orders after them.
    const clear = dev.createCommandEncoder({ label: 'clear reused buffers' });
    let clears = 0;
    for (const b of job.buffers) {
      const buf = buffers.get(b.name)!;
      const covered = Math.ceil((b.from?.bytes ?? b.data?.byteLength ?? 0) / 4) * 4;
      if (lease.reused(buf) && covered < buf.size) {
        clear.clearBuffer(buf, covered);
        clears++;
      }
    }
    if (clears > 0) dev.queue.submit([clear.finish()]);
    await uploadBulk(dev, id, job, lease, buffers);
    for (const b of job.buffers) if (b.data) upload(dev, buffers.get(b.name)!, b.data);
    const prepared = job.passes.map((p) => {
      const s = shaders.get(p.shader)!;
      const { pipeline, groups } = pipelineFor(dev, p, compiled.get(p.shader)!, s.code, s.entryPoint ?? 'main', specs);
      const bindGroups = Array.from({ length: groups }, (_, g) =>
        dev.createBindGroup({
          layout: pipeline.getBindGroupLayout(g),
          // The job's size, not the buffer's: a pooled buffer may be larger (pool.ts `take`).
          entries: p.bindings.filter((b) => (b.group ?? 0) === g).map((b) => ({ binding: b.binding, resource: { buffer: buffers.get(b.buffer)!, size: deviceBytes(specs.get(b.buffer)!) } })),
        }),
      );
      return { pass: p, pipeline, bindGroups };
    });
    return prepared;
  });
  stamps.uploaded = now();
  if (SYNC_PROFILE) {
    await dev.queue.onSubmittedWorkDone();
    stamps.copiedIn = now();
  }

  const encodePasses: Encode = (enc, timestamps) => {
    prepared.forEach(({ pass, pipeline, bindGroups }, i) => {
      const cp = enc.beginComputePass({ label: pass.label ?? pass.shader, ...(timestamps ? { timestampWrites: timestamps(i) } : {}) });
      cp.setPipeline(pipeline);
      bindGroups.forEach((bg, g) => cp.setBindGroup(g, bg));
      const [x, y = 1, z = 1] = pass.dispatch;
      cp.dispatchWorkgroups(x, y, z);
      cp.end();
    });
  };

  // The run whose results are read back: passes, then copies into MAP_READ staging buffers.
  const reads = await scoped(dev, 'running the passes', async () => {
    let enc = dev.createCommandEncoder({ label: 'run' });
    encodePasses(enc);
    if (SYNC_PROFILE) {
      dev.queue.submit([enc.finish()]);
      await dev.queue.onSubmittedWorkDone();
      stamps.computed = now();
      enc = dev.createCommandEncoder({ label: 'read-back copies' });
    }
    const reads: { name: string; bytes: number; to: number | undefined; staging: GPUBuffer }[] = [];
    for (const b of job.buffers.filter((b) => b.read)) {
      const staging = make(deviceBytes(b), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, `${b.name} (read-back)`);
      enc.copyBufferToBuffer(buffers.get(b.name)!, 0, staging, 0, deviceBytes(b));
      reads.push({ name: b.name, bytes: b.bytes, to: b.to, staging });
    }
    dev.queue.submit([enc.finish()]);
    return reads;
  });

  /**
   * The read buffers: small ones copied out inline, large ones written into the bulk file where the
   * parent asked, piece by piece, each announced with `announce` (bytes of the run's output stream
   * written so far) so that the parent reads one piece while the next is written.
   */
  const readBack = async (stamps: Partial<HostStamps> = {}, announce?: (upTo: number) => void): Promise<Record<string, ArrayBuffer | BulkRef>> => {
    await gpuWait(Promise.all(reads.map((r) => r.staging.mapAsync(GPUMapMode.READ))));
    stamps.mapped = now();
    const out: Record<string, ArrayBuffer | BulkRef> = {};
    let stream = 0;
    for (const r of reads) {
      const range = r.staging.getMappedRange();
      if (r.to !== undefined && bulkFd !== null && r.bytes > 0) {
        try {
          for (let off = 0; off < r.bytes; off += PIECE_BYTES) {
            const end = Math.min(r.bytes, off + PIECE_BYTES);
            writeAll(bulkFd, new Uint8Array(range, off, end - off), r.to + off);
            announce?.(stream + end);
          }
          stream += r.bytes;
          out[r.name] = { at: r.to, bytes: r.bytes };
          continue;
        } catch {
          // The file could not take it (tmpfs full): this buffer goes back over the pipe, and the
          // stream's later pieces are not announced (the parent reads them after the reply).
          announce = undefined;
        }
      }
      out[r.name] = range.slice(0, r.bytes);
    }
    stamps.readBack = now();
    return out;
  };
  return { encodePasses, readBack, buffers };
}

/** Wall-clock timing without timestamp queries: `warmup` runs, then submit to done of each of `repeats` runs of `runs(1)`. */
async function wallTimings(dev: GPUDevice, runs: (n: number) => GPUCommandBuffer, repeats: number, warmup: number): Promise<number[]> {
  if (warmup > 0) {
    dev.queue.submit([runs(warmup)]);
    await dev.queue.onSubmittedWorkDone();
  }
  const timingsNs: number[] = [];
  // No polling delay inside the measurement.
  await spinning(async () => {
    for (let r = 0; r < repeats; r++) {
      const cb = runs(1);
      const t0 = process.hrtime.bigint();
      dev.queue.submit([cb]);
      await dev.queue.onSubmittedWorkDone();
      timingsNs.push(Number(process.hrtime.bigint() - t0));
    }
  });
  return timingsNs;
}

/**
 * Wall clock of whole calls as a caller of the runtime sees them, less the IPC to this process:
 * take the buffers, upload, bind, run the passes, read back into host memory — with the bulk file
 * (transfer.ts), large inputs are read from it and large results written into it each time, and
 * only the caller's own copies into and out of it are not counted. Shader modules,
 * pipelines and buffers come from the session's caches and pool (the job's first run made them), as
 * a warmed-up library's would. The buffers read back are the last timed call's, so that what the
 * caller checks is what was timed.
 */
async function timeWholeCalls(dev: GPUDevice, id: number, job: WireJob, compiled: Map<string, GPUShaderModule>): Promise<Pick<WireResult, 'buffers' | 'wholeCallNs'>> {
  const { repeats, warmup = 0 } = job.wholeCall!;
  if (!Number.isInteger(repeats) || repeats < 1 || !Number.isInteger(warmup) || warmup < 0)
    throw new GpuError('validation', `wholeCall needs an integer repeats >= 1 and warmup >= 0, got repeats ${repeats}, warmup ${warmup}`);
  const wholeCallNs: number[] = [];
  let buffers: Record<string, ArrayBuffer | BulkRef> = {};
  // No polling delay inside the measurement.
  await spinning(async () => {
    for (let r = 0; r < warmup + repeats; r++) {
      const lease = new Lease(dev, pool);
      let clean = false;
      try {
        const t0 = process.hrtime.bigint();
        buffers = await (await startCall(dev, id, job, compiled, lease)).readBack();
        if (r >= warmup) wholeCallNs.push(Number(process.hrtime.bigint() - t0));
        clean = true;
      } finally {
        lease.release(clean);
      }
    }
  });
  return { buffers, wholeCallNs };
}

/**
 * Times the pass sequence. Timestamps: every pass writes its begin and end; all repeats go into one
 * command buffer, the query sets are resolved once and read back once. Without 'timestamp-query':
 * wall clock from submit to onSubmittedWorkDone, per repeat.
 */
async function time(
  dev: GPUDevice,
  job: WireJob,
  encodePasses: Encode,
  make: Make,
): Promise<Pick<WireResult, 'timingsNs' | 'perPassNs' | 'timingMethod'>> {
  const { repeats, warmup = 0, method = 'auto' } = job.timing!;
  const P = job.passes.length;
  if (method === 'wall' || !dev.features.has('timestamp-query') || 2 * P > MAX_QUERIES) {
    const runs = (n: number) => {
      const enc = dev.createCommandEncoder();
      for (let i = 0; i < n; i++) encodePasses(enc);
      return enc.finish();
    };
    return { timingsNs: await wallTimings(dev, runs, repeats, warmup), timingMethod: 'wall' };
  }

  const perSet = Math.floor(MAX_QUERIES / (2 * P)); // repeats per query set
  const sets = Math.ceil(repeats / perSet);
  const setBytes = MAX_QUERIES * 8; // a multiple of 256, as resolveQuerySet's offset must be
  const querySets: GPUQuerySet[] = [];
  const staging = make(sets * setBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'timestamps (read-back)');
  try {
    await scoped(dev, 'timing the passes', () => {
      for (let s = 0; s < sets; s++) querySets.push(dev.createQuerySet({ type: 'timestamp', count: 2 * P * Math.min(perSet, repeats - s * perSet) }));
      const resolve = make(sets * setBytes, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, 'timestamps');
      const enc = dev.createCommandEncoder({ label: 'timing' });
      for (let i = 0; i < warmup; i++) encodePasses(enc);
      for (let r = 0; r < repeats; r++) {
        const querySet = querySets[Math.floor(r / perSet)]!;
        const base = 2 * P * (r % perSet);
        encodePasses(enc, (i) => ({ querySet, beginningOfPassWriteIndex: base + 2 * i, endOfPassWriteIndex: base + 2 * i + 1 }));
      }
      querySets.forEach((qs, s) => enc.resolveQuerySet(qs, 0, qs.count, resolve, s * setBytes));
      enc.copyBufferToBuffer(resolve, 0, staging, 0, sets * setBytes);
      dev.queue.submit([enc.finish()]);
    });
  } finally {
    querySets.forEach((qs) => qs.destroy());
  }
  await staging.mapAsync(GPUMapMode.READ);
  const ts = new BigUint64Array(staging.getMappedRange().slice(0));
  const timingsNs: number[] = [];
  const perPassNs: number[][] = [];
  for (let r = 0; r < repeats; r++) {
    const base = Math.floor(r / perSet) * MAX_QUERIES + 2 * P * (r % perSet);
    perPassNs.push(Array.from({ length: P }, (_, i) => Number(ts[base + 2 * i + 1]! - ts[base + 2 * i]!)));
    timingsNs.push(Number(ts[base + 2 * P - 1]! - ts[base]!));
  }
  return { timingsNs, perPassNs, timingMethod: 'timestamp' };
}

/**
 * Times the job's buffer-to-buffer copies (`copyTiming`). WebGPU writes timestamps only at the
 * beginning and end of passes, and copies are not in passes: with 'timestamp-query', each repeat's
 * copies sit between two empty compute passes on one encoder, and the repeat's time runs from the end
 * of the one before to the beginning of the one after — the kernels' clock, and no submit or wait in
 * it. That relies on the queue running commands in order (true of lavapipe, which runs them one after
 * another on one thread; a GPU may start a pass's timestamp before an earlier copy is done). Without
 * timestamps: wall clock per repeat, submit to done, as `time` does.
 */
async function timeCopies(dev: GPUDevice, job: WireJob, buffers: Map<string, GPUBuffer>, make: Make): Promise<Pick<WireResult, 'copyTimingsNs' | 'copyTimingMethod'>> {
  const { copies, repeats, warmup = 0, method = 'auto' } = job.copyTiming!;
  if (!Number.isInteger(repeats) || repeats < 1 || !Number.isInteger(warmup) || warmup < 0 || 2 * repeats > MAX_QUERIES)
    throw new GpuError('validation', `copyTiming needs an integer repeats from 1 to ${MAX_QUERIES / 2} and warmup >= 0, got repeats ${repeats}, warmup ${warmup}`);
  for (const c of copies)
    for (const name of [c.from, c.to]) if (!buffers.has(name)) throw new GpuError('validation', `copyTiming copies \`${name}\`, which is not a buffer of the job`);
  const encodeCopies = (enc: GPUCommandEncoder) => {
    for (const c of copies) enc.copyBufferToBuffer(buffers.get(c.from)!, c.fromOffset ?? 0, buffers.get(c.to)!, c.toOffset ?? 0, c.bytes);
  };
  if (method === 'wall' || !dev.features.has('timestamp-query')) {
    const runs = (n: number) => {
      const enc = dev.createCommandEncoder({ label: 'copies' });
      for (let i = 0; i < n; i++) encodeCopies(enc);
      return enc.finish();
    };
    const copyTimingsNs = await scoped(dev, 'timing the copies', () => wallTimings(dev, runs, repeats, warmup));
    return { copyTimingsNs, copyTimingMethod: 'wall' };
  }
  const querySet = dev.createQuerySet({ type: 'timestamp', count: 2 * repeats });
  // The sizes asked for, not the buffers': a pooled buffer may be larger (pool.ts `take`).
  const stampBytes = Math.ceil((16 * repeats) / 256) * 256;
  const staging = make(stampBytes, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST, 'copy timestamps (read-back)');
  try {
    await scoped(dev, 'timing the copies', () => {
      const resolve = make(stampBytes, GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC, 'copy timestamps');
      const enc = dev.createCommandEncoder({ label: 'timing copies' });
      for (let i = 0; i < warmup; i++) encodeCopies(enc);
      for (let r = 0; r < repeats; r++) {
        enc.beginComputePass({ label: 'before copies', timestampWrites: { querySet, endOfPassWriteIndex: 2 * r } }).end();
        encodeCopies(enc);
        enc.beginComputePass({ label: 'after copies', timestampWrites: { querySet, beginningOfPassWriteIndex: 2 * r + 1 } }).end();
      }
      enc.resolveQuerySet(querySet, 0, 2 * repeats, resolve, 0);
      enc.copyBufferToBuffer(resolve, 0, staging, 0, stampBytes);
      dev.queue.submit([enc.finish()]);
    });
  } finally {
    querySet.destroy();
  }
  await gpuWait(staging.mapAsync(GPUMapMode.READ));
  const ts = new BigUint64Array(staging.getMappedRange().slice(0, 16 * repeats));
  staging.unmap();
  return { copyTimingsNs: Array.from({ length: repeats }, (_, r) => Number(ts[2 * r + 1]! - ts[2 * r]!)), copyTimingMethod: 'timestamp' };
}

async function handle(req: WireRequest, received: number): Promise<void> {
  try {
    let value: unknown;
    if (req.type === 'open') value = await open(req.options, (adapterPreview) => void process.send!({ id: req.id, adapterPreview } satisfies WireAdapterPreview));
    else if (req.type === 'run') {
      const stamps: Partial<HostStamps> = { received, started: now() };
      try {
        const result = await runJob(req.id, req.job, stamps);
        stamps.replied = now();
        value = { result, stamps } satisfies WireRunReply;
      } finally {
        written.delete(req.id);
        lastRunDone = Math.max(lastRunDone, req.id);
      }
    } else if (req.type === 'compile') value = await compileShaders(req.shaders, req.pipelines);
    else if (req.type === 'close') {
      closing = true;
      pool.clear();
      device?.destroy();
      device = null;
      gpu = null;
      await send({ id: req.id, ok: true, value: null });
      exit(0);
    }
    await send({ id: req.id, ok: true, value });
  } catch (e) {
    const error =
      e instanceof GpuError
        ? { kind: e.kind, message: e.message, ...(e.details ? { details: e.details } : {}) }
        : { kind: 'validation' as const, message: `GPU job failed: ${e instanceof Error ? e.message : String(e)}` };
    await send({ id: req.id, ok: false, error });
  }
}

let queue = Promise.resolve();
process.on('message', (req: WireRequest) => {
  const received = now();
  // The crash hook jumps the queue: it stands for a crash that happens whenever it happens.
  if (req.type === '__crashForTest') process.kill(process.pid, 'SIGSEGV');
  else if (req.type === 'written') noteWritten(req);
  else queue = queue.then(() => handle(req, received));
});
// Never outlive the parent: an orphaned host with a live device would spin a core forever.
process.on('disconnect', () => exit(0));
