// `rnnc run` on cells with a time direction, in-process: a reversed cell and a bidirectional one verify
// against the reference in the modes that take them (with variable lengths and a segmented run), and the
// modes that do not take them say why with the usage exit code.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { captureCli } from '../cli-run/rnnc.js';
import { reversedText } from './helpers.js';

const rnnc = captureCli();
const reversed = join(mkdtempSync(join(tmpdir(), 'rnnc-axes-')), 'mamba_rev.rnn');
writeFileSync(reversed, reversedText(readFileSync('examples/mamba_s6.rnn', 'utf8')));

describe('rnnc run with a time direction', () => {
  it.each([
    [reversed, 'seq', []],
    [reversed, 'scan', ['--segment', '16']],
    [reversed, 'chunk', []],
    ['examples/bimamba.rnn', 'seq', []],
    ['examples/bimamba.rnn', 'scan', []],
  ] as const)('%s --mode %s %s verifies (variable lengths)', async (file, mode, extra) => {
    const r = await rnnc('run', file, '--mode', mode, '--batch', '3', '--T', '41', '--lengths', 'random', '--verify', ...extra);
    if (mode === 'chunk') {
      // mamba_s6 is diagonal: the chunked kernels refuse it whatever its direction.
      expect(r.code).toBe(1);
      expect(r.stderr).toMatch(/cannot take --mode chunk/);
      return;
    }
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/ok/);
    expect(r.stdout).not.toMatch(/FAIL/);
  });

  it('bimamba: chunk, newton, pieces of time (--segment) and --grad refuse it, saying why', async () => {
    const chunk = await rnnc('run', 'examples/bimamba.rnn', '--mode', 'chunk');
    expect([chunk.code, chunk.stderr]).toEqual([1, expect.stringMatching(/one direction of time/)]);
    const newton = await rnnc('run', 'examples/bimamba.rnn', '--mode', 'newton');
    expect([newton.code, newton.stderr]).toEqual([2, expect.stringMatching(/newton runs time forward only/)]);
    const pieces = await rnnc('run', 'examples/bimamba.rnn', '--mode', 'scan', '--T', '41', '--segment', '16');
    expect([pieces.code, pieces.stderr]).toEqual([2, expect.stringMatching(/cannot run in pieces of 16 steps/)]);
    const grad = await rnnc('run', 'examples/bimamba.rnn', '--grad');
    expect(grad.code).not.toBe(0);
    expect(grad.stderr).toMatch(/does not carry time directions yet/);
  });
});
