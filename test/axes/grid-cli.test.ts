// The command line on a grid cell (issue 18), without a GPU: `rnnc run --grid H,W --mode reference`
// (with --inputs [batch, H, W, ...] files, --save and --json) against the interpreter on the same data;
// every flag a grid run does not take is refused with the reason before any GPU starts, as is a scan on
// a cell that reads both neighbours; a time cell refuses --grid; check, explain, and compile (which
// writes the wavefront kernel). The GPU runs are in grid-cli.gpu.test.ts. In-process.
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { assembleRunData } from '../../src/driver/inputs.js';
import { formatNpy, readNpy } from '../../src/driver/npy.js';
import { uniformFloats } from '../../src/driver/data.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';

const root = join(import.meta.dirname, '../..');
const rnnc = (...args: string[]) => runCli(args, root);
const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+\)?/);

const text = `rnn ssm2d grid {
  dims D
  input  x[D], a[D], b[D]
  state  h[D] = 0.25
  h[d] <- 0.5 * a[d] * h.left[d] + 0.5 * b[d] * h.up[d] + x[d]
  output y[d] = h[d]
}
`;
const dir = mkdtempSync(join(tmpdir(), 'rnnc-grid-'));
const file = join(dir, 'ssm2d.rnn');
writeFileSync(file, text);
const sum = (a: ArrayLike<number>) => Float32Array.from(a).reduce((s, v) => s + v, 0);

afterEach(() => {
  process.exitCode = undefined;
});

