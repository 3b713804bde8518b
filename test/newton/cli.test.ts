// `rnnc compile --mode newton`: the linearisation's and the linear system's kernels and manifests and
// <cell>.newton.json; a cell newton does not take, or flags it has no use for, are errors with exit codes.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;
const dirs: string[] = [];
const tempDir = () => {
  const d = mkdtempSync(join(tmpdir(), 'rnnc-newton-'));
  dirs.push(d);
  return d;
};
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('rnnc compile --mode newton', () => {
  it('writes both modules and the newton manifest', async () => {
    const out = tempDir();
    const r = await runCli(['compile', 'examples/lstm_diag.rnn', '--mode', 'newton', '-o', out], root);
    expect(r.stderr).toContain('rnnc: wrote');
    expect(r.code).toBe(0);
    const files = readdirSync(out).sort();
    expect(files).toEqual(expect.arrayContaining(['lstm_diag.newton.json', 'lstm_diag_linearised.json', 'lstm_diag_linearised.wgsl', 'lstm_diag_newton_system.scan.json']));
    expect(files.some((f) => f.startsWith('lstm_diag_newton_system.') && f.endsWith('.wgsl'))).toBe(true);
    const manifest = JSON.parse(readFileSync(join(out, 'lstm_diag.newton.json'), 'utf8'));
    expect(manifest).toMatchObject({ cell: 'lstm_diag', mode: 'newton', jacobian: 'diagonal', linearisation: { mode: 'seq' }, system: { mode: 'scan', form: 'lanes' } });
    expect(manifest.linearisation.blocks).toHaveLength(4);
    // --check then finds them up to date.
    const again = await runCli(['compile', 'examples/lstm_diag.rnn', '--mode', 'newton', '-o', out, '--check'], root);
    expect(again.code).toBe(0);
  });

  it('a dense cell stacks its states', async () => {
    const out = tempDir();
    const r = await runCli(['compile', 'examples/lstm.rnn', '--mode', 'newton', '-o', out], root);
    expect(r.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(out, 'lstm.newton.json'), 'utf8'));
    expect(manifest.jacobian).toBe('dense');
    expect(manifest.system.states).toEqual([
      { state: 'h', first: 0 },
      { state: 'c', first: 8 },
    ]);
  });

  it('refuses a monoid cell (exit 2) and --chunk (exit 2), writing nothing', async () => {
    const out = tempDir();
    const monoid = await runCli(['compile', 'examples/aaren.rnn', '--mode', 'newton', '-o', out], root);
    expect(monoid.code).toBe(2);
    expect(monoid.stderr).toContain('aaren cannot take --mode newton: `aaren` is a monoid cell');
    const chunk = await runCli(['compile', 'examples/gru.rnn', '--mode', 'newton', '--chunk', '8', '-o', out], root);
    expect(chunk.code).toBe(2);
    expect(chunk.stderr).toContain('--chunk does not go with --mode newton');
    expect(readdirSync(out)).toEqual([]);
  });

  it('refuses --grad and --grad-mode (exit 2) instead of ignoring them, writing nothing', async () => {
    const out = tempDir();
    for (const flags of [['--grad'], ['--grad', '--grad-mode', 'seq'], ['--grad-mode', 'scan']]) {
      const r = await runCli(['compile', 'examples/gru_diag.rnn', '--mode', 'newton', ...flags, '-o', out], root);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr).toBe(`rnnc: ${flags[0]} does not go with --mode newton: the backward pass compiles with --mode seq, scan or auto\n`);
    }
    expect(readdirSync(out)).toEqual([]);
  });

  it('a system too big for the scan is a user error (exit 1)', async () => {
    const out = tempDir();
    const r = await runCli(['compile', 'examples/lstm.rnn', '--mode', 'newton', '--dim', 'H=600', '-o', out], root);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/lstm cannot take --mode newton at these sizes: its linearised system .* does not run as a scan/);
    expect(r.stderr).not.toContain('internal error');
  });
});

describe('rnnc run --mode newton: host memory', () => {
  it("refuses a run whose Jacobians would not fit in a JavaScript array before the GPU starts (exit 1), though the cell's own arrays would", async () => {
    // lstm at H = 8: the cell holds 8-wide arrays a step, its linearisation an 8 × 8 block of J per pair of states.
    const r = await runCli(['run', 'examples/lstm.rnn', '--mode', 'newton', '--batch', '1', '--T', String(2 ** 27)], root);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^rnnc: `\w+` would have \d+ elements \(batch 1 × T 134217728 × 64\), more than the \d+ a JavaScript array holds\. Lower --T or --batch\.\n$/);
  });
});

