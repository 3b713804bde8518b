// The command line on a grid cell (issue 18): `rnnc run --grid H,W` runs it on the reference
// interpreter (no grid kernel yet) and prints the checksums of what the interpreter gives on the same
// seeded data; check, explain and compile say what they can; every flag a grid run does not take is
// refused with the reason, and a time cell refuses --grid. In-process, no GPU.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { assembleRunData } from '../../src/driver/inputs.js';
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

afterEach(() => {
  process.exitCode = undefined;
});

describe('rnnc on a grid cell', () => {
  it('run --grid H,W: the reference interpreter on seeded data, [batch, H, W, ...] outputs', async () => {
    const r = await rnnc('run', file, '--grid', '3,7', '--batch', '2', '--dim', 'D=3', '--seed', '5', '--json');
    expect([r.code, r.stderr]).toEqual([0, '']);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: true, name: 'ssm2d', mode: 'reference', grid: { H: 3, W: 7 }, batch: 2, dims: { D: 3 }, seed: 5 });
    // The same data through the interpreter directly.
    const m = frontEnd(text).module!;
    const { data } = assembleRunData(m, { D: 3 }, { batch: 2, T: 21 }, 5, undefined);
    const want = interpret(m, { batch: 2, T: 21, sizes: { D: 3 }, grid: { H: 3, W: 7 } }, { inputs: data.inputs, params: data.params });
    const sum = (a: Float64Array) => Float32Array.from(a).reduce((s, v) => s + v, 0);
    expect(report.outputs[0]).toMatchObject({ name: 'y', shape: [2, 3, 7, 3] });
    expect(report.outputs[0].sum).toBeCloseTo(sum(want.outputs['y']!), 5);
    expect(report.finalStates[0]).toMatchObject({ name: 'h', shape: [2, 3] });
    expect(report.finalStates[0].sum).toBeCloseTo(sum(want.final['h']!), 5);
  });

  it('run prints a line that says it ran on the reference, then the checksums', async () => {
    const r = await rnnc('run', file, '--grid', '1,5', '--dim', 'D=2');
    expect(r.code).toBe(0);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/: ssm2d on the reference interpreter \(float64; no grid kernel yet\) — grid 1 x 5, batch 1, D=2, seed 0/);
    expect(lines[1]).toMatch(/^output\s+y\s+\[1, 1, 5, 2\]/);
    expect(lines[2]).toMatch(/^final\s+h\s+\[1, 2\]/);
  });

  it.each([
    [['--dim', 'D=2'], /give its rows and columns with --grid H,W/],
    [['--grid', '0,4', '--dim', 'D=2'], /--grid must be H,W/],
    [['--grid', '2,2', '--mode', 'scan', '--dim', 'D=2'], /RNN0512: ssm2d is a grid cell: its kernels are not built yet, so --mode scan cannot run it/],
    [['--grid', '2,2', '--verify', '--save', dir, '--dim', 'D=2'], /--save, --verify do not go with a grid cell yet/],
    [['--mode', 'newton', '--dim', 'D=2'], /RNN0512: ssm2d is a grid cell: its kernels are not built yet, so --mode newton cannot run it/],
  ])('run %j is a usage error with the reason', async (args, message) => {
    const r = await rnnc('run', file, ...args);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
    noStackTrace(r.stderr);
  });

  it('a cell over time refuses --grid and --mode reference', async () => {
    for (const args of [['--grid', '2,2'], ['--mode', 'reference']]) {
      const r = await rnnc('run', 'examples/lstm.rnn', ...args);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is for a grid cell \(`rnn lstm grid`\); lstm runs over time/);
    }
  });

  it('check prints the analysis per axis (exit 0); compile refuses with RNN0512 (exit 1)', async () => {
    const check = await rnnc('check', file);
    expect(check.code).toBe(0);
    expect(check.stderr).toContain('ok — rnn ssm2d grid');
    expect(check.stderr).toContain('  form    wavefront: affine in both neighbours');
    const json = JSON.parse((await rnnc('check', file, '--json')).stdout);
    expect(json.grid).toMatchObject({ form: 'wavefront', scan: false });
    const compile = await rnnc('compile', file, '--dim', 'D=2', '-o', join(dir, 'out'));
    expect(compile.code).toBe(1);
    expect(compile.stderr).toMatch(/rnnc: RNN0512: ssm2d is a grid cell .*its kernels are not built yet, so it cannot compile; only the reference interpreter runs it \(`rnnc run FILE --grid H,W`\)/);
    noStackTrace(compile.stderr);
  });

  it('explain --after lower prints the grid module', async () => {
    const r = await rnnc('explain', file);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('rnn ssm2d grid');
    expect(r.stdout).toContain('load state.old.left h[d]');
  });
});
