// `rnnc compile`: writes three files; `--check` passes on them and fails with a diff after an edit.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

let out: string[];
let err: string[];
beforeEach(() => {
  out = [];
  err = [];
  process.exitCode = undefined;
  vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
  vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
});
afterEach(() => {
  vi.restoreAllMocks();
  process.exitCode = undefined;
});

describe('rnnc compile', () => {
  it('writes the kernel, manifest and host module, and --check compares them', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnc-compile-'));
    expect(await main(['compile', 'examples/parity.rnn', '-o', dir])).toBe(0);
    expect(readFileSync(join(dir, 'parity.wgsl'), 'utf8')).toBe(readFileSync('test/golden/seq/parity/parity.wgsl', 'utf8'));
    expect(JSON.parse(readFileSync(join(dir, 'parity.json'), 'utf8'))).toMatchObject({ name: 'parity', mode: 'seq', strategy: 'invocation', workgroupSize: 64, dims: { D: 1 } });

    process.exitCode = undefined;
    expect(await main(['compile', 'examples/parity.rnn', '-o', dir, '--check'])).toBe(0);
    expect(err.join('')).toContain('is up to date');

    const kernel = join(dir, 'parity.wgsl');
    writeFileSync(kernel, readFileSync(kernel, 'utf8').replace('const UNITS = 1u;', 'const UNITS = 2u;'));
    process.exitCode = undefined;
    expect(await main(['compile', 'examples/parity.rnn', '-o', dir, '--check'])).toBe(1);
    expect(out.join('')).toContain(`-const UNITS = 2u;\n+const UNITS = 1u;`);
    expect(err.join('')).toContain('1 generated file in');
  });

  it('writes the scan kernels with --mode scan, and without subgroup operations with --no-subgroups', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnc-compile-'));
    expect(await main(['compile', 'bench/cells/affine.rnn', '-o', dir, '--mode', 'scan'])).toBe(0);
    expect(readFileSync(join(dir, 'affine.scan_steps.wgsl'), 'utf8')).toBe(readFileSync('test/golden/scan/affine.scan_steps.wgsl', 'utf8'));
    expect(JSON.parse(readFileSync(join(dir, 'affine.scan.json'), 'utf8'))).toMatchObject({ subgroups: true, tile: { split: 'stripe' } });
    expect(await main(['compile', 'bench/cells/affine.rnn', '-o', dir, '--mode', 'scan', '--no-subgroups'])).toBe(0);
    expect(readFileSync(join(dir, 'affine.scan_steps.wgsl'), 'utf8')).not.toMatch(/subgroup/);
    expect(JSON.parse(readFileSync(join(dir, 'affine.scan.json'), 'utf8'))).toMatchObject({ subgroups: false, tile: { split: 'thread' } });
  });

  it('applies --dim and rejects unknown dims and modes', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnc-compile-'));
    expect(await main(['compile', 'examples/mamba_s6.rnn', '-o', dir, '--dim', 'N=16'])).toBe(0);
    expect(readFileSync(join(dir, 'mamba_s6.wgsl'), 'utf8')).toContain('var state_h: array<f32, 16>;');
    expect(await main(['compile', 'examples/mamba_s6.rnn', '-o', dir, '--dim', 'Q=2'])).toBe(1);
    expect(err.join('')).toContain('unknown dim `Q`');
    expect(await main(['compile', 'examples/mamba_s6.rnn', '-o', dir, '--mode', 'nope'])).toBe(2);
  });
});
