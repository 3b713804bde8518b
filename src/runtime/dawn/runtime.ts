// Parent side of the Dawn runtime: runs GPU jobs (shaders, buffers, compute passes) in a dedicated
// child process, the Dawn host (host.ts). This process never loads `webgpu`: npm webgpu 0.6.2
// crashes when V8 optimizes hot JavaScript while a device is alive, and the parent (CLI, tests,
// reference interpreter) runs hot loops. The host runs under --no-opt and does no hot work, and if
// it dies anyway only the job in flight is lost (docs/dawn-crash.md).
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { checkJob } from './check.js';
import { hostDeathError } from './death.js';
import { shaderBindings } from './reflect.js';
import { BULK_ENV, BULK_FD, BulkFile, inline, now, prefaultResults, recycleResults, type HostStamps, type Transport, type WireAdapterPreview, type WireProgress, type WireRequest, type WireRunReply } from './transfer.js';
import {
  GpuError,
  type AdapterSummary,
  type CompileShaderRequest,
  type CompileShadersOptions,
  type GpuJob,
  type GpuShaderSpec,
  type GpuJobResult,
  type HostReply,
  type OpenOptions,
  type ShaderReport,
} from '../../../backends/job.js';

export * from '../../../backends/job.js';
export { checkJob, deviceBytes } from './check.js';
export { formatShaderError, renderShaderMessages } from './frame.js';
export { killedFromOutside } from './death.js';
export type { Transport } from './transfer.js';

export interface GpuSessionOptions extends OpenOptions {
  /** Extra environment for the host process (tests: VK_ICD_FILENAMES=/nonexistent.json). */
  env?: Record<string, string | undefined>;
  /** A job (or the open) running longer than this kills the host: GpuError 'timeout'. Default 10 min. */
  jobTimeoutMs?: number;
  /**
   * How large arrays travel to and from the host (transfer.ts): 'shm' (default) through a private,
   * unlinked file on tmpfs, only offsets over the pipe; 'ipc' by structured clone over the pipe. The
   * environment variable RNNC_DAWN_TRANSPORT sets the default. 'shm' falls back to 'ipc' where no
   * temporary file can be made.
   */
  transport?: Transport;
}

/**
 * Where the time of the session's last run went, in ms (GpuSession.lastProfile; null after a run
 * that fell back to the pipe). In the order of the call: the parent's encoding of the job, the way
 * to the host, waiting behind earlier requests, the host's shader lookup, its setup and uploads
 * (reading the bulk inputs as the parent writes them: `write` overlaps it), the passes with the
 * copies to the read-back buffers (encode to mapped), copying the results out (into the bulk file,
 * which the parent reads as the pieces come: `streamed` overlaps it), returning the buffers to the
 * pool (and any `timing` or `wholeCall` the job asked for), the way back, and the parent's decoding
 * (what was left to read). Medians of the phases need not add up to the median total.
 * Cross-process phases use the wall clock of both processes (a few µs apart).
 */
export interface RunProfile {
  transport: Transport;
  encode: number;
  /** Writing the bulk inputs into the file after sending the request (the host reads them meanwhile). */
  write: number;
  /** From handing the request to the IPC channel (serialising it) to its arrival in the host. */
  toHost: number;
  queued: number;
  shaders: number;
  upload: number;
  passes: number;
  /** With RNNC_DAWN_PROFILE=sync in the host's environment, `passes` in three: the upload copies, the passes, the read-back copies (each waited for). */
  gpuCopyIn?: number;
  kernels?: number;
  gpuCopyOut?: number;
  readBack: number;
  finish: number;
  toParent: number;
  /** Reading the results' pieces as the host announced them, before its reply (overlaps `readBack`). */
  streamed: number;
  /** After the reply: reading what was not read yet, and building the result. */
  decode: number;
  total: number;
}

const DEFAULT_TIMEOUT_MS = 600_000;
const EXIT_DEVICE_LOST = 3; // host.ts
// Dawn/loader chatter that says nothing to a user; kept in the crash report tail, not echoed.
const NOISE = [/artificially reduced/, /^Warning: (loader_get_json|vkCreateInstance)/, /^\s+at CheckVkSuccessImpl/];

// From TypeScript sources (vitest, tsx) run host.ts through tsx; from dist/ run host.js.
const fromSource = import.meta.url.endsWith('.ts');
const HOST_PATH = fileURLToPath(new URL(fromSource ? './host.ts' : './host.js', import.meta.url));

