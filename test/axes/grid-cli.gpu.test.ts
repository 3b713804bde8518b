// `rnnc run --grid H,W` on the GPU (issue 18): the wavefront kernel (the default, --mode seq) on .npy
// inputs [batch, H, W, ...] with --verify, --json and --save (the saved arrays = the reference on those
// inputs); a separable cell along its axis (auto's choice, through --mode scan's path), its text report.
// In-process; one GPU session per run.
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureCli } from '../cli-run/rnnc.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { formatNpy, readNpy } from '../../src/driver/npy.js';
import { uniformFloats } from '../../src/driver/data.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { verifyRun } from '../../src/driver/verify.js';

const rnnc = captureCli();

const ssm2d = `rnn ssm2d grid {
  dims D
  input  x[D], a[D], b[D]
  state  h[D] = 0.25
  h[d] <- 0.5 * a[d] * h.left[d] + 0.5 * b[d] * h.up[d] + x[d]
  output y[d] = h[d]
}
`;
const rows = `rnn rows2d grid {
  dims D
  input  x[D], a[D]
  state  h[D] = 0
  h[d] <- 0.5 * a[d] * h.left[d] + x[d]
  output y[d] = h[d]
}
`;
const dir = mkdtempSync(join(tmpdir(), 'rnnc-grid-gpu-'));
const files = { ssm2d: join(dir, 'ssm2d.rnn'), rows: join(dir, 'rows2d.rnn') };
writeFileSync(files.ssm2d, ssm2d);
writeFileSync(files.rows, rows);

describe('rnnc run --grid on the GPU', () => {
  it('the wavefront kernel by default, on --inputs [batch, H, W, D] files: --verify, --json, and --save = the reference on those inputs', async () => {
    const [batch, H, W, D] = [3, 7, 13, 2];
    const inputs = join(dir, 'in');
    const save = join(dir, 'saved');
    mkdirSync(inputs, { recursive: true });
    const data = { x: uniformFloats(1, 'x', batch * H * W * D), a: uniformFloats(2, 'a', batch * H * W * D), b: uniformFloats(3, 'b', batch * H * W * D) };
    for (const [name, a] of Object.entries(data)) writeFileSync(join(inputs, `${name}.npy`), formatNpy({ shape: [batch, H, W, D], data: a }));
    const h = uniformFloats(4, 'h', batch * D);
    writeFileSync(join(inputs, 'h.npy'), formatNpy({ shape: [batch, D], data: h }));
    const r = await rnnc('run', files.ssm2d, '--inputs', inputs, '--save', save, '--verify', '--json');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, mode: 'seq', grid: { H, W }, batch, dims: { D }, outputs: [{ name: 'y', shape: [batch, H, W, D] }], finalStates: [{ name: 'h', shape: [batch, D] }] });
    expect(report.why).toMatch(/wavefront kernel runs the anti-diagonals/);
    expect(report.adapter).toEqual(expect.any(String));
    expect(report.verify).toMatchObject({ ok: true, reference: 'float64' });
    expect(report.verify.tensors.map((t: { name: string; ok: boolean }) => [t.name, t.ok])).toEqual([['y', true], ['h', true]]);
    const y = await readNpy(join(save, 'y.npy'));
    const final = await readNpy(join(save, 'h.final.npy'));
    expect([y.shape, final.shape]).toEqual([[batch, H, W, D], [batch, D]]);
    const want = interpret(frontEnd(ssm2d).module!, { batch, T: H * W, sizes: { D }, grid: { H, W } }, { inputs: data, params: {}, initial: { h } });
    expect(verifyRun({ outputs: { y: y.data }, finalState: { h: final.data } }, want, 1e-5).ok).toBe(true);
  });

  it('auto runs a separable cell along its rows, with the scan (the path of --mode scan); the text report names it', async () => {
    const r = await rnnc('run', files.rows, '--grid', '4,9', '--batch', '2', '--dim', 'D=2', '--mode', 'auto', '--verify');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/: rows2d on .+: scan kernel along the rows — grid 4 x 9, batch 2, D=2, seed 0$/);
    expect(lines.filter((l) => /^\s+(output|final)\s/.test(l)).map((l) => l.trim().split(/\s+/).at(-1))).toEqual(['ok', 'ok']);
  });
});
