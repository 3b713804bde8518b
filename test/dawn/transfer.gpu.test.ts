// The bulk data path to the Dawn host (src/runtime/dawn/transfer.ts): large arrays through a private,
// unlinked tmpfs file, small ones over the pipe. Bit-exact round trips of any bit pattern, both
// transports alike, concurrent runs apart, and no file left behind whatever happens to the host.
import { readdirSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuError, GpuSession, type GpuJob } from '../../src/runtime/dawn/runtime.js';
import { BULK_MIN_BYTES, BulkFile, PIECE_BYTES, bulkBases } from '../../src/runtime/dawn/transfer.js';

// out[i] = in[i] ^ key for every word, in a grid-stride loop: the bits go through untouched (key 0) or changed in a known way.
const XOR = `struct P { words: u32, key: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<u32>;
@group(0) @binding(2) var<storage, read_write> dst: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  for (var i = g.x; i < p.words; i += n.x * 256u) { dst[i] = src[i] ^ p.key; }
}`;

/** A job copying `bytes` bytes (any count) of `data` into an output of `bytes` bytes, each word xor `key`. */
function xorJob(bytes: number, data: ArrayBufferView | ArrayBuffer | undefined, key = 0): GpuJob {
  const words = Math.ceil(bytes / 4);
  return {
    shaders: [{ label: 'xor', code: XOR }],
    buffers: [
      { name: 'p', bytes: 8, usage: 'uniform', data: new Uint32Array([words, key]) },
      { name: 'src', bytes, usage: 'storage-read', ...(data ? { data } : {}) },
      { name: 'dst', bytes, usage: 'storage', read: true },
    ],
    passes: [{ shader: 'xor', bindings: ['p', 'src', 'dst'].map((buffer, binding) => ({ binding, buffer })), dispatch: [Math.min(4096, Math.max(1, Math.ceil(words / 256)))] }],
  };
}

/** Every bit pattern, NaN payloads and denormals included (a seeded xorshift). */
function randomBytes(n: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(n / 4));
  let s = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    words[i] = s >>> 0;
  }
  return new Uint8Array(words.buffer, 0, n);
}

const equalBytes = (a: ArrayBuffer, b: Uint8Array) => a.byteLength === b.byteLength && Buffer.compare(Buffer.from(a), Buffer.from(b.buffer, b.byteOffset, b.byteLength)) === 0;

/** Paths of this process's (or another's) descriptors that point at a bulk file. */
function bulkDescriptors(pid: number | 'self' = 'self'): string[] {
  const dir = `/proc/${pid}/fd`;
  const out: string[] = [];
  let fds: string[] = [];
  try {
    fds = readdirSync(dir);
  } catch {
    return out;
  }
  for (const fd of fds) {
    try {
      const target = readlinkSync(`${dir}/${fd}`);
      if (target.includes('/rnnc-dawn-')) out.push(target);
    } catch {}
  }
  return out;
}

/** Bulk-file directories left in the temporary directories (there should never be any for long). */
const leftovers = () => bulkBases().flatMap((base) => readdirSync(base).filter((f) => f.startsWith('rnnc-dawn-')));