function hostExecArgv(): string[] {
  const argv = ['--no-opt'];
  // Resolve tsx from here, not from the cwd, so a parent running elsewhere still finds it.
  if (fromSource) argv.push('--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href);
  return argv;
}

type Pending = { resolve: (v: unknown) => void; reject: (e: GpuError) => void; what: string; timer: NodeJS.Timeout; progress?: (upTo: number) => void; preview?: (adapter: AdapterSummary) => void };
/** What a request's caller hears before the reply: its id once sent, the host's progress (transfer.ts), an open's adapter before its device. */
type Hooks = { sent?: (id: number) => void; progress?: (upTo: number) => void; preview?: (adapter: AdapterSummary) => void };
type WithoutId<T> = T extends unknown ? Omit<T, 'id'> : never;
const transportOf = (opts: GpuSessionOptions): Transport => {
  const t = opts.transport ?? process.env['RNNC_DAWN_TRANSPORT'] ?? 'shm';
  if (t !== 'shm' && t !== 'ipc') throw new Error(`GpuSession: unknown transport '${t}' (RNNC_DAWN_TRANSPORT or the transport option): 'shm' or 'ipc'`);
  return t;
};
type Refable = { ref?(): void; unref?(): void };

/** One host process and the requests in flight to it. Exported for tests; use GpuSession. */
export class Host {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  /** The bulk file shared with this host (transfer.ts); null when large arrays go over the pipe. */
  readonly bulk: BulkFile | null;
  /** When the last reply arrived (the shared wall clock). */
  lastReplyAt = 0;
  dead = false;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  private lost: GpuError | null = null;
  /** Why rnnc itself killed the host (a request past its time limit, a close that hung), if it did. */
  private killedBecause: string | null = null;

  constructor(private readonly opts: GpuSessionOptions) {
    this.bulk = transportOf(opts) === 'shm' ? BulkFile.create() : null;
    try {
      this.child = fork(HOST_PATH, [], {
        execArgv: hostExecArgv(),
        env: { ...process.env, ...opts.env, [BULK_ENV]: this.bulk ? String(BULK_FD) : undefined },
        serialization: 'advanced', // small arrays (and all of them with transport 'ipc') travel by structured clone
        // The host's fd 4 is the bulk file: the host has the only other descriptor of it.
        stdio: ['ignore', 'pipe', 'pipe', 'ipc', ...(this.bulk ? [this.bulk.fd] : [])],
      });
    } catch (e) {
      this.bulk?.close();
      throw e;
    }
    for (const stream of [this.child.stdout!, this.child.stderr!]) {
      let partial = '';
      stream.setEncoding('utf8');
      stream.on('data', (chunk: string) => {
        this.stderrTail = (this.stderrTail + chunk).slice(-4000);
        const lines = (partial + chunk).split('\n');
        partial = lines.pop()!;
        for (const line of lines) if (line.trim() && !NOISE.some((re) => re.test(line))) process.stderr.write(`[dawn host] ${line}\n`);
      });
    }
    this.child.on('message', (msg: HostReply) => this.onReply(msg));
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.dead = true;
        this.bulk?.close(); // the file's pages go with the last descriptor
        const error = this.deathError(code, signal);
        for (const p of this.pending.values()) {
          clearTimeout(p.timer);
          p.reject(error);
        }
        this.pending.clear();
        resolve();
      });
    });
    this.child.on('error', (e) => {
      // fork itself failed (or a send did): treat as a dead host.
      this.stderrTail += `\n${e.message}`;
    });
    this.refresh();
  }

  private deathError(code: number | null, signal: NodeJS.Signals | null): GpuError {
    const stderr = this.stderrTail.trim();
    const details = { exitCode: code, signal, stderr };
    if (this.lost) return new GpuError('device-lost', this.lost.message, details);
    if (code === EXIT_DEVICE_LOST) return new GpuError('device-lost', 'the GPU device was lost and the Dawn host exited', details);
    // Our own SIGKILL is neither the known crash nor a kill from outside.
    if (this.killedBecause) return new GpuError('timeout', `the Dawn host was stopped by rnnc: ${this.killedBecause}`, details);
    return hostDeathError({ pid: this.child.pid, exitCode: code, signal, stderr });
  }

  private onReply(msg: HostReply | WireProgress | WireAdapterPreview) {
    if ('adapterPreview' in msg) {
      this.pending.get(msg.id)?.preview?.(msg.adapterPreview);
      return;
    }
    if ('progress' in msg) {
      this.pending.get(msg.id)?.progress?.(msg.progress);
      return;
    }
    this.lastReplyAt = now();
    if ('event' in msg) {
      this.lost = new GpuError(msg.error.kind, msg.error.message, msg.error.details);
      return; // the host exits next; pending requests are rejected then
    }
    const p = this.pending.get(msg.id);
    if (!p) return;
    this.pending.delete(msg.id);
    clearTimeout(p.timer);
    this.refresh();
    if (msg.ok) p.resolve(msg.value);
    else p.reject(new GpuError(msg.error.kind, msg.error.message, msg.error.details));
  }

  /** Keep this process alive only while a request is in flight, so a forgotten session cannot hang it. */
  private refresh() {
    const op = this.pending.size > 0 ? 'ref' : 'unref';
    for (const h of [this.child, this.child.channel, this.child.stdout, this.child.stderr] as (Refable | null | undefined)[]) h?.[op]?.();
  }

  request(msg: WithoutId<WireRequest>, what: string, timeoutMs = this.opts.jobTimeoutMs ?? DEFAULT_TIMEOUT_MS, hooks: Hooks = {}): Promise<unknown> {
    if (this.dead) return Promise.reject(this.deathError(this.child.exitCode, this.child.signalCode));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.kill(`${what} did not finish within ${timeoutMs / 1000} s`);
        reject(
          new GpuError('timeout', `${what} did not finish within ${timeoutMs / 1000} s; the Dawn host was killed (hangs are part of the known Dawn problem, see docs/dawn-crash.md)`, {
            stderr: this.stderrTail.trim(),
          }),
        );
      }, timeoutMs);
      timer.unref();
      this.pending.set(id, { resolve, reject, what, timer, ...(hooks.progress ? { progress: hooks.progress } : {}), ...(hooks.preview ? { preview: hooks.preview } : {}) });
      this.refresh();
      this.child.send({ ...msg, id } as WireRequest);
      hooks.sent?.(id);
    });
  }

  send(msg: WireRequest) {
    if (!this.dead) this.child.send(msg);
  }

  kill(because: string) {
    if (this.dead) return;
    this.killedBecause = because;
    this.child.kill('SIGKILL');
    // Dead from now on, not from its 'exit' event: the session's next job must start a fresh host,
    // not go to this one while it is being killed.
    this.dead = true;
  }
}

