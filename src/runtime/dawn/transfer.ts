// The bulk data path between the parent (runtime.ts) and the Dawn host (host.ts): large arrays go
// through one file on tmpfs that both processes hold open, written and read in 1 MiB pieces that
// are announced over the IPC pipe, so that one side copies a piece while the other copies the next;
// only offsets and byte counts cross the pipe (docs/host-transfer.md has the measurements that chose
// this). Small arrays and every other message stay on the pipe.
//
// The file is private to one host process and never has a name for long: the parent creates it in a
// fresh mkdtemp directory (0700) under /dev/shm (else os.tmpdir()), opens it, unlinks it and removes
// the directory at once, and hands the open descriptor to the host as its fd 4. From then on it lives
// only as long as one of the two descriptors does, so nothing is left on disk whichever process dies
// or whatever job fails, and two sessions (or two hosts of one session) never share a file. Regions of
// the file are reused from call to call, so its pages stay allocated (fresh pages cost page faults).
//
// Nothing here loads `webgpu`: both sides import it.
import { closeSync, ftruncateSync, mkdtempSync, openSync, readdirSync, readSync, rmdirSync, rmSync, statfsSync, statSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bytesView, contentsOf, partsExtent, type GpuBufferSpec, type GpuJob, type GpuJobResult, type HostRequest } from '../../../backends/job.js';

/** Arrays smaller than this travel inline over the pipe: below it the file path measured no faster (docs/host-transfer.md). */
export const BULK_MIN_BYTES = 64 * 1024;
/**
 * Bulk arrays are written and announced in pieces of this size, so that the reader (the host for
 * inputs, the parent for results) copies one piece out of the file while the writer writes the next.
 */
export const PIECE_BYTES = 2 ** 20;
/** The fd the host finds the bulk file on (stdio[4] of the fork). */
export const BULK_FD = 4;
/** Environment variable telling the host that it has a bulk file on BULK_FD. */
export const BULK_ENV = 'RNNC_DAWN_BULK_FD';
/** Offsets in the file are page-aligned. */
const ALIGN = 4096;
/** A file grown past this while nothing is in flight is truncated back to 0 (its pages are memory). */
const KEEP_BYTES = 256 * 2 ** 20;

export type Transport = 'shm' | 'ipc';

/** A region of the bulk file. */
export interface BulkRef {
  at: number;
  bytes: number;
}

/** A buffer of a job as it travels: inline data, or data in the bulk file (`from`), and where to read it back to (`to`). */
export interface WireBufferSpec extends Omit<GpuBufferSpec, 'data' | 'parts'> {
  data?: ArrayBufferView | ArrayBuffer;
  from?: BulkRef;
  /** Write the read-back contents (exactly `bytes` long) into the bulk file here rather than inline. */
  to?: number;
}

export interface WireJob extends Omit<GpuJob, 'buffers'> {
  buffers: WireBufferSpec[];
}

/** Timestamps of one run, ms on the shared wall clock (performance.timeOrigin + performance.now()). */
export interface HostStamps {
  received: number;
  started: number;
  /** Shader modules looked up (or compiled). */
  compiled: number;
  uploaded: number;
  /** RNNC_DAWN_PROFILE=sync only: the upload copies done on the GPU, and the passes done. */
  copiedIn: number;
  computed: number;
  mapped: number;
  readBack: number;
  /** When the reply was handed to the IPC channel. */
  replied: number;
}

export interface WireResult extends Omit<GpuJobResult, 'buffers'> {
  buffers: Record<string, ArrayBuffer | BulkRef>;
}

/**
 * The requests the host takes: the shared protocol (backends/job.ts) with a run's job in its wire
 * form, and `written`: the parent has written this many bytes of run `id`'s input stream (its bulk
 * inputs one after the other, in the job's order) into the file, or could not (`error`).
 */
export type WireRequest =
  | Exclude<HostRequest, { type: 'run' }>
  | { id: number; type: 'run'; job: WireJob }
  | { id: number; type: 'written'; upTo: number; error?: string };

/** From the host, before a run's reply: it has written this many bytes of the run's output stream (its bulk reads one after the other, in the job's order). */
export interface WireProgress {
  id: number;
  progress: number;
}

/**
 * From the host while it opens its device: the adapter as the session will describe it (features the
 * device will have, the adapter's limits, which the device asks for), sent before the device is
 * created (~a quarter of a second on lavapipe), so that the parent can plan for it meanwhile. The
 * open's reply carries the device's own summary, which the parent checks it against.
 */
export interface WireAdapterPreview {
  id: number;
  adapterPreview: import('../../../backends/job.js').AdapterSummary;
}

/** The value of a run's reply. */
export interface WireRunReply {
  result: WireResult;
  stamps: Partial<HostStamps>;
}

