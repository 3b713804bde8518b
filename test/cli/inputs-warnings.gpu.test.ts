// `rnnc run --inputs DIR`: warnings on stderr as `rnnc: warning: ...`, the same texts under `warnings`
// in --json, and the exit code unchanged (issue 12). The texts for every case are pinned without a GPU
// in test/driver/inputs-warnings.test.ts; this is the command end to end, once.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { formatNpy } from '../../src/driver/npy.js';
import { captureCli } from '../cli-run/rnnc.js';

const rnnc = captureCli();
const root = mkdtempSync(join(tmpdir(), 'rnnc-warn-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

it('warns about h0.npy and the state without a file; exit 0; --json lists the warnings', async () => {
  const spec = join(root, 'decay.rnn');
  writeFileSync(spec, 'rnn decay {\n  dims D = 4\n  input x[D]\n  state h[D] = 0.5\n  h[d] <- 0.5 * h[d] + x[d]\n  output y[d] = h[d]\n}\n');
  const dir = join(root, 'in');
  mkdirSync(dir);
  writeFileSync(join(dir, 'x.npy'), formatNpy({ shape: [2, 3, 4], data: new Float32Array(24).fill(1) }));
  writeFileSync(join(dir, 'h0.npy'), formatNpy({ shape: [2, 4], data: new Float32Array(8) }));
  const expected = [
    `ignoring ${join(dir, 'h0.npy')}: decay has no input, param or state \`h0\`; did you mean h.npy?`,
    `no h.npy or h.final.npy in ${dir}: state \`h\` starts at the spec's initial value (0.5)`,
  ];
  const r = await rnnc('run', spec, '--inputs', dir, '--verify', '--json');
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe(expected.map((w) => `rnnc: warning: ${w}\n`).join(''));
  const report = JSON.parse(r.stdout);
  expect(report).toMatchObject({ ok: true, batch: 2, T: 3, warnings: expected });
});
