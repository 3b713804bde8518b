// `rnnc run --mode newton`: verified against the reference, with the iterations and the final
// residual in --json; non-convergence within --newton-max-iter is exit 1 with the step and sequence;
// bad flags are exit 2.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;

describe('rnnc run --mode newton', () => {
  it('runs, verifies and reports the iterations and the residual', async () => {
    const r = await runCli(['run', 'examples/gru_diag.rnn', '--mode', 'newton', '--T', '37', '--batch', '3', '--lengths', 'random', '--newton-tol', '1e-6', '--verify', '--tolerance', '1e-5', '--json'], root);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, mode: 'newton', T: 37, batch: 3, newton: { tol: 1e-6, maxIter: 32, jacobian: 'diagonal', linearisation: 'seq' } });
    expect(report.newton.iterations).toBeGreaterThanOrEqual(1);
    expect(report.newton.iterations).toBeLessThanOrEqual(10);
    expect(report.newton.residual).toBeLessThanOrEqual(1e-6);
    expect(report.plan.why).toMatch(/^newton: each element of the new state reads the old state only through its own index, so J is diagonal/);
    expect(report.verify.ok).toBe(true);
  });

  it('prints the iterations in text too', async () => {
    const r = await runCli(['run', 'examples/gru_diag.rnn', '--mode', 'newton', '--T', '9'], root);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/newton: converged in \d+ iterations?, residual \S+ \(tolerance 0\.00001, at most 32 iterations\)/);
  });

  it('a cap too low is exit 1, naming the step and the sequence', async () => {
    const r = await runCli(['run', 'examples/gru_diag.rnn', '--mode', 'newton', '--T', '64', '--newton-max-iter', '1', '--newton-tol', '1e-7'], root);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^rnnc: newton did not converge for gru_diag: after 1 iteration the residual is \S+, above the tolerance 1e-7 \(--newton-tol\); it is worst at step \d+ \(from 0\) of sequence \d, state `h` element \d\. Raise --newton-max-iter \(1\) or run it with --mode seq\n$/);
    expect(r.stdout).toBe('');
  });

  it('bad flags are exit 2', async () => {
    const tol = await runCli(['run', 'examples/gru_diag.rnn', '--mode', 'newton', '--newton-tol', '0'], root);
    expect(tol.code).toBe(2);
    expect(tol.stderr).toContain("--newton-tol must be a positive number, got '0'");
    const grad = await runCli(['run', 'examples/gru_diag.rnn', '--mode', 'newton', '--grad'], root);
    expect(grad.code).toBe(2);
    expect(grad.stderr).toContain('--grad does not go with --mode newton');
  });
});