describe('bulk transfers to the Dawn host', () => {
  let shm: GpuSession;
  let ipc: GpuSession;
  const before = new Set(bulkDescriptors());
  beforeAll(async () => {
    shm = await GpuSession.open({ transport: 'shm' });
    ipc = await GpuSession.open({ transport: 'ipc' });
  });
  afterAll(async () => {
    await shm?.close();
    await ipc?.close();
  });

  it('gives each host its own unlinked file: nothing on disk, one descriptor here and one in the host', () => {
    const mine = bulkDescriptors().filter((p) => !before.has(p));
    expect(mine).toHaveLength(1);
    expect(mine[0]).toMatch(/\/rnnc-dawn-[^/]+\/bulk \(deleted\)$/);
    expect(mine[0]!.startsWith(bulkBases()[0]!)).toBe(true);
    expect(bulkDescriptors(shm.hostPid!)).toEqual(mine);
    expect(bulkDescriptors(ipc.hostPid!)).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  it('round-trips large arrays bit-exactly, with both transports alike', async () => {
    for (const bytes of [16 * 2 ** 20, BULK_MIN_BYTES, BULK_MIN_BYTES + 3, 3 * 2 ** 20 + 1]) {
      const data = randomBytes(bytes, bytes);
      for (const s of [shm, ipc]) {
        const r = await s.run(xorJob(bytes, data));
        expect(r.buffers['dst']!.byteLength).toBe(bytes);
        expect(equalBytes(r.buffers['dst']!, data), `${bytes} bytes over ${s.lastProfile?.transport}`).toBe(true);
      }
      expect(shm.lastProfile?.transport).toBe('shm');
      expect(ipc.lastProfile?.transport).toBe('ipc');
    }
  });

  it('takes views on larger buffers, partial data, and reused buffers cleared past the data', async () => {
    const bytes = 2 ** 20;
    const backing = randomBytes(3 * bytes, 7);
    const view = new Float32Array(backing.buffer, bytes, bytes / 4); // the middle third
    let r = await shm.run(xorJob(bytes, view, 0xffffffff));
    const expected = new Uint32Array(backing.buffer.slice(bytes, 2 * bytes)).map((w) => ~w >>> 0);
    expect(equalBytes(r.buffers['dst']!, new Uint8Array(expected.buffer))).toBe(true);
    // The same sizes again (pooled buffers, which hold the last call's bytes), with data for half the input only.
    const half = randomBytes(bytes / 2, 9);
    r = await shm.run(xorJob(bytes, half));
    const want = new Uint8Array(bytes);
    want.set(half);
    expect(equalBytes(r.buffers['dst']!, want)).toBe(true);
    // And no data at all: zeros.
    r = await shm.run(xorJob(bytes, undefined));
    expect(equalBytes(r.buffers['dst']!, new Uint8Array(bytes))).toBe(true);
  });

  it('lays a buffer out from its parts (each at its offset, zeros between and after), over both transports and in reused buffers', async () => {
    for (const bytes of [2 * 2 ** 20, 8192]) {
      const head = randomBytes(bytes / 8, 11);
      const tail = new Float32Array(randomBytes(bytes / 2, 13).buffer, 4 * 16, bytes / 16); // a view into a larger array
      const parts = [
        { offset: bytes / 16, data: head },
        { offset: bytes / 2, data: tail },
      ];
      const want = new Uint8Array(bytes);
      want.set(head, bytes / 16);
      want.set(new Uint8Array(tail.buffer, tail.byteOffset, tail.byteLength), bytes / 2);
      for (const s of [shm, ipc]) {
        // Random bytes first, so that the pooled buffers the parts land in hold other data.
        await s.run(xorJob(bytes, randomBytes(bytes, 17)));
        const job = xorJob(bytes, undefined);
        job.buffers[1] = { ...job.buffers[1]!, parts };
        const r = await s.run(job);
        expect(equalBytes(r.buffers['dst']!, want), `${bytes} bytes in parts over ${s.lastProfile?.transport}`).toBe(true);
      }
    }
  });

  it('streams several bulk inputs and results of odd sizes, piece by piece, each in its place', async () => {
    // c = a, d = b ^ key, over sizes that are not multiples of the pieces (PIECE_BYTES) nor of each other.
    const code = `struct P { a: u32, b: u32, key: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> a: array<u32>;
@group(0) @binding(2) var<storage, read> b: array<u32>;
@group(0) @binding(3) var<storage, read_write> c: array<u32>;
@group(0) @binding(4) var<storage, read_write> d: array<u32>;
@compute @workgroup_size(256)
fn main(@builtin(global_invocation_id) g: vec3u, @builtin(num_workgroups) n: vec3u) {
  for (var i = g.x; i < max(p.a, p.b); i += n.x * 256u) {
    if (i < p.a) { c[i] = a[i]; }
    if (i < p.b) { d[i] = b[i] ^ p.key; }
  }
}`;
    const aBytes = 2 * PIECE_BYTES + 12;
    const bBytes = PIECE_BYTES / 2 + 4;
    const a = randomBytes(aBytes, 11);
    const b = randomBytes(bBytes, 12);
    const r = await shm.run({
      shaders: [{ label: 'two', code }],
      buffers: [
        { name: 'p', bytes: 12, usage: 'uniform', data: new Uint32Array([aBytes / 4, bBytes / 4, 0x5a5a5a5a]) },
        { name: 'a', bytes: aBytes, usage: 'storage-read', data: a },
        { name: 'b', bytes: bBytes, usage: 'storage-read', data: b },
        { name: 'c', bytes: aBytes, usage: 'storage', read: true },
        { name: 'd', bytes: bBytes, usage: 'storage', read: true },
      ],
      passes: [{ shader: 'two', bindings: ['p', 'a', 'b', 'c', 'd'].map((buffer, binding) => ({ binding, buffer })), dispatch: [1024] }],
    });
    expect(equalBytes(r.buffers['c']!, a)).toBe(true);
    const want = new Uint32Array(b.slice().buffer).map((w) => (w ^ 0x5a5a5a5a) >>> 0);
    expect(equalBytes(r.buffers['d']!, new Uint8Array(want.buffer))).toBe(true);
    expect(shm.lastProfile!.streamed).toBeGreaterThan(0); // pieces were read before the reply
  });

  it('falls back to the pipe when the file cannot take the inputs', async () => {
    const host = (shm as unknown as { host: { bulk: BulkFile } }).host;
    const encode = host.bulk.encode.bind(host.bulk);
    let pieces = 0;
    host.bulk.encode = (job) => {
      const wire = encode(job);
      const write = wire.write.bind(wire);
      wire.write = (announce) =>
        write((upTo) => {
          if (++pieces > 1) throw new Error('ENOSPC: no space left on device (simulated)');
          announce(upTo);
        });
      return wire;
    };
    try {
      const data = randomBytes(3 * PIECE_BYTES, 21);
      const r = await shm.run(xorJob(data.byteLength, data, 3));
      const want = new Uint32Array(data.slice().buffer).map((w) => (w ^ 3) >>> 0);
      expect(equalBytes(r.buffers['dst']!, new Uint8Array(want.buffer))).toBe(true);
      expect(pieces).toBe(2);
      expect(shm.lastProfile).toBeNull(); // the run that went over the pipe after the host refused the first
    } finally {
      host.bulk.encode = encode;
    }
    // And the file path works again afterwards.
    const data = randomBytes(PIECE_BYTES + 8, 22);
    expect(equalBytes((await shm.run(xorJob(data.byteLength, data))).buffers['dst']!, data)).toBe(true);
    expect(shm.lastProfile?.transport).toBe('shm');
  });

  it('reads results into memory faulted in ahead (GpuSession.prefaultResults), each result its own', async () => {
    const bytes = 3 * PIECE_BYTES + 12;
    GpuSession.prefaultResults([bytes, bytes, 100]); // two of this size; 100 bytes is below the bulk size and ignored
    const results = [];
    for (let k = 0; k < 3; k++) {
      const data = randomBytes(bytes, 40 + k);
      const got = (await shm.run(xorJob(bytes, data))).buffers['dst']!;
      expect(equalBytes(got, data)).toBe(true);
      results.push({ got, data });
    }
    // The two prefaulted buffers and a fresh one: no result was overwritten by a later run.
    for (const { got, data } of results) expect(equalBytes(got, data)).toBe(true);
    expect(new Set(results.map((r) => r.got)).size).toBe(3);
  });

  it('keeps concurrent runs of one session apart', async () => {
    const sizes = [4 * 2 ** 20, 2 ** 20 + 8, 4 * 2 ** 20];
    const inputs = sizes.map((n, k) => randomBytes(n, 100 + k));
    const results = await Promise.all(inputs.map((d, k) => shm.run(xorJob(d.byteLength, d, k))));
    results.forEach((r, k) => {
      const want = new Uint32Array(inputs[k]!.slice().buffer).map((w) => (w ^ k) >>> 0);
      expect(equalBytes(r.buffers['dst']!, new Uint8Array(want.buffer, 0, sizes[k]))).toBe(true);
    });
  });

  it('reports its phases and times whole calls from the file', async () => {
    const data = randomBytes(2 ** 20, 3);
    const r = await shm.run({ ...xorJob(2 ** 20, data), wholeCall: { repeats: 2 } });
    expect(r.wholeCallNs).toHaveLength(2);
    expect(equalBytes(r.buffers['dst']!, data)).toBe(true);
    const p = shm.lastProfile!;
    for (const k of ['encode', 'write', 'toHost', 'upload', 'passes', 'readBack', 'toParent', 'streamed', 'decode', 'total'] as const)
      expect(p[k]).toBeGreaterThanOrEqual(k === 'toHost' || k === 'toParent' ? -5 : 0);
  });

  it('leaves nothing behind after a failed job, a crashed host and close', async () => {
    const s = await GpuSession.open({ transport: 'shm' });
    const first = s.hostPid!;
    const firstFile = bulkDescriptors(first);
    expect(firstFile).toHaveLength(1);
    // A job that fails in the host after its inputs went into the file.
    const bad = xorJob(2 ** 20, randomBytes(2 ** 20, 1));
    bad.shaders[0] = { label: 'xor', code: XOR.replace('^ p.key', '^ p.nokey') };
    await expect(s.run(bad)).rejects.toThrow(GpuError);
    const r = await s.run(xorJob(2 ** 20, randomBytes(2 ** 20, 2)));
    expect(equalBytes(r.buffers['dst']!, randomBytes(2 ** 20, 2))).toBe(true);
    // A host that dies mid-job: its file goes with it, and the next host has a new one.
    const inFlight = s.run(xorJob(16 * 2 ** 20, randomBytes(16 * 2 ** 20, 4)));
    s.__crashForTest();
    await expect(inFlight).rejects.toThrow(/SIGSEGV/);
    expect(bulkDescriptors().filter((p) => p === firstFile[0])).toEqual([]);
    await s.run(xorJob(2 ** 20, randomBytes(2 ** 20, 5)));
    const second = s.hostPid!;
    expect(second).not.toBe(first);
    const secondFile = bulkDescriptors(second);
    expect(secondFile).toHaveLength(1);
    expect(secondFile[0]).not.toBe(firstFile[0]);
    await s.close();
    expect(bulkDescriptors().filter((p) => p === secondFile[0])).toEqual([]);
    expect(leftovers()).toEqual([]);
  });

  it("hands out regions of the file without overlap between runs, lowest first; a run's results go onto its inputs' pages", () => {
    const f = BulkFile.create()!;
    try {
      const job = (n: number) => xorJob(n, new Uint8Array(n));
      const a = f.encode(job(BULK_MIN_BYTES));
      const b = f.encode(job(BULK_MIN_BYTES + 1));
      const at = (w: ReturnType<typeof f.encode>) => w.job.buffers.flatMap((x) => [x.from?.at, x.to]).filter((v) => v !== undefined);
      expect(at(a)).toEqual([0, 0]); // the result where the input was: the host reads every input before it writes a result
      expect(at(b)).toEqual([BULK_MIN_BYTES, BULK_MIN_BYTES]);
      // Whole calls read the inputs again on every timed call: their results go after them.
      const whole = f.encode({ ...job(BULK_MIN_BYTES), wholeCall: { repeats: 1 } });
      expect(at(whole)).toEqual([2 * BULK_MIN_BYTES + 4096, 3 * BULK_MIN_BYTES + 4096]);
      // Two inputs and one result: the result at the first input's place, the region as large as the inputs.
      const two = f.encode({ ...job(BULK_MIN_BYTES), buffers: [...job(BULK_MIN_BYTES).buffers, { name: 'extra', bytes: 2 * BULK_MIN_BYTES, usage: 'storage-read', data: new Uint8Array(2 * BULK_MIN_BYTES) }] });
      expect(at(two)).toEqual([4 * BULK_MIN_BYTES + 4096, 4 * BULK_MIN_BYTES + 4096, 5 * BULK_MIN_BYTES + 4096]);
      a.release();
      const c = f.encode(job(BULK_MIN_BYTES));
      expect(at(c)).toEqual([0, 0]); // a's place again
      const small = f.encode(job(BULK_MIN_BYTES - 4));
      expect(at(small)).toEqual([]); // small arrays go inline
      expect(small.job.buffers[1]!.data).toBeDefined();
    } finally {
      f.close();
    }
  });

  it('refuses an unknown transport', async () => {
    await expect(GpuSession.open({ transport: 'carrier-pigeon' as 'shm' })).rejects.toThrow(/unknown transport 'carrier-pigeon'/);
  });
});
