// `--precision` through the CLI: run (verify against tolerance + 2^-11 for outputs, '<f2' outputs
// saved, the choice in --json), check --precision f16 (the explanation), compile (the manifest says
// f16) the usage errors.
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureCli } from '../cli-run/rnnc.js';
import { parseNpy } from '../../src/driver/npy.js';
import { roundHalf } from '../../src/compiler/plan/half.js';

const rnnc = captureCli();

describe('--precision', () => {
  it('run --precision f16-storage verifies, reports and saves f16 outputs', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnc-f16-'));
    const r = await rnnc('run', 'examples/lru.rnn', '--mode', 'scan', '--T', '97', '--lengths', 'random', '--precision', 'f16-storage', '--verify', '--save', dir, '--json');
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report.precision).toMatchObject({ requested: 'f16-storage', storage: 'f16', arithmetic: 'f32' });
    expect(report.verify.ok).toBe(true);
    expect(report.verify.outputTolerance).toBeCloseTo(1e-4 + 2 ** -11, 12);
    expect(report.verify.criterion).toContain('outputs stored as f16');
    const y = parseNpy(readFileSync(join(dir, 'y.npy')));
    expect(y.dtype).toBe('<f2');
    expect(y.shape).toEqual([4, 97, 4]);
    expect(parseNpy(readFileSync(join(dir, 'x.final.npy'))).dtype).toBeUndefined();
    // What was saved is what the kernel stored: f16 values.
    expect(y.data.every((x) => roundHalf(x) === x)).toBe(true);
    expect(y.data.some((x) => x !== 0)).toBe(true);
  });

  it('run --precision f32 stays as before (no precision in the report)', async () => {
    const r = await rnnc('run', 'examples/lstm.rnn', '--T', '5', '--json');
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout).precision).toBeUndefined();
  });

  it('check --precision f16 explains the choice', async () => {
    const exact = await rnnc('check', 'examples/minmax.rnn', '--precision', 'f16');
    expect(exact.code).toBe(0);
    expect(exact.stderr).toContain('precision f16 -> f16-storage: ');
    expect(exact.stderr).toContain('every operation of the step is max, min, a comparison or a select, exact in any precision');
    const rounds = await rnnc('check', 'examples/lstm.rnn', '--precision', 'f16', '--json');
    expect(JSON.parse(rounds.stdout).plan.precision.why).toContain('f16 arithmetic is not safe here');
    const plain = await rnnc('check', 'examples/lstm.rnn');
    expect(plain.stderr).not.toContain('precision');
  });

  it('compile --precision f16-storage writes f16 kernels and a manifest that says so', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnc-f16c-'));
    const r = await rnnc('compile', 'examples/lru.rnn', '--mode', 'scan', '--precision', 'f16-storage', '-o', dir);
    expect(r.code).toBe(0);
    expect(readdirSync(dir)).toContain('lru.scan.json');
    expect(JSON.parse(readFileSync(join(dir, 'lru.scan.json'), 'utf8')).precision).toMatchObject({ storage: 'f16' });
    expect(readFileSync(join(dir, 'lru.scan_steps.wgsl'), 'utf8')).toContain('enable f16;');
  });

  it('refuses a bad value and f16 with --grad (usage errors, exit 2)', async () => {
    const bad = await rnnc('run', 'examples/lru.rnn', '--precision', 'f8');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain("rnnc: --precision must be one of auto, f32, f16-storage, f16, got 'f8'");
    const grad = await rnnc('run', 'examples/lru.rnn', '--precision', 'f16', '--grad');
    expect(grad.code).toBe(2);
    expect(grad.stderr).toContain('rnnc: --precision f16 does not go with --grad');
    const newton = await rnnc('run', 'examples/lstm.rnn', '--mode', 'newton', '--precision', 'f16-storage');
    expect(newton.code).toBe(2);
    expect(newton.stderr).toContain('rnnc: --precision f16-storage does not go with --mode newton');
    const bench = await rnnc('bench', 'examples/lru.rnn', '--precision', 'f16', '--all');
    expect(bench.code).toBe(2);
    expect(bench.stderr).toContain('rnnc: --all does not go with --precision f16');
  });
});
