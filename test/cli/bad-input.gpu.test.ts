// The bad-input corpus's cases that need a GPU adapter (the rest, and the conventions, are in
// bad-input.test.ts): failures found only once the device is open or the run is done, and flags
// that do nothing, which warn and still run. Each pins the exit code and the first line of stderr;
// a failure leaves the scratch folder as it was.
import { mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { captureCli } from '../cli-run/rnnc.js';

const rnnc = captureCli();
const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'rnnc-bad-input-gpu-')));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const decay = join(scratch, 'decay.rnn');
beforeAll(() => {
  writeFileSync(decay, 'rnn decay {\n  dims D = 4\n  input x[D]\n  state h[D] = 0\n  h[d] <- 0.5 * h[d] + x[d]\n  output y[d] = h[d]\n}\n');
  mkdirSync(join(scratch, 'inputs', 'x.npy'), { recursive: true });
});

function listing(dir = scratch): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? [`${path}/`, ...listing(path)] : [`${path} ${statSync(path).size} ${statSync(path).mtimeMs}`];
  });
}

type Case = [name: string, argv: string[], exit: 0 | 1 | 2, stderr: string | RegExp];
const S = (path: string) => join(scratch, path);

const cases: Case[] = [
  // /proc takes no new folder, which only mkdir finds out: after the run, and nothing is written.
  ['--save under /proc', ['run', decay, '--batch', '1', '--T', '2', '--save', '/proc/rnnc-saved'], 1, 'rnnc: cannot write to --save /proc/rnnc-saved: mkdir /proc/rnnc-saved: no such file or directory'],
  ['--T over what host memory holds', ['run', decay, '--T', '2147483647'], 1, /^rnnc: `x` would have 34359738352 elements \(batch 4 × T 2147483647 × 4\), more than the 4294967296 a JavaScript array holds\. Lower --T or --batch\.$/],
  ['--tolerance without --verify', ['run', decay, '--batch', '1', '--T', '2', '--tolerance', '1e-3', '--json'], 0, 'rnnc: warning: --tolerance has no effect without --verify'],
  ['--chunk with --mode seq', ['run', decay, '--batch', '1', '--T', '2', '--chunk', '4', '--json'], 0, 'rnnc: warning: --chunk has no effect: it sizes the kernels of --mode chunk, and this run uses seq'],
  ['a folder named x.npy', ['run', decay, '--batch', '1', '--T', '2', '--inputs', S('inputs'), '--json'], 0, `rnnc: warning: ignoring ${S('inputs/x.npy')}: a directory, not a .npy file`],
];

it.each(cases)('%s', async (_name, argv, exit, stderr) => {
  const before = listing();
  const r = await rnnc(...argv);
  expect(r.code, r.stderr).toBe(exit);
  const first = r.stderr.split('\n')[0]!;
  if (typeof stderr === 'string') expect(first).toBe(stderr);
  else expect(first).toMatch(stderr);
  expect(r.stderr).not.toContain('internal error');
  if (exit !== 0) {
    expect(r.stdout).toBe('');
    expect(listing()).toEqual(before);
  } else {
    // The warnings of a run are in its --json report too.
    expect(JSON.parse(r.stdout).warnings[0]).toBe(first.replace(/^rnnc: warning: /, ''));
  }
});
