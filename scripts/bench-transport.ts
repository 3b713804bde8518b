// Candidate bulk transports between a parent and a `--no-opt` child, without any GPU: how fast can
// an array go to the child and another come back (the Dawn host's situation, docs/host-transfer.md)?
//
//   npx tsx scripts/bench-transport.ts [--mib 16,64] [--repeats 7]
//
// Each candidate moves N MiB to the child, which touches the bytes it got (reads one byte per page,
// so a lazily-filled buffer cannot cheat) and sends N MiB back; the parent times the round trip.
// Where a transport lets the receiver choose its memory, both sides receive into buffers they keep
// from one round trip to the next (as the host does with its pooled staging buffers); the last
// column is what a fresh destination adds (the parent must hand out new ArrayBuffers).
//   ipc        {data: Uint8Array} over Node's IPC channel with `serialization: 'advanced'` (the old path)
//   file-path  a new file per array in a private tmpfs directory (writeFileSync, then readSync into a kept buffer), paths over IPC
//   file-fd    one unlinked tmpfs file shared through an inherited fd, pwrite / pread at fixed offsets, offsets over IPC
//   pieces     file-fd in 1 MiB pieces, a message after each, so that the reader copies one piece while the writer writes the next
//   pipe       raw bytes over two extra pipes (stdio fds 4 and 5) read into a kept buffer, headers over IPC
import { fork } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readSync, rmdirSync, rmSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Readable, Writable } from 'node:stream';

const SELF = fileURLToPath(import.meta.url);
const PAGE = 4096;

function touch(bytes: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < bytes.length; i += PAGE) s += bytes[i]!;
  return s;
}

function writeAll(fd: number, bytes: Uint8Array, position: number) {
  for (let done = 0; done < bytes.byteLength; ) done += writeSync(fd, bytes, done, bytes.byteLength - done, position + done);
}
function readAll(fd: number, bytes: Uint8Array, position: number) {
  for (let done = 0; done < bytes.byteLength; ) {
    const n = readSync(fd, bytes, done, bytes.byteLength - done, position + done);
    if (n === 0) throw new Error('short read');
    done += n;
  }
}

/** Fills `out` from a stream. */
function readExactly(stream: Readable, out: Uint8Array): Promise<Uint8Array> {
  const n = out.byteLength;
  let got = 0;
  return new Promise((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const take = Math.min(chunk.length, n - got);
      out.set(chunk.subarray(0, take), got);
      got += take;
      if (take < chunk.length) stream.unshift(chunk.subarray(take));
      if (got === n) {
        stream.off('data', onData);
        stream.pause();
        resolve(out);
      }
    };
    stream.on('data', onData);
    stream.once('error', reject);
    stream.resume();
    void reject;
  });
}

type Msg = { kind: string; n: number; path?: string; data?: Uint8Array; upTo?: number };
const PIECE = 2 ** 20;

/** Waits for `upTo` messages of kind 'piece' from `source` and reads each new piece of [base, base + n) into b. */
function readPieces(source: NodeJS.EventEmitter, fd: number, b: Uint8Array, base: number): Promise<void> {
  let done = 0;
  return new Promise((resolve) => {
    const on = (m: Msg) => {
      if (m.kind !== 'piece') return;
      readAll(fd, b.subarray(done, m.upTo!), base + done);
      done = m.upTo!;
      if (done === b.byteLength) {
        source.off('message', on);
        resolve();
      }
    };
    source.on('message', on);
  });
}

function writePieces(send: (m: Msg) => void, fd: number, b: Uint8Array, base: number): void {
  for (let at = 0; at < b.byteLength; at += PIECE) {
    const end = Math.min(b.byteLength, at + PIECE);
    writeAll(fd, b.subarray(at, end), base + at);
    send({ kind: 'piece', n: b.byteLength, upTo: end });
  }
}

