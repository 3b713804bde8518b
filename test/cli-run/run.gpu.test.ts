// `rnnc run` end to end on Dawn: results and checksums, --json, --verify (passing and failing),
// --inputs with fallbacks and --save, and the failures a user can cause (bad .npy files, a size over
// the adapter's limits, no driver), each a clear message with exit 1 and no stack trace.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { captureCli } from './rnnc.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { formatNpy, readNpy } from '../../src/driver/npy.js';

const rnnc = captureCli();

const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+/);

const mamba = frontEnd(readFileSync('examples/mamba_s6.rnn', 'utf8')).module!;
const mambaSizes = bindDims(mamba);
const tempDir = () => mkdtempSync(join(tmpdir(), 'rnnc-run-'));

describe('rnnc run', () => {
  it('prints shapes and checksums and verifies against the reference', async () => {
    const r = await rnnc('run', 'examples/mamba_s6.rnn', '--verify');
    expect(r.code).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^examples\/mamba_s6\.rnn: mamba_s6 on .+ — seq kernel, batch 4, T 64, D=8, N=4, seed 0, lengths full$/);
    const sci = String.raw`[ -]\d\.\d{6}e[+-]\d\d`;
    expect(lines[1]).toMatch(new RegExp(`^output  y  \\[4, 64, 8\\]  sum ${sci}  sum\\|\\.\\| ${sci}$`));
    expect(lines[2]).toMatch(new RegExp(`^final   h  \\[4, 8, 4\\]   sum ${sci}  sum\\|\\.\\| ${sci}$`));
    // The checksum is the GPU's: it agrees with the reference's sum to float32 accuracy.
    const ref = interpret(mamba, { batch: 4, T: 64, sizes: mambaSizes }, randomRunData(mamba, { batch: 4, T: 64, sizes: mambaSizes }, 0));
    const sum = Number(/sum\s+(\S+)/.exec(lines[1]!)![1]);
    expect(Math.abs(sum - ref.outputs['y']!.reduce((a, b) => a + b, 0))).toBeLessThan(1e-4);
    expect(lines[3]).toContain('tolerance 0.0001');
    expect(lines[4]).toMatch(/^ {2}output {2}y {2}max abs \S+ {2}max rel \S+ {2}error \S+ {2}ok$/);
    expect(lines[5]).toMatch(/^ {2}final {3}h .* ok$/);
    expect(r.stderr).toBe('');
  });

  it('--json with random lengths; --mode auto runs the sequential kernel for a nonlinear cell', async () => {
    const r = await rnnc('run', 'examples/lstm.rnn', '--json', '--batch', '3', '--T', '7', '--lengths', 'random', '--seed', '5', '--verify', '--mode', 'auto');
    expect(r.code).toBe(0);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ file: 'examples/lstm.rnn', ok: true, name: 'lstm', mode: 'seq', batch: 3, T: 7, dims: { X: 4, H: 8 }, seed: 5, lengths: Array.from(randomLengths(3, 7, 5)) });
    expect(report.sources).toMatchObject({ x: 'random', Wi: 'random', h: 'initial value', c: 'initial value' });
    expect(report.outputs.map((o: { name: string; shape: number[] }) => [o.name, o.shape])).toEqual([['y', [3, 7, 8]]]);
    expect(report.finalStates.map((o: { name: string; shape: number[] }) => [o.name, o.shape])).toEqual([['h', [3, 8]], ['c', [3, 8]]]);
    expect(report.verify.tensors.map((t: { name: string; ok: boolean; maxErr: number }) => [t.name, t.ok, t.maxErr < 1e-6])).toEqual([['y', true, true], ['h', true, true], ['c', true, true]]);
    expect(r.stderr).toBe('');
  });

  it('--verify fails with exit 1 when the tolerance is not met', async () => {
    const r = await rnnc('run', 'examples/mamba_s6.rnn', '--T', '5', '--verify', '--tolerance', '1e-12');
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^ {2}output {2}y .* FAIL$/m);
    expect(r.stdout).toMatch(/^ {2}y\[\d+\]: gpu \S+, reference \S+$/m);
    expect(r.stderr).toBe('rnnc: verification failed: the GPU results differ from the reference by more than 1e-12\n');
  });

  it('--inputs: files where given (batch and T from x.npy), seeded values otherwise; --save writes the results', async () => {
    const dir = tempDir();
    const save = join(dir, 'results');
    const [batch, T] = [2, 5];
    const own = randomRunData(mamba, { batch, T, sizes: mambaSizes }, 99, { initial: true });
    writeFileSync(join(dir, 'x.npy'), formatNpy({ shape: [batch, T, 8], data: own.inputs['x'] as Float32Array }));
    writeFileSync(join(dir, 'A_log.npy'), formatNpy({ shape: [8, 4], data: own.params['A_log'] as Float32Array }));
    writeFileSync(join(dir, 'h.npy'), formatNpy({ shape: [batch, 8, 4], data: own.initial!['h'] as Float32Array }));
    writeFileSync(join(dir, 'X.npy'), formatNpy({ shape: [1], data: new Float32Array(1) }));

    const r = await rnnc('run', 'examples/mamba_s6.rnn', '--inputs', dir, '--save', save, '--verify', '--json');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(
      [
        `rnnc: warning: ignoring ${join(dir, 'X.npy')}: mamba_s6 has no input, param or state \`X\`; did you mean x.npy?`,
        `rnnc: warning: no dt.npy in ${dir}: using seeded random values for input \`dt\` (seed 0)`,
        `rnnc: warning: no B.npy in ${dir}: using seeded random values for input \`B\` (seed 0)`,
        `rnnc: warning: no C.npy in ${dir}: using seeded random values for input \`C\` (seed 0)`,
        `rnnc: warning: no Dskip.npy in ${dir}: using seeded random values for param \`Dskip\` (seed 0)`,
        '',
      ].join('\n'),
    );
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ batch, T, verify: { ok: true }, sources: { x: join(dir, 'x.npy'), A_log: join(dir, 'A_log.npy'), h: join(dir, 'h.npy'), dt: 'random' } });
    expect(report.saved).toEqual([join(save, 'y.npy'), join(save, 'h.final.npy')]);
    expect(report.warnings).toEqual(r.stderr.trimEnd().split('\n').map((l) => l.replace(/^rnnc: warning: /, '')));

    // The saved results are those of the given data (and seed 0 for the rest).
    const seeded = randomRunData(mamba, { batch, T, sizes: mambaSizes }, 0);
    const ref = interpret(mamba, { batch, T, sizes: mambaSizes }, { inputs: { ...seeded.inputs, x: own.inputs['x']! }, params: { ...seeded.params, A_log: own.params['A_log']! }, initial: own.initial! });
    const y = await readNpy(join(save, 'y.npy'));
    const h = await readNpy(join(save, 'h.final.npy'));
    expect(y.shape).toEqual([batch, T, 8]);
    expect(h.shape).toEqual([batch, 8, 4]);
    y.data.forEach((v, i) => expect(Math.abs(v - ref.outputs['y']![i]!)).toBeLessThan(1e-5));
    h.data.forEach((v, i) => expect(Math.abs(v - ref.final['h']![i]!)).toBeLessThan(1e-5));
  });

  it('a .npy of the wrong shape or dtype is a clear error, exit 1', async () => {
    const dir = tempDir();
    writeFileSync(join(dir, 'x.npy'), formatNpy({ shape: [2, 5, 9], data: new Float32Array(90) }));
    const shape = await rnnc('run', 'examples/mamba_s6.rnn', '--inputs', dir);
    expect(shape.code).toBe(1);
    expect(shape.stderr).toBe(`rnnc: ${join(dir, 'x.npy')} has shape (2, 5, 9), but input \`x\` is [batch, T, D] = (2, 5, 8); if the file is right, pass --dim D=9\n`);

    // float64: the float32 file's header with '<f8', and twice the data.
    const f32 = formatNpy({ shape: [2, 5, 8], data: new Float32Array(80) });
    const header = new TextDecoder('latin1').decode(f32.subarray(0, f32.length - 320)).replace("'<f4'", "'<f8'");
    writeFileSync(join(dir, 'x.npy'), Buffer.concat([Buffer.from(header, 'latin1'), Buffer.alloc(640)]));
    const dtype = await rnnc('run', 'examples/mamba_s6.rnn', '--inputs', dir);
    expect(dtype.code).toBe(1);
    expect(dtype.stderr).toBe(`rnnc: ${join(dir, 'x.npy')}: dtype '<f8' is not supported: rnnc reads little-endian float32 ('<f4') and float16 ('<f2') only; convert with arr.astype('<f4')\n`);
    noStackTrace(shape.stderr + dtype.stderr);
  });

  it('a dim too large for the adapter names the buffer, the tensor, the limit and the flag (batch and T are cut into segments instead)', async () => {
    const r = await rnnc('run', 'examples/mamba_s6.rnn', '--dim', 'D=10000000', '--batch', '1', '--T', '1');
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(
      /^rnnc: the seq kernel's `weights` buffer would need 200000000 bytes \(190\.7 MiB\), more than this adapter's (maxBufferSize|maxStorageBufferBindingSize) of \d+ bytes \(\d+\.\d MiB\); its largest tensor is `A_log` \[D=10000000, N=4\], 160000000 bytes \(152\.6 MiB\)\. Lower --dim D or --dim N\.\n$/,
    );
    expect(r.stdout).toBe('');
  });

  it('--segment runs the time axis in pieces, the state carried between them: the same results as one piece', async () => {
    const args = ['run', 'examples/gru.rnn', '--batch', '3', '--T', '100', '--lengths', 'random', '--json'];
    const one = JSON.parse((await rnnc(...args)).stdout);
    const r = await rnnc(...args, '--segment', '30');
    expect(r.code).toBe(0);
    const split = JSON.parse(r.stdout);
    expect(one.segments).toEqual({ steps: 100, sequences: 3, count: 1 });
    expect(split.segments).toEqual({ steps: 30, sequences: 3, count: 4 });
    // The sequential kernel does the same float operations in the same order: equal checksums.
    expect(split.outputs).toEqual(one.outputs);
    expect(split.finalStates).toEqual(one.finalStates);
  });

  it('--deterministic plans the scan without the chained pass (whose look-back rounds by timing) and verifies', async () => {
    const args = ['run', 'bench/cells/cumsum.rnn', '--mode', 'scan', '--batch', '1', '--T', '8192', '--verify', '--json'];
    const chained = JSON.parse((await rnnc(...args)).stdout);
    const fixed = await rnnc(...args, '--deterministic');
    expect(fixed.code).toBe(0);
    const report = JSON.parse(fixed.stdout);
    expect(chained.plan.why).toMatch(/one chained pass/);
    expect(report.plan.why).not.toMatch(/chained/);
    expect(report.verify.ok).toBe(true);
  });

  it('no GPU driver: the install hint, exit 1', async () => {
    const saved = process.env['VK_ICD_FILENAMES'];
    process.env['VK_ICD_FILENAMES'] = '/nonexistent.json';
    try {
      const r = await rnnc('run', 'examples/mamba_s6.rnn');
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('rnnc: cannot run on a GPU: no WebGPU adapter: Dawn found no usable Vulkan driver. Install one of:');
      expect(r.stderr).toContain('mesa-vulkan-drivers');
      noStackTrace(r.stderr);
    } finally {
      if (saved === undefined) delete process.env['VK_ICD_FILENAMES'];
      else process.env['VK_ICD_FILENAMES'] = saved;
    }
  });

  it('--mode scan of a nonlinear cell exits 1; a bad --lengths exits 2', async () => {
    const scan = await rnnc('run', 'examples/lstm.rnn', '--mode', 'scan');
    expect(scan.code).toBe(1);
    expect(scan.stderr).toBe(
      'rnnc: lstm cannot take --mode scan: `h` is not an associative recurrence: `h` is read inside `sigmoid`; `c` is not an associative recurrence: the update of `c` reads `h` inside `sigmoid` (see rnnc check); run it with --mode seq or --mode auto\n',
    );
    const lengths = await rnnc('run', 'examples/mamba_s6.rnn', '--lengths', 'some');
    expect(lengths.code).toBe(2);
    expect(lengths.stderr).toBe("rnnc: --lengths must be full or random, got 'some'\n");
  });

  it('--mode chunk runs the chunked kernel of a matrix-affine cell and verifies; it refuses a diagonal one; a bad mode exits 2', async () => {
    const r = await rnnc('run', 'examples/deltanet.rnn', '--mode', 'chunk', '--chunk', '4', '--batch', '3', '--T', '13', '--lengths', 'random', '--verify');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('chunk kernel, batch 3, T 13');
    expect(r.stdout).toMatch(/output +o .* ok\n/);
    expect(r.stdout).toMatch(/final +S .* ok\n/);
    const mambaChunk = await rnnc('run', 'examples/mamba_s6.rnn', '--mode', 'chunk');
    expect(mambaChunk.code).toBe(1);
    noStackTrace(mambaChunk.stderr);
    const bad = await rnnc('run', 'examples/deltanet.rnn', '--mode', 'wavefront');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toBe("rnnc: --mode must be one of seq, scan, chunk, auto, newton, got 'wavefront'\n");
  });
});

describe('rnnc run in a real process', () => {
  // src/cli/main.ts through tsx, the way bin/rnnc.js runs the compiled dist/.
  const runProcess = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));", ...args], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, NO_COLOR: '1' },
    });

  // One process (about 3 s of CPU to load the compiler, then Dawn): the run's exit status, and the
  // process ends by itself with its Dawn host. Failing runs' exit codes are checked in-process above.
  it('verifies and exits by itself', () => {
    const ok = runProcess('run', 'examples/gru.rnn', '--T', '9', '--verify');
    expect(ok.signal).toBeNull();
    expect(ok.status).toBe(0);
    expect(ok.stdout).toMatch(/^ {2}output {2}y .* ok$/m);
  });
});
