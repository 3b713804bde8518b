// `rnnc run --grad` end to end: the report's gradients and backward kernel, the files --save writes,
// upstream gradients read from --inputs (and what a wrong one gets), the flags that need --grad.
import { mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureCli } from './rnnc.js';
import { formatNpy, readNpy } from '../../src/driver/npy.js';

const rnnc = captureCli();
const tempDir = () => mkdtempSync(join(tmpdir(), 'rnnc-grad-'));

/** `rnnc run FILE ...args` in words, then with --json: the text report and the parsed one (both runs exit 0). */
async function textAndJson(...args: string[]): Promise<{ text: string; report: any }> {
  const text = await rnnc('run', ...args);
  expect(text.code, text.stderr).toBe(0);
  const r = await rnnc('run', ...args, '--json');
  expect(r.code, r.stderr).toBe(0);
  return { text: text.stdout, report: JSON.parse(r.stdout) };
}

describe('rnnc run --grad', () => {
  it('runs forward and backward, verifies both, and saves the gradients beside the results', async () => {
    const out = tempDir();
    const r = await rnnc('run', 'examples/mamba_s6.rnn', '--grad', '--verify', '--batch', '2', '--T', '9', '--lengths', 'random', '--save', out);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain('backward: seq kernel');
    expect(r.stdout).toMatch(/^grad +grad_x +\[2, 9, 8\] +sum/m);
    expect(r.stdout).toMatch(/^grad +grad_A_log +\[8, 4\] +sum/m);
    expect(r.stdout).toMatch(/^grad +grad_h +\[2, 8, 4\] +sum/m);
    expect(r.stdout).toContain('verify against the reference interpreter (float64): gradients, error = max |gpu - ref| / (1 + max |ref| of the tensor), tolerance 0.0001');
    expect(r.stdout).not.toContain('FAIL');
    const files = readdirSync(out).sort();
    expect(files).toEqual(['grad_A_log.npy', 'grad_B.npy', 'grad_C.npy', 'grad_Dskip.npy', 'grad_dt.npy', 'grad_h.npy', 'grad_x.npy', 'h.final.npy', 'y.npy']);
    expect((await readNpy(join(out, 'grad_x.npy'))).shape).toEqual([2, 9, 8]);
    expect((await readNpy(join(out, 'grad_A_log.npy'))).shape).toEqual([8, 4]);
    expect((await readNpy(join(out, 'grad_h.npy'))).shape).toEqual([2, 8, 4]);
  });

  it('reads upstream gradients from --inputs, seeds the missing ones, and reports which kernels ran in --json', async () => {
    const dir = tempDir();
    // The loss is the sum of y's last step: its gradient is 1 there and 0 elsewhere.
    const g = new Float32Array(1 * 5 * 1);
    g[4] = 1;
    writeFileSync(join(dir, 'grad_y.npy'), formatNpy({ shape: [1, 5, 1], data: g }));
    const r = await rnnc('run', 'bench/cells/cumsum.rnn', '--grad', '--verify', '--batch', '1', '--T', '5', '--mode', 'auto', '--inputs', dir, '--json');
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.grad.backward.mode).toBe('scan');
    // cumsum has no params: its one backward cell is not staged.
    expect(report.grad.staged).toBeNull();
    expect(report.grad.upstream['grad_y.npy']).toBe(join(dir, 'grad_y.npy'));
    expect(report.grad.upstream['grad_h.final.npy']).toBe('random');
    expect(report.warnings.join('\n')).toContain(`no grad_h.final.npy in ${dir}: using seeded random values for the upstream gradient of the final state of \`h\` (seed 0)`);
    expect(report.verify.gradients.ok).toBe(true);
  });

  // docs/grad.md, "The rest recomputes its states": gla's rest recomputes over runs of 16 steps, and the scans write its checkpoints once a run.
  it('reports a staged backward whose rest recomputes its states, in words and in --json', async () => {
    const { text, report } = await textAndJson('examples/gla.rnn', '--mode', 'auto', '--grad', '--verify', '--batch', '2', '--T', '21', '--lengths', 'random');
    expect(text).toContain(
      "the rest in the time-sum kernel, recomputing the states over runs of 32 steps (the scans write the saved states and carried adjoints once a run), the gate's gradient by d_log_alpha, a sum back over each run from ⟨d_S, S⟩ at its end (no state kept per step)",
    );
    expect(report.grad.staged).toMatchObject({ core: { mode: 'scan', direction: 'reversed' }, rest: 'time-sum', recompute: 32, sampled: { saved: true, carried: true }, gate: { state: 'S', axes: [0] } });
    expect(report.verify.gradients.ok).toBe(true);
  });

  // docs/grad.md, "Session 31": LSTM's weight sums (from H = 16) and d_x (here X = H = 32) as matrix products over the steps, its biases in the time-sum kernel.
  it("reports how an LSTM's params' gradients are summed over time, in words and in --json", async () => {
    const { text, report } = await textAndJson('examples/lstm.rnn', '--grad', '--verify', '--dim', 'X=32', '--dim', 'H=32', '--batch', '2', '--T', '11', '--lengths', 'random');
    expect(text).toContain("the params' gradients summed over time: bi, bf, bg, bo in the time-sum kernel; Wi, Wf, Wg, Wo, Ui, Uf, Ug, Uo as matrix products over the steps; the inputs' gradients as matrix products over the steps");
    expect(report.grad.sums).toEqual({ timeSum: ['bi', 'bf', 'bg', 'bo'], outerProducts: ['Wi', 'Wf', 'Wg', 'Wo', 'Ui', 'Uf', 'Ug', 'Uo'], cells: [], inputs: 'matrix-products' });
    expect(report.verify.gradients.ok).toBe(true);
  });

  it('warns of an upstream gradient for nothing, and refuses one of the wrong shape before the GPU starts', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'grad_z.npy'), formatNpy({ shape: [1, 5, 1], data: new Float32Array(5) }));
    const r = await rnnc('run', 'bench/cells/cumsum.rnn', '--grad', '--batch', '1', '--T', '5', '--inputs', dir);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`rnnc: warning: ignoring ${join(dir, 'grad_z.npy')}: cumsum has no output \`z\``);
    writeFileSync(join(dir, 'grad_y.npy'), formatNpy({ shape: [1, 4, 1], data: new Float32Array(4) }));
    const bad = await rnnc('run', 'bench/cells/cumsum.rnn', '--grad', '--batch', '1', '--T', '5', '--inputs', dir);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain(`rnnc: ${join(dir, 'grad_y.npy')} has shape (1, 4, 1), but the gradient of output \`y\` is [batch, T, C] = (1, 5, 1)`);
    expect(bad.stderr).not.toMatch(/\n\s+at /); // no stack trace
  });

  it('refuses a --grad run whose saved states cannot be held, before any data exists', async () => {
    const r = await rnnc('run', 'examples/mamba_s6.rnn', '--grad', '--T', '400000000');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('rnnc: `h` saved at every step would have 51200000000 elements (batch 4 × T 400000000 × 32), more than the 4294967296 a JavaScript array holds. Lower --T or --batch.\n');
  });

  it('says that --checkpoint and --grad-mode need --grad, and rejects a --grad-mode that is not one', async () => {
    const r = await rnnc('run', 'bench/cells/cumsum.rnn', '--T', '4', '--checkpoint', '2');
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('rnnc: warning: --checkpoint has no effect without --grad');
    const bad = await rnnc('run', 'bench/cells/cumsum.rnn', '--grad', '--grad-mode', 'fast');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("rnnc: --grad-mode must be one of seq, scan, chunk, auto, got 'fast'");
  });
});