if (process.argv[2] === '--child') {
  const fd = 3 + 1; // stdio[4]: the shared file (file-fd) — or the pipe in (pipe)
  const { Socket } = await import('node:net');
  let pipeIn: Readable | null = null;
  let pipeOut: Writable | null = null;
  const kept = new Map<number, Uint8Array>();
  const keep = (n: number) => kept.get(n) ?? kept.set(n, new Uint8Array(n).fill(2)).get(n)!;
  process.on('message', async (m: Msg) => {
    if (m.kind === 'ipc') {
      touch(m.data!);
      process.send!({ kind: 'ipc', n: m.n, data: keep(m.n) });
    } else if (m.kind === 'file-path') {
      const b = keep(m.n);
      const f = openSync(m.path!, 'r');
      readAll(f, b, 0);
      closeSync(f);
      touch(b);
      const out = `${m.path!}.out`;
      writeFileSync(out, b);
      process.send!({ kind: m.kind, n: m.n, path: out });
    } else if (m.kind === 'pieces') {
      const b = keep(m.n);
      await readPieces(process, fd, b, 0);
      touch(b);
      writePieces((x) => process.send!(x), fd, b, m.n);
    } else if (m.kind === 'file-fd') {
      const b = keep(m.n);
      readAll(fd, b, 0);
      touch(b);
      writeAll(fd, b, m.n);
      process.send!({ kind: m.kind, n: m.n });
    } else if (m.kind === 'pipe') {
      pipeIn ??= new Socket({ fd: 4, readable: true, writable: false });
      pipeOut ??= new Socket({ fd: 5, readable: false, writable: true });
      const b = keep(m.n);
      await readExactly(pipeIn, b);
      touch(b);
      pipeOut.write(b);
      process.send!({ kind: m.kind, n: m.n });
    } else if (m.kind === 'exit') process.exit(0);
  });
} else {
  const arg = (name: string, fallback: string) => {
    const k = process.argv.indexOf(`--${name}`);
    return k > 0 ? process.argv[k + 1]! : fallback;
  };
  const sizes = arg('mib', '16,64').split(',').map(Number);
  const repeats = Number(arg('repeats', '7'));
  const dir = mkdtempSync(join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'rnnc-transport-'));
  const shared = join(dir, 'shared');
  const fd = openSync(shared, 'w+', 0o600);
  unlinkSync(shared);
  const child = fork(SELF, ['--child'], {
    execArgv: ['--no-opt', '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc', 'pipe', 'pipe'],
  });
  // stdio[4] of the child is a pipe here; file-fd needs the file instead: a second child for it.
  const fdChild = fork(SELF, ['--child'], {
    execArgv: ['--no-opt', '--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href],
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc', fd],
  });
  const reply = (c: typeof child) => new Promise<Msg>((resolve) => c.once('message', resolve));
  const stdio = child.stdio as unknown as (Readable | Writable)[];
  const toChild = stdio[4] as Writable;
  const fromChild = stdio[5] as Readable;
  fromChild.pause();

  const kept = new Map<number, { data: Uint8Array; back: Uint8Array }>();
  async function roundTrip(kind: string, n: number): Promise<number> {
    if (!kept.has(n)) kept.set(n, { data: new Uint8Array(n).fill(1), back: new Uint8Array(n).fill(3) });
    const { data, back } = kept.get(n)!;
    const t0 = performance.now();
    if (kind === 'ipc') {
      child.send({ kind, n, data });
      const m = await reply(child);
      touch(m.data!);
    } else if (kind === 'file-path') {
      const path = join(dir, `in-${n}`);
      writeFileSync(path, data);
      child.send({ kind, n, path });
      const m = await reply(child);
      const f = openSync(m.path!, 'r');
      readAll(f, back, 0);
      closeSync(f);
      touch(back);
      rmSync(path);
      rmSync(m.path!);
    } else if (kind === 'file-fd') {
      writeAll(fd, data, 0);
      fdChild.send({ kind, n });
      await reply(fdChild);
      readAll(fd, back, n);
      touch(back);
    } else if (kind === 'pieces') {
      const back_ = readPieces(fdChild, fd, back, n);
      fdChild.send({ kind, n });
      writePieces((x) => fdChild.send(x), fd, data, 0);
      await back_;
      touch(back);
    } else if (kind === 'pipe') {
      child.send({ kind, n });
      toChild.write(data);
      await readExactly(fromChild, back);
      touch(back);
      await reply(child);
    } else if (kind === 'fresh') {
      // What a fresh destination costs: one read of N MiB from the (warm) file into a new ArrayBuffer.
      const out = new Uint8Array(n);
      readAll(fd, out, n);
      touch(out);
    }
    return performance.now() - t0;
  }

  const kinds = ['ipc', 'file-path', 'file-fd', 'pieces', 'pipe', 'fresh'];
  console.log(`node ${process.version}, tmp dir ${dir}, load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}, ${repeats} round trips each: median ms (best; GiB/s moved at the median)`);
  console.log('| MiB each way | ' + kinds.map((k) => (k === 'fresh' ? 'fresh destination, one way' : k)).join(' | ') + ' |');
  console.log('|---:|' + kinds.map(() => '---:').join('|') + '|');
  for (const mib of sizes) {
    const n = mib * 2 ** 20;
    const cells: string[] = [];
    for (const kind of kinds) {
      const times: number[] = [];
      await roundTrip(kind, n); // warm-up
      for (let r = 0; r < repeats; r++) times.push(await roundTrip(kind, n));
      times.sort((a, b) => a - b);
      const med = times[Math.floor(times.length / 2)]!;
      const moved = kind === 'fresh' ? n : 2 * n;
      cells.push(`${med.toFixed(1)} (${times[0]!.toFixed(1)}; ${(moved / 2 ** 30 / (med / 1000)).toFixed(2)})`);
    }
    console.log(`| ${mib} | ${cells.join(' | ')} |`);
  }
  child.send({ kind: 'exit', n: 0 });
  fdChild.send({ kind: 'exit', n: 0 });
  closeSync(fd);
  rmdirSync(dir);
}