export const now = () => performance.timeOrigin + performance.now();

export const isBulkRef = (x: unknown): x is BulkRef =>
  typeof x === 'object' && x !== null && !(x instanceof ArrayBuffer) && !ArrayBuffer.isView(x) && typeof (x as BulkRef).at === 'number';

export function writeAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
}

export function readAll(fd: number, bytes: Uint8Array, position: number): void {
  for (let done = 0; done < bytes.byteLength; ) {
    const n = readSync(fd, bytes, done, bytes.byteLength - done, position + done);
    if (n === 0) throw new Error(`the bulk file ended at ${position + done} bytes, ${bytes.byteLength - done} bytes short of a transfer`);
    done += n;
  }
}

/** A stretch of the input stream in the file: bytes of the caller's, or zeros between a buffer's parts. */
type InputSpan = { bytes: Uint8Array; at: number } | { zeros: number; at: number };
let zeros: Uint8Array | undefined;
/** A piece of zeros to write gaps from (allocated once). */
const zeroPiece = () => (zeros ??= new Uint8Array(PIECE_BYTES));
const aligned = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

/** /dev/shm is used when it has at least this much free (Docker's default /dev/shm is 64 MiB). */
const SHM_MIN_FREE = 2 ** 30;
/** A bulk directory older than this is a leftover of a process killed between creating and removing it. */
const STALE_MS = 60_000;

/** Where the bulk file goes: /dev/shm (tmpfs) when it is there with room, else the OS's temporary directory. */
export function bulkBases(): string[] {
  let shm = false;
  try {
    const fs = statfsSync('/dev/shm');
    shm = statSync('/dev/shm').isDirectory() && fs.bavail * fs.bsize >= SHM_MIN_FREE;
  } catch {}
  return shm ? ['/dev/shm', tmpdir()] : [tmpdir()];
}

/**
 * An open, already unlinked file in a private directory under `base`; its descriptor is all that is
 * left of it. (Only a process killed in the microseconds between mkdtemp and rmdir leaves a
 * directory behind; the next call removes such leftovers once they are a minute old.)
 */
export function createUnlinkedFile(base: string): number {
  removeStale(base);
  const dir = mkdtempSync(join(base, DIR_PREFIX));
  const path = join(dir, 'bulk');
  try {
    return openSync(path, 'wx+', 0o600);
  } finally {
    try {
      unlinkSync(path);
    } catch {}
    rmdirSync(dir);
  }
}

const DIR_PREFIX = 'rnnc-dawn-';

function removeStale(base: string): void {
  try {
    for (const name of readdirSync(base)) {
      if (!name.startsWith(DIR_PREFIX)) continue;
      const dir = join(base, name);
      try {
        if (Date.now() - statSync(dir).mtimeMs > STALE_MS) rmSync(dir, { recursive: true, force: true });
      } catch {}
    }
  } catch {}
}

/**
 * The parent's side of one host's bulk file: hands out regions to the runs in flight, writes their
 * inputs, and reads their results. Closed when the host exits.
 */
export class BulkFile {
  private held: BulkRef[] = [];
  private size = 0;
  private closed = false;

  constructor(readonly fd: number) {}

  /** Creates the file; null where no temporary file can be made (the session then uses the pipe). */
  static create(): BulkFile | null {
    for (const base of bulkBases()) {
      try {
        return new BulkFile(createUnlinkedFile(base));
      } catch {}
    }
    return null;
  }

  /** The lowest free page-aligned region of `bytes` bytes. */
  private allocate(bytes: number): BulkRef {
    let at = 0;
    for (const r of [...this.held].sort((a, b) => a.at - b.at)) {
      if (r.at - at >= bytes) break;
      at = Math.max(at, r.at + aligned(r.bytes));
    }
    const region = { at, bytes };
    this.held.push(region);
    this.size = Math.max(this.size, at + aligned(bytes));
    return region;
  }

  private release(region: BulkRef) {
    this.held = this.held.filter((r) => r !== region);
    if (this.held.length === 0 && this.size > KEEP_BYTES && !this.closed) {
      try {
        ftruncateSync(this.fd, 0);
      } catch {}
      this.size = 0;
    }
  }

