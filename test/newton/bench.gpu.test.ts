// `rnnc bench --mode newton` on Dawn: a small row (gru_diag, H = 4, T = 2^6, batch 1) with the
// iterations, the residual, both times and their ratio in --json, and newton's results matching seq's;
// the text form prints the same row as a markdown table.
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const root = new URL('../../', import.meta.url).pathname;
const args = ['bench', 'examples/gru_diag.rnn', '--mode', 'newton', '--dim', 'H=4', '--min-log2-t', '6', '--max-log2-t', '6', '--repeats', '1'];

describe('rnnc bench --mode newton on Dawn', () => {
  it('reports iterations, residual, times and the match with seq in --json', async () => {
    const r = await runCli([...args, '--json', '--newton-tol', '1e-6'], root);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ mode: 'newton', tol: 1e-6, maxIter: 32, repeats: 1, skipped: [] });
    expect(report.adapter).toEqual(expect.any(String));
    expect(report.loadAverage).toEqual({ start: expect.any(Number), end: expect.any(Number), cpus: expect.any(Number) });
    expect(report.rows).toHaveLength(1);
    const row = report.rows[0];
    expect(row).toMatchObject({ cell: 'gru_diag', dims: { H: 4 }, jacobian: 'diagonal', batch: 1, T: 64, log2T: 6 });
    expect(row.iterations).toBeGreaterThanOrEqual(2);
    expect(row.iterations).toBeLessThanOrEqual(10);
    expect(row.residual).toBeLessThanOrEqual(1e-6);
    for (const k of ['newtonMs', 'linearisationMs', 'systemMs', 'seqMs']) expect(row[k], k).toBeGreaterThan(0);
    expect(row.linearisationMs + row.systemMs + row.hostMs).toBeCloseTo(row.newtonMs, 6);
    expect(row.ratio).toBeCloseTo(row.newtonMs / row.seqMs, 6);
    // newton's outputs and final states are seq's, to float32 rounding.
    expect(row.maxRelDiffVsSeq).toBeLessThan(1e-5);
  });

  it('prints a markdown table without --json', async () => {
    const r = await runCli(args, root);
    expect(r.code, r.stderr).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^newton against seq on .*: tolerance 0\.00001, at most 32 iterations; median of 1 after a warm-up run; load average/);
    expect(lines).toContain('| cell | dims | batch | T | iterations | residual | newton ms | linearise / scan / host ms | seq ms | newton / seq | max rel diff vs seq |');
    expect(lines.at(-1)).toMatch(/^\| gru_diag \| X=4, H=4 \| 1 \| 2\^6 \| \d+ \| \S+ \| \d+ \| \d+ \/ \d+ \/ -?\d+ \| \d+ \| \d+\.\dx \| \S+ \|$/);
  });

  it('skips a row whose arrays would not fit in host memory, saying why', async () => {
    const r = await runCli(['bench', 'examples/gru_diag.rnn', '--mode', 'newton', '--min-log2-t', '30', '--max-log2-t', '30', '--json'], root);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.rows).toEqual([]);
    expect(report.skipped).toHaveLength(1);
    expect(report.skipped[0]).toMatch(/^gru_diag T = 2\^30, batch 1: `\w+` would have \d+ elements \(batch 1 × T 1073741824 × \d+\), more than the \d+ a JavaScript array holds\.$/);
  });
});
