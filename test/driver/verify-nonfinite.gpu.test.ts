// `rnnc run --verify` on non-finite results (issue 12): NaN against NaN used to count as exact, so an
// all-NaN run verified "ok". Now the counts are reported, and a reference with NaN or infinities fails
// the verification unless --allow-nonfinite accepts it (where the GPU agrees).
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { tensorError } from '../../src/driver/verify.js';
import { captureCli } from '../cli-run/rnnc.js';

const rnnc = captureCli();
const dir = mkdtempSync(join(tmpdir(), 'rnnc-nonfinite-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// Random inputs are uniform in [-1, 1): about half the logs are NaN.
const file = join(dir, 'logs.rnn');
writeFileSync(file, 'rnn logs {\n  input x\n  state h = 0\n  h <- h + 1\n  output y = log(x) + h\n}\n');

describe('--verify and non-finite results', () => {
  it('fails when the reference itself is NaN, saying so and how many', async () => {
    const r = await rnnc('run', file, '--batch', '2', '--T', '16', '--verify');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/output {2}y .* non-finite gpu (\d+), ref \1 +FAIL/);
    expect(r.stdout).toMatch(/y: the reference itself has \d+ non-finite values \(NaN or ±inf\); --allow-nonfinite accepts them where the GPU agrees/);
    expect(r.stderr).toBe('rnnc: verification failed: the reference has NaN or infinite results (--allow-nonfinite accepts them where the GPU agrees)\n');
  });

  it('passes with --allow-nonfinite where the GPU has the same NaNs', async () => {
    const r = await rnnc('run', file, '--batch', '2', '--T', '16', '--verify', '--allow-nonfinite', '--json');
    expect(r.code, r.stderr).toBe(0);
    const y = JSON.parse(r.stdout).verify.tensors.find((t: { name: string }) => t.name === 'y');
    expect(y.ok).toBe(true);
    expect(y.nonFinite.ref).toBeGreaterThan(0);
    expect(y.nonFinite.gpu).toBe(y.nonFinite.ref);
  });

  // MinMax and max-plus cells with NaN inputs: WGSL leaves min/max of NaN to the implementation
  // (lavapipe's ignore it, as fmin/fmax do), rnnc defines them as NaN, as the reference does.
  const cascades = join(dir, 'cascade.rnn');
  writeFileSync(cascades, 'rnn cascade {\n  dims N = 2\n  input x[N]\n  state h[N] = 0\n  h[i] <- max(h[i], log(x[i]))\n  output y[i] = min(h[i], 0.5)\n}\n');
  for (const mode of ['seq', 'scan'])
    it(`propagates NaN through max and min in --mode ${mode} as the reference does`, async () => {
      const r = await rnnc('run', cascades, '--mode', mode, '--batch', '2', '--T', '40', '--verify', '--allow-nonfinite', '--json');
      expect(r.code, r.stdout + r.stderr).toBe(0);
      const y = JSON.parse(r.stdout).verify.tensors.find((t: { name: string }) => t.name === 'y');
      expect(y.ok).toBe(true);
      expect(y.nonFinite.ref).toBeGreaterThan(0);
      expect(y.nonFinite.gpu).toBe(y.nonFinite.ref);
    });

  it('a NaN on one side only is an infinite error, allowed or not', () => {
    for (const rejectNonFinite of [false, true]) {
      const t = tensorError('y', 'output', [1, NaN], [1, 2], 1e-3, { rejectNonFinite });
      expect([t.ok, t.maxErr, t.nonFinite]).toEqual([false, Infinity, { gpu: 1, ref: 0 }]);
    }
  });
});