export class GpuSession {
  /** The adapter and device limits/features of the session (from its first host). */
  adapter!: AdapterSummary;
  /** Where the time of the last run went (RunProfile). */
  lastProfile: RunProfile | null = null;
  private host: Host | null = null;
  private starting: Promise<Host> | null = null;
  /** The host being opened, until its device is open (`abandon` kills it). */
  private opening: Host | null = null;
  /** Hears the adapter an opening host announces before it creates the device (`start`). */
  private onPreview: ((adapter: AdapterSummary) => void) | null = null;
  private closed = false;

  private constructor(private readonly opts: GpuSessionOptions) {
    transportOf(opts); // an unknown transport fails here, not in the host
  }

  /** Starts a Dawn host and opens its device; throws GpuError 'no-adapter' when there is no driver. */
  static async open(opts: GpuSessionOptions = {}): Promise<GpuSession> {
    // Test runners set this where no GPU may be used, with the reason as its value (vitest.config.ts).
    const forbidden = process.env['RNNC_FORBID_GPU'];
    if (forbidden) throw new Error(`GpuSession.open: no GPU here: ${forbidden}`);
    const s = new GpuSession(opts);
    await s.ensureHost();
    return s;
  }

  /**
   * Starts opening a session and returns at once, so that the caller can do other work (parse,
   * read its data) while the Dawn host starts and opens its device: `ready` resolves to the open
   * session, or rejects as `open` would (it is marked handled: a caller that never awaits it sees
   * no unhandled rejection). `abandon()` gives the session up: a host still opening is killed at
   * once (the caller need not wait ~0.3 s for an open it no longer wants), an open one is closed.
   * `adapter` resolves earlier than `ready`: with the adapter as the host announces it before it
   * creates the device (features and limits the device will have), for planning meanwhile; check it
   * against the open session's `adapter` (a driver may still give the device other limits).
   */
  static start(opts: GpuSessionOptions = {}): { ready: Promise<GpuSession>; adapter: Promise<AdapterSummary>; abandon(): void } {
    let session: GpuSession | null = null;
    let previewed: (a: AdapterSummary) => void = () => {};
    const preview = new Promise<AdapterSummary>((resolve) => (previewed = resolve));
    const ready = (async () => {
      const forbidden = process.env['RNNC_FORBID_GPU'];
      if (forbidden) throw new Error(`GpuSession.open: no GPU here: ${forbidden}`);
      session = new GpuSession(opts);
      session.onPreview = previewed;
      await session.ensureHost();
      session.onPreview = null;
      return session;
    })();
    ready.catch(() => {});
    // The adapter as announced before the device was created, or the session's own once open (a host that announces nothing).
    const adapter = Promise.race([preview, ready.then((s) => s.adapter)]);
    adapter.catch(() => {});
    return {
      ready,
      adapter,
      abandon: () => {
        const s = session as GpuSession | null;
        if (!s || s.closed) return;
        if (s.opening) {
          s.closed = true;
          s.opening.kill('the session was abandoned while its device was opening');
        } else void s.close().catch(() => {});
      },
    };
  }

