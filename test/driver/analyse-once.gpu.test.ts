// The analysis runs once per command: the Compilation carries it to the planner, the backends and the
// run. Counted through a spy on the analysis entry point, for `rnnc compile` in every mode and for
// `rnnc run` (which plans again for the adapter, but never analyses again).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { captureCli } from '../cli-run/rnnc.js';

vi.mock('../../src/compiler/analyse/analyse.js', async (importOriginal) => {
  const original = await importOriginal<typeof import('../../src/compiler/analyse/analyse.js')>();
  return { ...original, analyse: vi.fn(original.analyse) };
});

const rnnc = captureCli();
const out = mkdtempSync(join(tmpdir(), 'rnnc-analyse-once-'));
afterAll(() => rmSync(out, { recursive: true, force: true }));

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
});
