// writeAllOrNothingAsync (src/driver/output.ts, what `rnnc run --save` uses): the same all-or-nothing
// contract as the synchronous writer, with its writes on the thread pool: a write failing part-way
// leaves neither the files written before it nor the folders made for them, the files of an earlier
// run stay as they were, and a successful write replaces them (its pieces joined in order).
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { writeAllOrNothingAsync } from '../../src/driver/output.js';

vi.mock('node:fs/promises', async (original) => {
  const real = await original<typeof import('node:fs/promises')>();
  return { ...real, open: vi.fn(real.open) };
});

const root = mkdtempSync(join(tmpdir(), 'rnnc-output-async-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const realFsp = await vi.importActual<typeof import('node:fs/promises')>('node:fs/promises');
afterEach(() => void vi.mocked(fsp.open).mockImplementation(realFsp.open));

const files = [
  { name: 'a.npy', data: [new Uint8Array([1, 2]), new Uint8Array([3, 4, 5])] },
  { name: 'b.txt', data: 'new b' },
  { name: 'c.bin', data: new Uint8Array([9]) },
];

/** Fails the second file's write with ENOSPC, as a full disk would. */
function failSecondFile() {
  let calls = 0;
  vi.mocked(fsp.open).mockImplementation(async (...args: Parameters<typeof fsp.open>) => {
    const handle = await realFsp.open(...args);
    if (++calls !== 2) return handle;
    return Object.assign(Object.create(handle) as fsp.FileHandle, {
      write: async () => {
        throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
      },
      close: () => handle.close(),
    });
  });
}

describe('writeAllOrNothingAsync', () => {
  it('writes every file, pieces in order, and leaves no temporary behind', async () => {
    const dir = join(root, 'ok', 'deep');
    expect(await writeAllOrNothingAsync(dir, files, 'out')).toEqual(files.map((f) => join(dir, f.name)));
    expect(readdirSync(dir).sort()).toEqual(['a.npy', 'b.txt', 'c.bin']);
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