describe('rnnc on a grid cell, without a GPU', () => {
  it('run --grid H,W --mode reference --json: the reference on seeded data, [batch, H, W, ...] outputs', async () => {
    const r = await rnnc('run', file, '--grid', '3,7', '--batch', '2', '--dim', 'D=3', '--seed', '5', '--mode', 'reference', '--json');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, name: 'ssm2d', mode: 'reference', grid: { H: 3, W: 7 }, batch: 2, dims: { D: 3 }, seed: 5 });
    // The same data through the interpreter directly.
    const m = frontEnd(text).module!;
    const { data } = assembleRunData(m, { D: 3 }, { batch: 2, T: 21 }, 5, undefined);
    const want = interpret(m, { batch: 2, T: 21, sizes: { D: 3 }, grid: { H: 3, W: 7 } }, { inputs: data.inputs, params: data.params });
    expect(report.outputs[0]).toMatchObject({ name: 'y', shape: [2, 3, 7, 3] });
    expect(report.outputs[0].sum).toBeCloseTo(sum(want.outputs['y']!), 5);
    expect(report.finalStates[0]).toMatchObject({ name: 'h', shape: [2, 3] });
    expect(report.finalStates[0].sum).toBeCloseTo(sum(want.final['h']!), 5);
  });

  it('run --mode reference prints a line that says so, then the checksums', async () => {
    const r = await rnnc('run', file, '--grid', '1,5', '--dim', 'D=2', '--mode', 'reference');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/: ssm2d on the reference interpreter \(float64\) — grid 1 x 5, batch 1, D=2, seed 0$/);
    expect(lines[1]).toMatch(/^output\s+y\s+\[1, 1, 5, 2\]/);
    expect(lines[2]).toMatch(/^final\s+h\s+\[1, 2\]/);
  });

  it('--inputs [batch, H, W, D] files give the grid, the batch and D; --save writes [batch, H, W, D] and [batch, D]', async () => {
    const [batch, H, W, D] = [2, 3, 5, 2];
    const inputs = join(dir, 'in');
    const save = join(dir, 'saved');
    const x = uniformFloats(1, 'x', batch * H * W * D);
    const a = uniformFloats(2, 'a', batch * H * W * D);
    const h = uniformFloats(3, 'h', batch * D);
    mkdirSync(inputs, { recursive: true });
    writeFileSync(join(inputs, 'x.npy'), formatNpy({ shape: [batch, H, W, D], data: x }));
    writeFileSync(join(inputs, 'a.npy'), formatNpy({ shape: [batch, H, W, D], data: a }));
    writeFileSync(join(inputs, 'h.npy'), formatNpy({ shape: [batch, D], data: h }));
    const r = await rnnc('run', file, '--inputs', inputs, '--save', save, '--mode', 'reference', '--seed', '9', '--json');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ grid: { H, W }, batch, dims: { D }, sources: { x: join(inputs, 'x.npy'), a: join(inputs, 'a.npy'), b: 'random', h: join(inputs, 'h.npy') } });
    expect(report.warnings).toEqual([`no b.npy in ${inputs}: using seeded random values for input \`b\` (seed 9)`]);
    const y = await readNpy(join(save, 'y.npy'));
    const final = await readNpy(join(save, 'h.final.npy'));
    expect([y.shape, final.shape]).toEqual([[batch, H, W, D], [batch, D]]);
    const m = frontEnd(text).module!;
    const b = uniformFloats(9, 'input:b', batch * H * W * D);
    const want = interpret(m, { batch, T: H * W, sizes: { D }, grid: { H, W } }, { inputs: { x, a, b }, params: {}, initial: { h } });
    expect(Array.from(y.data)).toEqual(Array.from(Float32Array.from(want.outputs['y']!)));
    expect(Array.from(final.data)).toEqual(Array.from(Float32Array.from(want.final['h']!)));
    // A file that disagrees with --grid, and one of the time layout's rank, are the user's to fix (exit 1).
    const wrong = await rnnc('run', file, '--inputs', inputs, '--grid', '3,4', '--mode', 'reference');
    expect([wrong.code, wrong.stderr]).toEqual([1, expect.stringMatching(/x\.npy has shape \(2, 3, 5, 2\), but input `x` is \[batch, H, W, D\] with W = 4 \(--grid\)/)]);
    writeFileSync(join(inputs, 'x.npy'), formatNpy({ shape: [batch, H * W, D], data: x }));
    const rank = await rnnc('run', file, '--inputs', inputs, '--mode', 'reference');
    expect([rank.code, rank.stderr]).toEqual([1, expect.stringMatching(/x\.npy has shape \(2, 15, 2\), but input `x` of the grid cell ssm2d is \[batch, H, W, D\]: 4 axes/)]);
    noStackTrace(rank.stderr);
  });

  it.each([
    [['--dim', 'D=2'], /give its rows and columns with --grid H,W/],
    [['--grid', '0,4', '--dim', 'D=2'], /--grid must be H,W/],
    [['--grid', '2,2', '--T', '4', '--dim', 'D=2'], /--T does not go with a grid cell: a grid has no time axis/],
    [['--grid', '2,2', '--lengths', 'random', '--dim', 'D=2'], /--lengths does not go with a grid cell: every position of a grid runs/],
    [['--grid', '2,2', '--grad', '--dim', 'D=2'], /--grad does not go with a grid cell: the gradients of a grid cell are not built/],
    [['--grid', '2,2', '--segment', '2', '--dim', 'D=2'], /--segment does not go with --mode seq on a grid cell: .*the wavefront kernel runs the whole grid at once/],
    [['--grid', '2,2', '--mode', 'reference', '--verify', '--dim', 'D=2'], /--mode reference is the reference/],
    [['--grid', '2,2', '--mode', 'bogus', '--dim', 'D=2'], /--mode must be one of seq, scan, chunk, auto, reference for a grid cell, got 'bogus'/],
    [['--mode', 'newton', '--dim', 'D=2'], /RNN0512: ssm2d is a grid cell: Newton iterations run over one time axis, so --mode newton cannot run it/],
  ])('run %j is a usage error with the reason (exit 2)', async (args, message) => {
    const r = await rnnc('run', file, ...args);
    expect([r.code, r.stderr]).toEqual([2, expect.stringMatching(message)]);
    noStackTrace(r.stderr);
  });

  it('--mode scan and chunk refuse a cell that reads both neighbours, before any GPU starts (exit 1)', async () => {
    for (const mode of ['scan', 'chunk']) {
      const r = await rnnc('run', file, '--grid', '2,2', '--mode', mode, '--dim', 'D=2');
      expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(new RegExp(`ssm2d cannot take --mode ${mode}: ssm2d reads both neighbours .*the wavefront kernel does \\(--mode seq\\)`))]);
    }
  });

  it('--precision f16-storage is refused for the wavefront kernel (exit 1)', async () => {
    const r = await rnnc('run', file, '--grid', '2,2', '--precision', 'f16-storage', '--dim', 'D=2');
    expect([r.code, r.stderr]).toEqual([1, expect.stringMatching(/RNN0802: ssm2d cannot take --precision f16-storage: the wavefront kernel of a grid cell keeps its buffers in f32/)]);
  });

  it('a cell over time refuses --grid and --mode reference', async () => {
    for (const args of [['--grid', '2,2'], ['--mode', 'reference']]) {
      const r = await rnnc('run', 'examples/lstm.rnn', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is for a grid cell \(`rnn lstm grid`\); lstm runs over time/);
    }
  });

  it('check prints the analysis per axis; compile writes the wavefront kernel, its manifest and host module', async () => {
    const check = await rnnc('check', file);
    expect(check.code).toBe(0);
    expect(check.stderr).toContain('ok — rnn ssm2d grid');
    expect(check.stderr).toContain('  grid    rows H and columns W replace time; the wavefront kernel runs it (`rnnc run FILE --grid H,W`)\n');
    expect(check.stderr).toContain('  form    wavefront: affine in both neighbours');
    const json = JSON.parse((await rnnc('check', file, '--json')).stdout);
    expect(json.grid).toMatchObject({ form: 'wavefront', scan: false });
    const out = join(dir, 'out');
    const compile = await rnnc('compile', file, '--dim', 'D=2', '-o', out);
    expect([compile.code, compile.stderr]).toEqual([0, `rnnc: wrote ${join(out, 'ssm2d.wgsl')}, ${join(out, 'ssm2d.json')}, ${join(out, 'ssm2d.ts')}\n`]);
    expect(readFileSync(join(out, 'ssm2d.wgsl'), 'utf8')).toMatch(/^\/\/ ssm2d: wavefront kernel of a grid cell/);
    expect(JSON.parse(readFileSync(join(out, 'ssm2d.json'), 'utf8'))).toMatchObject({ mode: 'seq', kernelKind: 'wavefront', inputs: [{ name: 'x', shape: ['batch', 'H', 'W', 2] }, {}, {}] });
    expect(readFileSync(join(out, 'ssm2d.ts'), 'utf8')).toContain('export async function runSsm2d(device: GPUDevice, run: Ssm2dRun): Promise<Ssm2dResult>');
    const scan = await rnnc('compile', file, '--dim', 'D=2', '--mode', 'scan', '-o', join(dir, 'out-scan'));
    expect([scan.code, scan.stderr]).toEqual([1, expect.stringMatching(/ssm2d cannot take --mode scan: ssm2d is a grid cell, and the scan kernels run one time axis/)]);
    noStackTrace(scan.stderr);
  });

  it('explain --after lower prints the grid module; --after plan the wavefront plan', async () => {
    const r = await rnnc('explain', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rnn ssm2d grid');
    expect(r.stdout).toContain('load state.old.left h[d]');
    const p = await rnnc('explain', file, '--after', 'plan', '--dim', 'D=2');
    expect(p.code).toBe(0);
    expect(p.stdout).toMatch(/wavefront kernel runs the anti-diagonals/);
  });
});