  /**
   * The job in its wire form: inputs of BULK_MIN_BYTES or more given a place in a fresh region
   * (written by `write` once the request is sent), reads of that size given a place for the host
   * to write them. Each output is read as the host announces its pieces (`progress`) and the rest
   * at `decode`; `release` frees the region (after the reply, or when the run failed).
   */
  encode(job: GpuJob): EncodedJob {
    const big = (n: number) => n >= BULK_MIN_BYTES;
    let inBytes = 0;
    let outBytes = 0;
    /** Bytes a buffer's initial contents span: its data, or its parts up to the last one's end. */
    const extent = (b: GpuJob['buffers'][number]) => (b.parts ? partsExtent(b.parts) : (b.data?.byteLength ?? 0));
    for (const b of job.buffers) {
      if (big(extent(b))) inBytes += aligned(extent(b));
      if (b.read && big(b.bytes)) outBytes += aligned(b.bytes);
    }
    if (inBytes + outBytes === 0 || this.closed) return inline(job);
    // The results go onto the inputs' pages: the host has read every input before the passes and
    // writes results only after them, so the run needs the larger of the two, and a fresh file has
    // half the pages to fault in. Not with wholeCall, whose timed calls read the inputs again.
    const shared = !job.wholeCall;
    const region = this.allocate(shared ? Math.max(inBytes, outBytes) : inBytes + outBytes);
    let inAt = region.at;
    let outAt = shared ? region.at : region.at + inBytes;
    const inputs: InputSpan[] = [];
    const outputs: Output[] = [];
    const buffers = job.buffers.map((b): WireBufferSpec => {
      const { data, parts, ...spec } = b;
      const wire: WireBufferSpec = spec;
      const bytes = extent(b);
      if (big(bytes)) {
        // The buffer's image in the file: its data, or each part at its offset with zeros between.
        let at = inAt;
        for (const p of parts ?? [{ offset: 0, data: data! }]) {
          if (inAt + p.offset > at) inputs.push({ zeros: inAt + p.offset - at, at });
          inputs.push({ bytes: bytesView(p.data), at: inAt + p.offset });
          at = inAt + p.offset + p.data.byteLength;
        }
        wire.from = { at: inAt, bytes };
        inAt += aligned(bytes);
      } else {
        const small = contentsOf(b);
        if (small) wire.data = compactData(small);
      }
      if (b.read && big(b.bytes)) {
        outputs.push({ name: b.name, at: outAt, bytes: b.bytes, done: 0 });
        wire.to = outAt;
        outAt += aligned(b.bytes);
      }
      return wire;
    });
    return new BulkRun(this.fd, { ...job, buffers }, inputs, outputs, () => this.release(region));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      closeSync(this.fd);
    } catch {}
  }
}

/** A job on its way to the host and back. */
export interface EncodedJob {
  job: WireJob;
  /** Whether `write` has anything to write (bulk inputs). */
  readonly streams: boolean;
  /**
   * Writes the bulk inputs into the file piece by piece, to be called once the request is sent:
   * `announce(n)` after each piece, n the bytes of the input stream written so far. Throws when the
   * file cannot take them (tmpfs full, say).
   */
  write(announce: (upTo: number) => void): void;
  /** The host wrote this many bytes of the output stream: reads the new part. */
  progress(upTo: number): void;
  /** Milliseconds `progress` spent reading. */
  readonly streamedMs: number;
  decode(r: WireResult): GpuJobResult;
  release(): void;
}

interface Output {
  name: string;
  at: number;
  bytes: number;
  /** Bytes read so far, into `out`. */
  done: number;
  out?: ArrayBuffer;
}

/**
 * Memory for results, faulted in ahead of time (`prefaultResults`), by exact byte count. A fresh
 * process's first run otherwise reads each large result into fresh memory, and on this VM a page
 * fault costs ~10-40 µs: 16 MiB of results took ~55 ms to read in a cold `rnnc run` against ~4 ms
 * into memory touched before.
 */
const prefaulted = new Map<number, ArrayBuffer[]>();
/** The most prefaulted memory held at once. */
const PREFAULT_CAP_BYTES = 2 ** 30;
let prefaultedBytes = 0;

/**
 * Allocates and touches memory for results of these byte counts (each at least BULK_MIN_BYTES), so
 * that the next runs whose results have exactly these sizes read them into it. For a caller that
 * waits for something else (the Dawn host opening its device, ~0.3 s) while a core is free: the
 * page faults are paid there rather than during the run. Memory no run takes stays held; at most
 * 1 GiB in all.
 */
export function prefaultResults(sizes: number[]): void {
  for (const bytes of sizes) {
    if (bytes < BULK_MIN_BYTES || prefaultedBytes + bytes > PREFAULT_CAP_BYTES) continue;
    const buffer = Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer;
    new Uint8Array(buffer).fill(0);
    prefaulted.set(bytes, [...(prefaulted.get(bytes) ?? []), buffer]);
    prefaultedBytes += bytes;
  }
}

/** Result memory this module handed out (and not taken back): all that `recycleResults` accepts. */
const issued = new WeakSet<ArrayBuffer>();

