// The analysis runs once per command: the Compilation carries it to the planner, the backends and the
// run. Counted through a spy on the analysis entry point, for `rnnc compile` in every mode and for
// `rnnc run` (which plans again for the adapter, but never analyses again). `rnnc run` keeps the
// front end's result in a disk cache (driver/front-end.ts frontEndCached): here in a folder of the
// test's own, off for the counts of a run's own analyses, on for the hit that needs none.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { captureCli } from '../cli-run/rnnc.js';

vi.mock('../../src/compiler/analyse/analyse.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/compiler/analyse/analyse.js')>();
  return { ...original, analyse: vi.fn(original.analyse) };
});

const rnnc = captureCli();
const out = mkdtempSync(join(tmpdir(), 'rnnc-analyse-once-'));
const saved = { dir: process.env['RNNC_CACHE_DIR'], flag: process.env['RNNC_CACHE'] };
const restore = (name: string, value: string | undefined) => (value === undefined ? delete process.env[name] : (process.env[name] = value));
beforeAll(() => {
  process.env['RNNC_CACHE_DIR'] = join(out, 'cache');
  process.env['RNNC_CACHE'] = '0';
});
afterAll(() => {
  restore('RNNC_CACHE_DIR', saved.dir);
  restore('RNNC_CACHE', saved.flag);
  rmSync(out, { recursive: true, force: true });
});

async function analysesOf(...args: string[]): Promise<number> {
  vi.mocked(analyse).mockClear();
  const r = await rnnc(...args);
  expect(r.code, r.stderr).toBe(0);
  return vi.mocked(analyse).mock.calls.length;
}

describe('one analysis per command', () => {
  it.each([
    ['seq', 'examples/lstm.rnn'],
    ['scan', 'examples/gla.rnn'],
    ['chunk', 'examples/deltanet.rnn'],
    ['auto', 'examples/mamba_s6.rnn'],
  ])('rnnc compile --mode %s', async (mode, file) => {
    expect(await analysesOf('compile', file, '-o', join(out, mode), '--mode', mode)).toBe(1);
  });

  it.each(['seq', 'scan', 'auto'])('rnnc run --mode %s --verify', async (mode) => {
    expect(await analysesOf('run', 'examples/maxplus.rnn', '--mode', mode, '--batch', '2', '--T', '9', '--verify')).toBe(1);
  });

  it('rnnc run --mode chunk --verify', async () => {
    expect(await analysesOf('run', 'examples/deltanet.rnn', '--mode', 'chunk', '--batch', '2', '--T', '9', '--verify')).toBe(1);
  });

  it('rnnc run with the front-end cache on: the first run analyses, the second takes the cached result', async () => {
    process.env['RNNC_CACHE'] = '1';
    try {
      const run = () => analysesOf('run', 'examples/maxplus.rnn', '--mode', 'seq', '--batch', '2', '--T', '9', '--verify');
      expect([await run(), await run()]).toEqual([1, 0]);
    } finally {
      process.env['RNNC_CACHE'] = '0';
    }
  });
});
