// Output files are written all or nothing (src/driver/output.ts): a write that fails part-way, as on
// a full disk, leaves neither the files written before it nor the folders made for them, and the
// files a previous run wrote stay as they were.
import * as fs from 'node:fs';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { checkOutputDir, fsReason, writeAllOrNothing } from '../../src/driver/output.js';

vi.mock('node:fs', async (original) => {
  const real = await original<typeof import('node:fs')>();
  return { ...real, writeFileSync: vi.fn(real.writeFileSync) };
});

const root = mkdtempSync(join(tmpdir(), 'rnnc-output-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const realFs = await vi.importActual<typeof import('node:fs')>('node:fs');
afterEach(() => void vi.mocked(fs.writeFileSync).mockImplementation(realFs.writeFileSync));

const files = [
  { name: 'a.wgsl', data: 'new a' },
  { name: 'b.json', data: 'new b' },
  { name: 'c.ts', data: 'new c' },
];

/** Fails the second write with ENOSPC, as a full disk would. */
function failSecondWrite() {
  let calls = 0;
  vi.mocked(fs.writeFileSync).mockImplementation((...args: Parameters<typeof fs.writeFileSync>) => {
    if (++calls === 2) throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', syscall: 'write' });
    return realFs.writeFileSync(...args);
  });
}

describe('writeAllOrNothing', () => {
  it('writes every file and leaves no temporary behind', () => {
    const dir = join(root, 'ok', 'deep');
    expect(writeAllOrNothing(dir, files, 'out')).toEqual(files.map((f) => join(dir, f.name)));
    expect(readdirSync(dir).sort()).toEqual(['a.wgsl', 'b.json', 'c.ts']);
    expect(readFileSync(join(dir, 'b.json'), 'utf8')).toBe('new b');
  });

  it('a write failing part-way removes what it wrote and the folders it made', () => {
    failSecondWrite();
    const dir = join(root, 'made', 'deeper');
    expect(() => writeAllOrNothing(dir, files, `-o ${dir}`)).toThrow(`rnnc: cannot write to -o ${dir}: no space left on the device`);
    expect(readdirSync(root)).not.toContain('made');
  });

  it('a write failing part-way keeps the files of an earlier run as they were', () => {
    const dir = join(root, 'earlier');
    fs.mkdirSync(dir);
    writeFileSync(join(dir, 'a.wgsl'), 'old a');
    writeFileSync(join(dir, 'notes.txt'), 'mine');
    failSecondWrite();
    expect(() => writeAllOrNothing(dir, files, dir)).toThrow(/no space left on the device/);
    expect(readdirSync(dir).sort()).toEqual(['a.wgsl', 'notes.txt']);
    expect(readFileSync(join(dir, 'a.wgsl'), 'utf8')).toBe('old a');
  });
});

describe('checkOutputDir and fsReason', () => {
  it('names the part of the path that is not a folder', () => {
    const file = join(root, 'file');
    writeFileSync(file, 'x');
    expect(() => checkOutputDir(join(file, 'a', 'b'), '--save x')).toThrow(`rnnc: cannot write to --save x: ${file} is not a directory`);
    expect(() => checkOutputDir(root, 'out', ['file'])).not.toThrow();
    expect(() => checkOutputDir(join(root, 'ok'), 'out', ['deep'])).toThrow(`rnnc: cannot write to out: ${join(root, 'ok', 'deep')} is a directory`);
  });

  it('says a file system error in words', () => {
    expect(fsReason(Object.assign(new Error('EACCES: permission denied, mkdir /x'), { code: 'EACCES', syscall: 'mkdir', path: '/x' }))).toBe('mkdir /x: permission denied');
    expect(fsReason(new Error('plain'))).toBe('plain');
  });
});
