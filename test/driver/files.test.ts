// Output folders: made level by level (issue 12: `rnnc compile -o /proc/x` hung in Node's recursive
// mkdir, which loops on procfs), with the folder and the reason when one cannot be made.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { makeDirectory } from '../../src/driver/files.js';
import { captureCli } from '../cli-run/rnnc.js';

const rnnc = captureCli();
const root = mkdtempSync(join(tmpdir(), 'rnnc-files-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('makes every missing level, and accepts one that exists', () => {
  const deep = join(root, 'a', 'b', 'c');
  makeDirectory(deep);
  makeDirectory(deep);
  expect(existsSync(deep)).toBe(true);
});

it('refuses a path through a file', () => {
  writeFileSync(join(root, 'file'), '');
  expect(() => makeDirectory(join(root, 'file', 'sub'))).toThrow(/not a directory/);
});

it('rnnc compile -o /proc/... fails at once with the reason (exit 1), writing nothing', async () => {
  const r = await rnnc('compile', 'examples/lstm.rnn', '-o', '/proc/rnnc-cannot-be-here');
  expect(r.code).toBe(1);
  expect(r.stderr).toBe('rnnc: cannot write to /proc/rnnc-cannot-be-here: mkdir /proc/rnnc-cannot-be-here: no such file or directory\n');
});
