// `rnnc bench --mode newton` without a GPU: --help documents it, and what it cannot run fails before
// the GPU starts: a cell newton cannot take (exit 1, with the reason), flags of the other mode and a
// mode bench does not know (exit 2).
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;

describe('rnnc bench --mode newton: help and errors', () => {
  it('--help documents the mode and its flags', async () => {
    const r = await runCli(['bench', '--help'], root);
    expect(r.code).toBe(0);
    const help = r.stdout.replace(/\s+/g, ' ');
    expect(help).toContain('--mode <mode>');
    expect(help).toContain('newton: --mode newton against --mode seq (iterations, final residual, both times and their ratio');
    expect(help).toContain('--newton-tol <x>');
    expect(help).toContain('--newton-max-iter <n>');
  });

  it('a cell newton cannot take is exit 1 with the reason', async () => {
    const monoid = await runCli(['bench', 'examples/aaren.rnn', '--mode', 'newton', '--min-log2-t', '6', '--max-log2-t', '6'], root);
    expect(monoid.code).toBe(1);
    expect(monoid.stderr).toMatch(/^rnnc: examples\/aaren\.rnn: nothing to benchmark with --mode newton: aaren cannot take --mode newton: `aaren` is a monoid cell/);
    expect(monoid.stdout).toBe('');
    const big = await runCli(['bench', 'examples/lstm.rnn', '--mode', 'newton', '--dim', 'H=600', '--min-log2-t', '6', '--max-log2-t', '6'], root);
    expect(big.code).toBe(1);
    expect(big.stderr).toMatch(/^rnnc: examples\/lstm\.rnn: nothing to benchmark with --mode newton: lstm cannot take --mode newton at these sizes: its linearised system .* does not run as a scan/);
  });

  it('flags of the other mode, and an unknown mode, are exit 2', async () => {
    const cases: [string[], string][] = [
      [['--mode', 'newton', '--out', 'x.md'], 'rnnc: --out does not go with --mode newton'],
      [['--mode', 'newton', '--all'], 'rnnc: --all does not go with --mode newton'],
      [['--newton-tol', '1e-6'], 'rnnc: --newton-tol goes only with --mode newton'],
      [['--mode', 'chunk'], "rnnc: bench --mode must be scan or newton, got 'chunk'"],
      [['--mode', 'newton', '--newton-max-iter', '0'], "rnnc: --newton-max-iter must be a positive integer, got '0'"],
    ];
    for (const [flags, message] of cases) {
      const r = await runCli(['bench', 'examples/gru_diag.rnn', ...flags], root);
      expect(r.code, flags.join(' ')).toBe(2);
      expect(r.stderr, flags.join(' ')).toContain(message);
    }
  });
});
