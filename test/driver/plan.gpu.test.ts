// The planner asks the backends before it chooses: `auto` never picks a kernel the backend would
// refuse for the bound sizes, and what it picks runs on Dawn and matches the reference interpreter.
// Reproducer from issue 11: 16 x 20 lanes whose outputs reduce over lanes used to plan a scan whose
// tile the scan backend then refused with an internal error ("320 lanes ... exceed 256 invocations").
// Since issue 13 the scan takes it by spreading the 16 rows over workgroups, and auto keeps the
// sequential loop (lanes that fill several workgroups); at M = 300 the scan refuses, saying why.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/driver/index.js';
import { captureCli } from '../cli-run/rnnc.js';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';

const WIDE_LANES = `rnn wide_lanes {
  dims N = 16, M = 20
  input x[M]
  state h[N, M] = 0
  h[i, j] <- x[j] * h[i, j] + 1
  output y[i] = sum(j: h[i, j])
}
`;

const rnnc = captureCli();
const dir = mkdtempSync(join(tmpdir(), 'rnnc-plan-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const file = join(dir, 'wide_lanes.rnn');
writeFileSync(file, WIDE_LANES);

describe('auto asks the scan backend first', () => {
  it('plans the sequential loop, saying why the scan was not taken', () => {
    const { compilation, diagnostics } = compile(WIDE_LANES, { mode: 'auto' });
    expect(diagnostics).toEqual([]);
    const plan = compilation!.plan;
    expect(plan.mode).toBe('seq');
    expect(plan.considered.map((c) => [c.mode, c.ok])).toEqual([
      ['scan', true],
      ['seq', true],
    ]);
    expect(plan.why).toMatch(/^not scan: it takes the cell, but only by spreading each sequence's lanes over workgroups of \d+, .*; so /);
  });

  it('--mode scan is a user error with the reason when the lanes cannot be spread', async () => {
    const r = await rnnc('compile', file, '-o', join(dir, 'out'), '--mode', 'scan', '--dim', 'M=300');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'rnnc: wide_lanes cannot take --mode scan: every state is an associative recurrence, but the scan kernels do not take this cell: `y` reduces over M: the 300 lanes along M must share one workgroup, over 256 invocations (lower --dim M); compile it with --mode seq or --mode auto\n',
    );
  });

  it('runs what auto planned on Dawn and matches the reference', async () => {
    const r = await rnnc('run', file, '--mode', 'auto', '--batch', '3', '--T', '17', '--lengths', 'random', '--verify', '--json');
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, mode: 'seq', verify: { ok: true } });
  });
});

describe('the scan refusal separates "not associative" from "associative, but not planned"', () => {
  it('a coupled cell: associative jointly, not planned as a scan, and where the coupling is', () => {
    const text = `rnn cascade {
  dims H = 4
  input x[H]
  state h1[H] = 0, h2[H] = 0
  h1[i] <- 0.5 * h1[i] + x[i]
  h2[i] <- 0.5 * h2[i] + h1[i]
  output y[i] = h2[i]
}
`;
    expect(() => compile(text, { mode: 'scan' })).toThrow(
      'rnnc: cascade cannot take --mode scan: `h2` is associative jointly with other states, but coupled ones are not planned as a scan: the update of `h2` reads state `h1` (see rnnc check); compile it with --mode seq or --mode auto',
    );
  });
});