/** Every byte of it is read from the file: no need for zeroed memory (a recycled allocation skips a memset). */
const uninitialised = (bytes: number): ArrayBuffer => {
  const ready = prefaulted.get(bytes)?.pop();
  if (ready) prefaultedBytes -= bytes;
  const buffer = ready ?? (Buffer.allocUnsafeSlow(bytes).buffer as ArrayBuffer);
  issued.add(buffer);
  return buffer;
};

/**
 * Takes back result memory its caller is done with (runSegmented, once a piece's outputs are placed),
 * for later results of the same byte count: the next piece of a long run reads into memory already
 * touched. Only memory this module handed out is taken, once; the rest is left to the collector.
 */
export function recycleResults(buffers: Iterable<ArrayBuffer>): void {
  for (const buffer of new Set(buffers)) {
    const bytes = buffer.byteLength;
    if (!issued.has(buffer) || bytes < BULK_MIN_BYTES || prefaultedBytes + bytes > PREFAULT_CAP_BYTES) continue;
    issued.delete(buffer);
    prefaulted.set(bytes, [...(prefaulted.get(bytes) ?? []), buffer]);
    prefaultedBytes += bytes;
  }
}

class BulkRun implements EncodedJob {
  streamedMs = 0;
  /** A read from the file failed while the host was announcing pieces: thrown at decode. */
  private failed: unknown = null;

  constructor(
    private readonly fd: number,
    readonly job: WireJob,
    private readonly inputs: InputSpan[],
    private readonly outputs: Output[],
    readonly release: () => void,
  ) {}

  get streams(): boolean {
    return this.inputs.length > 0;
  }

  write(announce: (upTo: number) => void): void {
    let written = 0;
    for (const span of this.inputs) {
      const length = 'zeros' in span ? span.zeros : span.bytes.byteLength;
      for (let off = 0; off < length; off += PIECE_BYTES) {
        const end = Math.min(length, off + PIECE_BYTES);
        writeAll(this.fd, 'zeros' in span ? zeroPiece().subarray(0, end - off) : span.bytes.subarray(off, end), span.at + off);
        written += end - off;
        announce(written);
      }
    }
  }

  progress(upTo: number): void {
    if (this.failed) return;
    const t0 = performance.now();
    try {
      let start = 0;
      for (const o of this.outputs) {
        const want = Math.min(o.bytes, Math.max(0, upTo - start));
        start += o.bytes;
        if (want > o.done) this.readOutput(o, want);
      }
    } catch (e) {
      this.failed = e;
    }
    this.streamedMs += performance.now() - t0;
  }

  private readOutput(o: Output, upTo: number) {
    o.out ??= uninitialised(o.bytes);
    readAll(this.fd, new Uint8Array(o.out, o.done, upTo - o.done), o.at + o.done);
    o.done = upTo;
  }

  decode(r: WireResult): GpuJobResult {
    if (this.failed) throw this.failed;
    const buffers: Record<string, ArrayBuffer> = {};
    for (const [name, v] of Object.entries(r.buffers)) {
      if (!isBulkRef(v)) {
        buffers[name] = v; // small, or one the host could not write into the file
        continue;
      }
      let o = this.outputs.find((x) => x.name === name);
      if (!o || o.at !== v.at || o.bytes !== v.bytes) o = { name, at: v.at, bytes: v.bytes, done: 0 };
      if (o.done < o.bytes) this.readOutput(o, o.bytes);
      buffers[name] = o.out!;
    }
    return { ...r, buffers };
  }
}

/** The whole job over the pipe. */
export function inline(job: GpuJob): EncodedJob {
  return { job: compact(job), streams: false, write: () => {}, progress: () => {}, streamedMs: 0, decode: decodeInline, release: () => {} };
}

function decodeInline(r: WireResult): GpuJobResult {
  for (const v of Object.values(r.buffers)) if (isBulkRef(v)) throw new Error('internal error: the Dawn host answered with a bulk reference to a run sent without one');
  return r as GpuJobResult;
}

/** Copies views on larger buffers (structured clone would send the whole buffer) and shared memory (not cloneable). */
function compactData(d: ArrayBufferView | ArrayBuffer): ArrayBufferView | ArrayBuffer {
  if (d instanceof ArrayBuffer) return d;
  if (d.buffer instanceof ArrayBuffer && d.byteOffset === 0 && d.byteLength === d.buffer.byteLength) return d;
  return new Uint8Array(d.buffer, d.byteOffset, d.byteLength).slice();
}

/** The whole job over the pipe (structured clone). */
export function compact(job: GpuJob): WireJob {
  return {
    ...job,
    buffers: job.buffers.map(({ parts, ...b }) => {
      const data = contentsOf({ ...b, ...(parts ? { parts } : {}) });
      return data ? { ...b, data: compactData(data) } : b;
    }),
  };
}