  /**
   * Faults in memory for results of these byte counts ahead of the runs that return them (transfer.ts
   * prefaultResults): for a caller with a free core while it waits, e.g. for `start`'s open.
   */
  static prefaultResults(sizes: number[]): void {
    prefaultResults(sizes);
  }

  /** Result memory the caller is done with, for later results of the same size (transfer.ts recycleResults). */
  recycle(buffers: Iterable<ArrayBuffer>): void {
    recycleResults(buffers);
  }

  private ensureHost(): Promise<Host> {
    if (this.host && !this.host.dead) return Promise.resolve(this.host);
    this.starting ??= (async () => {
      const host = new Host(this.opts);
      this.opening = host;
      try {
        const { env: _env, jobTimeoutMs: _t, transport: _tr, ...options } = this.opts;
        // Opening is not a job: a short --timeout for the run must not cut the device's start-up.
        this.adapter = (await host.request({ type: 'open', options }, 'opening the GPU device', DEFAULT_TIMEOUT_MS, { preview: (a) => this.onPreview?.(a) })) as AdapterSummary;
      } catch (e) {
        host.kill('opening the GPU device failed');
        throw e;
      } finally {
        this.starting = null;
        this.opening = null;
      }

      this.host = host;
      return host;
    })();
    return this.starting;
  }

  /** Runs one job. After a host crash the session starts a fresh host for the next job. */
  async run(job: GpuJob): Promise<GpuJobResult> {
    if (this.closed) throw new Error('GpuSession.run: the session is closed');
    checkJob(job, this.adapter);
    const host = await this.ensureHost();
    const t0 = now();
    const wire = host.bulk ? host.bulk.encode(job) : inline(job);
    let writeFailed = false;
    try {
      const t1 = now();
      let t2 = t1;
      const what = `GPU job (${job.passes.map((p) => p.label ?? p.shader).join(', ')})`;
      const reply = host.request({ type: 'run', job: wire.job }, what, undefined, {
        progress: (upTo) => wire.progress(upTo),
        // The bulk inputs go into the file after the request, piece by piece, so that the host reads
        // one piece while this process writes the next.
        sent: (id) => {
          if (!wire.streams) return;
          try {
            wire.write((upTo) => host.send({ id, type: 'written', upTo }));
          } catch (e) {
            writeFailed = true;
            host.send({ id, type: 'written', upTo: 0, error: e instanceof Error ? e.message : String(e) });
          }
          t2 = now();
        },
      });
      let value: WireRunReply;
      try {
        value = (await reply) as WireRunReply;
      } catch (e) {
        // The file could not take the inputs (tmpfs full, say): the host failed the run; it goes over the pipe.
        if (writeFailed) return await this.runInline(host, job);
        throw e;
      }
      const t3 = host.lastReplyAt;
      const decoded = wire.decode(value.result);
      const t4 = now();
      this.lastProfile = profileOf(host.bulk ? 'shm' : 'ipc', [t0, t1, t2, t3, t4], value.stamps, wire.streamedMs);
      return decoded;
    } finally {
      wire.release();
    }
  }

