// writeAllOrNothingAsync (src/driver/output.ts, what `rnnc run --save` uses): the same all-or-nothing
// contract as the synchronous writer, with its writes on the thread pool: a write failing part-way
// leaves neither the files written before it nor the folders made for them, the files of an earlier
// run stay as they were, and a successful write replaces them (its pieces joined in order).
import * as fs from 'node:fs';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { writeAllOrNothingAsync } from '../../src/driver/output.js';

vi.mock('node:fs', async (original) => {
  const real = await original<typeof import('node:fs')>();
  return { ...real, writev: vi.fn(real.writev) };
});

const root = mkdtempSync(join(tmpdir(), 'rnnc-output-async-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const realFs = await vi.importActual<typeof import('node:fs')>('node:fs');
afterEach(() => void vi.mocked(fs.writev).mockImplementation(realFs.writev));

const files = [
  { name: 'a.npy', data: [new Uint8Array([1, 2]), new Uint8Array([3, 4, 5])] },
  { name: 'b.txt', data: 'new b' },
  { name: 'c.bin', data: new Uint8Array([9]) },
];

type Done = (e: NodeJS.ErrnoException | null, written: number, buffers: NodeJS.ArrayBufferView[]) => void;

/** Fails the second file's write with ENOSPC, as a full disk would. */
function failSecondFile() {
  let calls = 0;
  vi.mocked(fs.writev).mockImplementation(((fd: number, buffers: NodeJS.ArrayBufferView[], done: Done) => {
    if (++calls !== 2) return realFs.writev(fd, buffers, done);
    setImmediate(() => done(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' }), 0, buffers));
  }) as typeof fs.writev);
}

/** Writes at most 2 bytes a call, as a short write would. */
function shortWrites() {
  vi.mocked(fs.writev).mockImplementation(((fd: number, buffers: Uint8Array[], done: Done) => {
    const first = buffers.find((b) => b.length > 0)!;
    realFs.writev(fd, [first.subarray(0, 2)], done);
  }) as typeof fs.writev);
}

describe('writeAllOrNothingAsync', () => {
  it('writes every file, pieces in order, and leaves no temporary behind', async () => {
    const dir = join(root, 'ok', 'deep');
    expect(await writeAllOrNothingAsync(dir, files, 'out')).toEqual(files.map((f) => join(dir, f.name)));
    expect(readdirSync(dir).sort()).toEqual(['a.npy', 'b.txt', 'c.bin']);
    expect([...readFileSync(join(dir, 'a.npy'))]).toEqual([1, 2, 3, 4, 5]);
    expect(readFileSync(join(dir, 'b.txt'), 'utf8')).toBe('new b');
  });

  it('writes the rest after a short write', async () => {
    shortWrites();
    const dir = join(root, 'short');
    await writeAllOrNothingAsync(dir, files, 'out');
    expect([...readFileSync(join(dir, 'a.npy'))]).toEqual([1, 2, 3, 4, 5]);
    expect(readFileSync(join(dir, 'b.txt'), 'utf8')).toBe('new b');
  });

  it('replaces the files of an earlier run', async () => {
    const dir = join(root, 'again');
    mkdirSync(dir);
    writeFileSync(join(dir, 'b.txt'), 'old b, longer than the new one');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    await writeAllOrNothingAsync(dir, files, 'out');
    expect(readdirSync(dir).sort()).toEqual(['a.npy', 'b.txt', 'c.bin', 'notes.txt']);
    expect(readFileSync(join(dir, 'b.txt'), 'utf8')).toBe('new b');
  });

  it('a write failing part-way removes what it wrote and the folders it made', async () => {
    failSecondFile();
    const dir = join(root, 'made', 'deeper');
    await expect(writeAllOrNothingAsync(dir, files, `--save ${dir}`)).rejects.toThrow(`rnnc: cannot write to --save ${dir}: no space left on the device`);
    expect(readdirSync(root)).not.toContain('made');
  });

  it('a write failing part-way keeps the files of an earlier run as they were', async () => {
    const dir = join(root, 'earlier');
    mkdirSync(dir);
    writeFileSync(join(dir, 'a.npy'), 'old a');
    failSecondFile();
    await expect(writeAllOrNothingAsync(dir, files, dir)).rejects.toThrow(/no space left on the device/);
    expect(readdirSync(dir)).toEqual(['a.npy']);
    expect(readFileSync(join(dir, 'a.npy'), 'utf8')).toBe('old a');
  });
});
