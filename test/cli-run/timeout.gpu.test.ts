// `rnnc run --timeout S` (issue 12): a run past its time limit is stopped with a user error (exit 1)
// that says what to change, not reported as a hang of the Dawn host.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { captureCli } from './rnnc.js';

const rnnc = captureCli();
const dir = mkdtempSync(join(tmpdir(), 'rnnc-timeout-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
// About 2^18 multiply-adds per step and sequence: far more than a second on lavapipe at this size.
const file = join(dir, 'slow.rnn');
writeFileSync(file, 'rnn slow {\n  dims D = 64\n  input x[D]\n  state h[D] = 0\n  h[i] <- h[i] + sum(j: sum(k: sum(l: x[j] * x[k] * x[l])))\n  output y[i] = h[i]\n}\n');

describe('run --timeout', () => {
  it('stops a run past the limit: exit 1, what to change, nothing saved', async () => {
    const save = join(dir, 'out');
    const r = await rnnc('run', file, '--T', '4096', '--batch', '8', '--timeout', '1', '--save', save);
    expect(r.code).toBe(1);
    expect(r.stderr.trim().split('\n').at(-1)).toBe('rnnc: the GPU run did not finish within --timeout 1 s; it was stopped and nothing was written (a smaller --T, --batch or --dim, or a longer --timeout)');
    expect(readdirSync(dir)).not.toContain('out');
  });

  it('is a positive whole number of seconds', async () => {
    const r = await rnnc('run', file, '--timeout', '0');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--timeout/);
  });
});