  private async runInline(host: Host, job: GpuJob): Promise<GpuJobResult> {
    const wire = inline(job);
    const { result } = (await host.request({ type: 'run', job: wire.job }, `GPU job (${job.passes.map((p) => p.label ?? p.shader).join(', ')})`)) as WireRunReply;
    this.lastProfile = null;
    return wire.decode(result);
  }

  /**
   * Compiles shaders without running them: Tint's messages for each (a shader with errors does not
   * throw; its report lists them) and, with `pipelines`, the host's time to create its compute
   * pipeline; with `dispatch`, also the time of its first dispatch (where lavapipe compiles).
   * renderShaderMessages (frame.ts) turns a report's messages into a readable message.
   */
  async compileShaders(shaders: GpuShaderSpec[], options: CompileShadersOptions = {}): Promise<ShaderReport[]> {
    if (this.closed) throw new Error('GpuSession.compileShaders: the session is closed');
    const host = await this.ensureHost();
    for (const f of options.requiredFeatures ?? [])
      if (!this.adapter.features.includes(f))
        throw new GpuError('limits', `the shaders need GPU feature '${f}', which this device does not have (it has: ${this.adapter.features.join(', ')})`, { limit: f });
    // A dispatch needs the buffers the module declares; they are read off the WGSL here, where JavaScript runs at full speed.
    const unreadable = new Map<string, string>();
    const requests: CompileShaderRequest[] = shaders.map((s) => {
      if (!options.dispatch) return s;
      try {
        return { ...s, dispatch: { bindings: shaderBindings(s.code) } };
      } catch (e) {
        unreadable.set(s.label, (e as Error).message);
        return s;
      }
    });
    const what = `compiling ${shaders.length === 1 ? `shader ${shaders[0]!.label}` : `${shaders.length} shaders`}`;
    const request = { type: 'compile' as const, shaders: requests, pipelines: !!(options.pipelines || options.dispatch) };
    const reports = (await host.request(request, what, options.timeoutMs)) as ShaderReport[];
    for (const r of reports) {
      const why = unreadable.get(r.label);
      if (why && !r.messages.some((m) => m.type === 'error')) r.pipelineError ??= `no first dispatch: the shader's bindings could not be read (${why})`;
    }
    return reports;
  }

  /** Destroys the device and ends the host process; resolves once it has exited. */
  async close(): Promise<void> {
    this.closed = true;
    const host = this.host ?? (await this.starting?.catch(() => null)) ?? null;
    this.host = null;
    if (!host || host.dead) return;
    const killer = setTimeout(() => host.kill('closing the GPU device took over 10 s'), 10_000);
    try {
      await host.request({ type: 'close' }, 'closing the GPU device');
    } catch {
      // The host exits as part of closing; a reply lost to that race is fine.
    }
    await host.exited;
    clearTimeout(killer);
  }

  /** Test hook: makes the host die by SIGSEGV, as the Dawn crash does. */
  __crashForTest(): void {
    this.host?.send({ id: 0, type: '__crashForTest' });
  }

  /** Process id of the current host (tests). */
  get hostPid(): number | undefined {
    return this.host?.dead ? undefined : this.host?.child.pid;
  }
}

/** Opens a session, runs fn, and always closes the session. */
export async function withGpu<T>(fn: (s: GpuSession) => Promise<T>, opts?: GpuSessionOptions): Promise<T> {
  const session = await GpuSession.open(opts);
  try {
    return await fn(session);
  } finally {
    await session.close();
  }
}

function profileOf(transport: Transport, [t0, t1, t2, t3, t4]: number[], h: Partial<HostStamps>, streamed: number): RunProfile {
  const d = (a: number | undefined, b: number | undefined) => (a === undefined || b === undefined ? NaN : b - a);
  return {
    transport,
    encode: d(t0, t1),
    write: d(t1, t2),
    toHost: d(t1, h.received),
    queued: d(h.received, h.started),
    shaders: d(h.started, h.compiled),
    upload: d(h.compiled, h.uploaded),
    passes: d(h.uploaded, h.mapped),
    ...(h.copiedIn !== undefined && h.computed !== undefined
      ? { gpuCopyIn: d(h.uploaded, h.copiedIn), kernels: d(h.copiedIn, h.computed), gpuCopyOut: d(h.computed, h.mapped) }
      : {}),
    readBack: d(h.mapped, h.readBack),
    finish: d(h.readBack, h.replied),
    toParent: d(h.replied, t3),
    streamed,
    decode: d(t3, t4),
    total: d(t0, t4),
  };
}
