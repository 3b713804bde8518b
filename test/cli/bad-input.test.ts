// The bad-input corpus of the command line (issue 12: every input gets a clear answer), like the
// diagnostics corpus: each command line below pins its exit code and the first line of stderr (or of
// stdout for --help), the full output is the baseline bad-input.txt beside this file, and a failing
// command must leave the scratch folder exactly as it found it (no partial output files).
//
// Exit codes (README): 0 success; 1 a problem in the input (a .rnn or .npy file, a size or mode the
// cell cannot take, an output folder that cannot be written); 2 a usage error (a flag that is wrong
// whatever the cell: unknown, malformed, out of range, missing) or an internal error.
//
// Runs main() in-process in a scratch folder (its cwd), without a GPU: every case here fails, or
// finishes, before a device is opened (the unit project forbids one). The cases that need an adapter
// are in bad-input.gpu.test.ts; a handful of cases also run as real processes at the end.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';
import { formatNpy } from '../../src/driver/npy.js';

const repo = join(import.meta.dirname, '../..');
const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'rnnc-bad-input-')));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** A .npy file with any header: dtype, order, shape and the number of data bytes. */
function npy(descr: string, shape: number[], dataBytes: number, fortran = false): Uint8Array {
  const dict = `{'descr': '${descr}', 'fortran_order': ${fortran ? 'True' : 'False'}, 'shape': (${shape.join(', ')}${shape.length === 1 ? ',' : ''}), }`;
  const headerLen = Math.ceil((10 + dict.length + 1) / 64) * 64 - 10;
  const header = Buffer.from(dict.padEnd(headerLen - 1, ' ') + '\n', 'latin1');
  const prefix = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0, headerLen & 0xff, headerLen >> 8]);
  return Buffer.concat([prefix, header, Buffer.alloc(dataBytes)]);
}
const f32 = (shape: number[]) => formatNpy({ shape, data: new Float32Array(shape.reduce((a, b) => a * b, 1)) });

// decay: D = 4, one input x[D], one state h[D]; x.npy is [batch, T, D], h.npy [batch, D].
const DECAY = 'rnn decay {\n  dims D = 4\n  input x[D]\n  state h[D] = 0\n  h[d] <- 0.5 * h[d] + x[d]\n  output y[d] = h[d]\n}\n';
const OPEN = 'rnn open {\n  dims D\n  input x[D]\n  state h[D] = 0\n  h[d] <- 0.5 * h[d] + x[d]\n  output y[d] = h[d]\n}\n';

/** The scratch folder: the cells, a regular file, and one --inputs folder per kind of bad .npy. */
const fixtures: Record<string, Uint8Array | string | null> = {
  'decay.rnn': DECAY,
  'open.rnn': OPEN,
  regular: 'a regular file, not a folder\n',
  'inputs/f64/x.npy': npy('<f8', [2, 3, 4], 2 * 3 * 4 * 8),
  'inputs/int32/x.npy': npy('<i4', [2, 3, 4], 2 * 3 * 4 * 4),
  'inputs/big-endian/x.npy': npy('>f4', [2, 3, 4], 2 * 3 * 4 * 4),
  'inputs/fortran/x.npy': npy('<f4', [2, 3, 4], 2 * 3 * 4 * 4, true),
  'inputs/truncated/x.npy': npy('<f4', [2, 3, 4], 10),
  'inputs/too-long/x.npy': npy('<f4', [2, 3, 4], 2 * 3 * 4 * 4 + 4),
  'inputs/junk/x.npy': 'x,y\n1,2\n',
  'inputs/empty-file/x.npy': '',
  'inputs/bad-shape-text/x.npy': npy('<f4', [2, 3, 4], 0).map((b) => (b === '3'.charCodeAt(0) ? '?'.charCodeAt(0) : b)),
  'inputs/wrong-shape/x.npy': f32([2, 3, 5]),
  'inputs/wrong-rank/x.npy': f32([2, 3]),
  'inputs/state-shape/h.npy': f32([2, 5]),
  'inputs/zero-batch/x.npy': f32([0, 3, 4]),
  'inputs/both-states/x.npy': f32([2, 3, 4]),
  'inputs/both-states/h.npy': f32([2, 4]),
  'inputs/both-states/h.final.npy': f32([2, 4]),
  'out-blocked/decay.json/': null,
  'save-blocked/h.final.npy/': null,
};

beforeAll(() => {
  for (const [path, content] of Object.entries(fixtures)) {
    const full = join(scratch, path);
    if (content === null) mkdirSync(full, { recursive: true });
    else {
      mkdirSync(join(full, '..'), { recursive: true });
      writeFileSync(full, content);
    }
  }
  copyFileSync(join(repo, 'examples/mamba_s6.rnn'), join(scratch, 'mamba.rnn'));
  copyFileSync(join(repo, 'test/diagnostics/cases/name_unknown_suggests.rnn'), join(scratch, 'bad.rnn'));
});

/** Every file and folder under the scratch folder, with size and modification time. */
function listing(dir = scratch): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    if (e.isDirectory()) return [`${path}/`, ...listing(path)];
    const s = statSync(path);
    return [`${path} ${s.size} ${s.mtimeMs}`];
  });
}

type Run = CliRun;

async function rnnc(argv: string[]): Promise<Run> {
  return runCli(argv, scratch);
}

/** [name, argv, exit code, first line of stderr ($TMP: the scratch folder), first line of stdout when it matters]. */
type Case = [name: string, argv: string[], exit: 0 | 1 | 2, stderr: string, stdout?: string];

const usage: Case[] = [
  ['no arguments', [], 2, 'Usage: rnnc [options] [command]'],
  ['unknown subcommand', ['frobnicate'], 2, "rnnc: error: unknown command 'frobnicate'"],
  ['unknown option of the program', ['--bogus'], 2, "rnnc: error: unknown option '--bogus'"],
  ['unknown option of a command', ['run', 'decay.rnn', '--bogus'], 2, "rnnc: error: unknown option '--bogus'"],
  ['an option of another command', ['check', 'decay.rnn', '--T', '3'], 2, "rnnc: error: unknown option '--T'"],
  ['missing file argument', ['run'], 2, "rnnc: error: missing required argument 'file'"],
  ['missing files argument', ['check'], 2, "rnnc: error: missing required argument 'files'"],
  ['too many arguments', ['run', 'decay.rnn', 'decay.rnn'], 2, "rnnc: error: too many arguments for 'run'. Expected 1 argument but got 2."],
  ['compile without -o', ['compile', 'decay.rnn'], 2, "rnnc: error: required option '-o, --out <dir>' not specified"],
  ['a flag without its value', ['run', 'decay.rnn', '--T'], 2, "rnnc: error: option '--T <T>' argument missing"],
  ['-o empty', ['compile', 'decay.rnn', '-o', ''], 2, "rnnc: -o needs a path, got ''"],
  ['--inputs empty', ['run', 'decay.rnn', '--inputs', ''], 2, "rnnc: --inputs needs a path, got ''"],
  ['--save empty', ['run', 'decay.rnn', '--save', ''], 2, "rnnc: --save needs a path, got ''"],
  ['--dim D=0', ['run', 'decay.rnn', '--dim', 'D=0'], 2, "rnnc: --dim expects NAME=SIZE with SIZE a positive integer, got 'D=0'"],
  ['--dim D=abc', ['run', 'decay.rnn', '--dim', 'D=abc'], 2, "rnnc: --dim expects NAME=SIZE with SIZE a positive integer, got 'D=abc'"],
  ['--dim D=-1', ['compile', 'decay.rnn', '-o', 'out-dim', '--dim', 'D=-1'], 2, "rnnc: --dim expects NAME=SIZE with SIZE a positive integer, got 'D=-1'"],
  ['--dim without a size', ['explain', 'decay.rnn', '--after', 'plan', '--dim', 'D'], 2, "rnnc: --dim expects NAME=SIZE with SIZE a positive integer, got 'D'"],
  ['--dim =3', ['run', 'decay.rnn', '--dim', '=3'], 2, "rnnc: --dim expects NAME=SIZE with SIZE a positive integer, got '=3'"],
  ['--dim given twice', ['run', 'open.rnn', '--dim', 'D=3', '--dim', 'D=4'], 2, "rnnc: --dim D is given twice ('D=3', then 'D=4'); give it once"],
  ['a flag error before a file error', ['run', 'missing.rnn', '--dim', 'D=0'], 2, "rnnc: --dim expects NAME=SIZE with SIZE a positive integer, got 'D=0'"],
  ['unknown mode (run)', ['run', 'decay.rnn', '--mode', 'fast'], 2, "rnnc: --mode must be one of seq, scan, chunk, auto, newton, got 'fast'"],
  ['unknown mode (compile)', ['compile', 'decay.rnn', '-o', 'out-mode', '--mode', 'fast'], 2, "rnnc: --mode must be one of seq, scan, chunk, auto, newton, got 'fast'"],
  ['unknown mode (explain)', ['explain', 'decay.rnn', '--after', 'plan', '--mode', 'SEQ'], 2, "rnnc: --mode must be one of seq, scan, chunk, auto, got 'SEQ'"],
  ['unknown pass', ['explain', 'decay.rnn', '--after', 'emit'], 2, "rnnc: --after must be one of parse, check, lower, analyse, grad, plan, got 'emit'"],
  ['--T -1', ['run', 'decay.rnn', '--T', '-1'], 2, "rnnc: --T must be a positive integer, got '-1'"],
  ['--T 0', ['run', 'decay.rnn', '--T', '0'], 2, "rnnc: --T must be a positive integer, got '0'"],
  ['--T 1.5', ['run', 'decay.rnn', '--T', '1.5'], 2, "rnnc: --T must be a positive integer, got '1.5'"],
  ['--T 1e3', ['run', 'decay.rnn', '--T', '1e3'], 2, "rnnc: --T must be a positive integer, got '1e3'"],
  ['--T past 2^31 - 1', ['run', 'decay.rnn', '--T', '99999999999999999999'], 2, "rnnc: --T must be at most 2147483647, got '99999999999999999999'"],
  ['--batch 0', ['run', 'decay.rnn', '--batch', '0'], 2, "rnnc: --batch must be a positive integer, got '0'"],
  ['--batch abc', ['run', 'decay.rnn', '--batch', 'abc'], 2, "rnnc: --batch must be a positive integer, got 'abc'"],
  ['--chunk 0', ['compile', 'decay.rnn', '-o', 'out-chunk', '--chunk', '0'], 2, "rnnc: --chunk must be a positive integer, got '0'"],
  ['--seed -1', ['run', 'decay.rnn', '--seed', '-1'], 2, "rnnc: --seed must be an integer from 0 to 4294967295, got '-1'"],
  ['--seed abc', ['run', 'decay.rnn', '--seed', 'abc'], 2, "rnnc: --seed must be an integer from 0 to 4294967295, got 'abc'"],
  ['--seed 1.5', ['run', 'decay.rnn', '--seed', '1.5'], 2, "rnnc: --seed must be an integer from 0 to 4294967295, got '1.5'"],
  ['--seed past 32 bits', ['run', 'decay.rnn', '--seed', '4294967296'], 2, "rnnc: --seed must be an integer from 0 to 4294967295, got '4294967296'"],
  ['--lengths some', ['run', 'decay.rnn', '--lengths', 'some'], 2, "rnnc: --lengths must be full or random, got 'some'"],
  ['--tolerance 0', ['run', 'decay.rnn', '--tolerance', '0'], 2, "rnnc: --tolerance must be a positive number, got '0'"],
  ['--tolerance abc', ['run', 'decay.rnn', '--verify', '--tolerance', 'abc'], 2, "rnnc: --tolerance must be a positive number, got 'abc'"],
  ['bench without a file', ['bench'], 2, 'rnnc: bench needs a .rnn file or --all'],
  ['bench --repeats x', ['bench', 'decay.rnn', '--repeats', 'x'], 2, "rnnc: --repeats must be a positive integer, got 'x'"],
  ['bench --batches 0', ['bench', 'decay.rnn', '--batches', '1,0'], 2, "rnnc: --batches must be positive integers separated by commas, got '1,0'"],
  ['bench --min-log2-t abc', ['bench', 'decay.rnn', '--min-log2-t', 'abc'], 2, "rnnc: --min-log2-t must be an integer from 1 to 30, got 'abc'"],
  ['bench empty range', ['bench', 'decay.rnn', '--min-log2-t', '12', '--max-log2-t', '10'], 2, 'rnnc: --min-log2-t (12) is more than --max-log2-t (10): no lengths to run'],
];

const input: Case[] = [
  ['missing file (run)', ['run', 'missing.rnn'], 1, 'rnnc: cannot read missing.rnn: no such file'],
  ['missing file (compile)', ['compile', 'missing.rnn', '-o', 'out-missing'], 1, 'rnnc: cannot read missing.rnn: no such file'],
  ['missing file (explain)', ['explain', 'missing.rnn'], 1, 'rnnc: cannot read missing.rnn: no such file'],
  ['missing file (check)', ['check', 'missing.rnn'], 1, 'rnnc: cannot read missing.rnn: no such file'],
  ['missing file (bench)', ['bench', 'missing.rnn'], 1, 'rnnc: cannot read missing.rnn: no such file'],
  ['a directory instead of a file (run)', ['run', 'inputs'], 1, 'rnnc: cannot read inputs: is a directory'],
  ['a directory instead of a file (compile)', ['compile', 'inputs', '-o', 'out-dir'], 1, 'rnnc: cannot read inputs: is a directory'],
  ['an empty file name', ['run', ''], 1, 'rnnc: cannot read : no such file'],
  ['a file with errors', ['run', 'bad.rnn'], 1, 'bad.rnn:6:11: error RNN0201: unknown name `gaet`'],
  ['a file with errors (compile)', ['compile', 'bad.rnn', '-o', 'out-bad'], 1, 'bad.rnn:6:11: error RNN0201: unknown name `gaet`'],
  ['--dim NOPE=3', ['run', 'decay.rnn', '--dim', 'NOPE=3'], 1, 'rnnc: unknown dim `NOPE`; decay has D'],
  ['a dim without a size', ['compile', 'open.rnn', '-o', 'out-open'], 1, 'rnnc: dim `D` has no size: give one with --dim D=SIZE or in the spec (`dims D = 16`)'],
  ['--dim past 2^31 - 1', ['compile', 'open.rnn', '-o', 'out-big', '--dim', 'D=4294967296'], 1, 'rnnc: dim `D` is 4294967296, more than the largest size a kernel can index (2147483647)'],
  ['a mode the cell cannot take', ['run', 'mamba.rnn', '--mode', 'chunk'], 1, 'rnnc: mamba_s6 cannot take --mode chunk: `h` is not a dense or low-rank (+, ×) transition (the chunked kernels are for matrix-affine updates; see rnnc check); run it with --mode seq or --mode auto'],
  ['--inputs missing', ['run', 'decay.rnn', '--inputs', 'nowhere'], 1, 'rnnc: cannot read --inputs nowhere: no such directory'],
  ['--inputs a regular file', ['run', 'decay.rnn', '--inputs', 'regular'], 1, 'rnnc: cannot read --inputs regular: not a directory'],
  ['.npy float64', ['run', 'decay.rnn', '--inputs', 'inputs/f64'], 1, "rnnc: inputs/f64/x.npy: dtype '<f8' is not supported: rnnc reads little-endian float32 ('<f4') and float16 ('<f2') only; convert with arr.astype('<f4')"],
  ['.npy int32', ['run', 'decay.rnn', '--inputs', 'inputs/int32'], 1, "rnnc: inputs/int32/x.npy: dtype '<i4' is not supported: rnnc reads little-endian float32 ('<f4') and float16 ('<f2') only; convert with arr.astype('<f4')"],
  ['.npy big-endian', ['run', 'decay.rnn', '--inputs', 'inputs/big-endian'], 1, "rnnc: inputs/big-endian/x.npy: dtype '>f4' is not supported: rnnc reads little-endian float32 ('<f4') and float16 ('<f2') only; convert with arr.astype('<f4')"],
  ['.npy Fortran order', ['run', 'decay.rnn', '--inputs', 'inputs/fortran'], 1, 'rnnc: inputs/fortran/x.npy: the array is in Fortran (column-major) order; save it C-contiguous (np.ascontiguousarray) instead'],
  ['.npy truncated data', ['run', 'decay.rnn', '--inputs', 'inputs/truncated'], 1, 'rnnc: inputs/truncated/x.npy: shape (2, 3, 4) needs 96 data bytes but the file has 10 (truncated?)'],
  ['.npy extra data', ['run', 'decay.rnn', '--inputs', 'inputs/too-long'], 1, 'rnnc: inputs/too-long/x.npy: shape (2, 3, 4) needs 96 data bytes but the file has 100'],
  ['.npy not numpy at all', ['run', 'decay.rnn', '--inputs', 'inputs/junk'], 1, 'rnnc: inputs/junk/x.npy: not a NumPy .npy file (bad magic; expected \\x93NUMPY)'],
  ['.npy empty file', ['run', 'decay.rnn', '--inputs', 'inputs/empty-file'], 1, 'rnnc: inputs/empty-file/x.npy: the file is empty (0 bytes), not a NumPy .npy file'],
  ['.npy bad shape in the header', ['run', 'decay.rnn', '--inputs', 'inputs/bad-shape-text'], 1, "rnnc: inputs/bad-shape-text/x.npy: bad dimension '?' in shape (2, ?, 4)"],
  ['.npy of the wrong shape', ['run', 'decay.rnn', '--inputs', 'inputs/wrong-shape'], 1, 'rnnc: inputs/wrong-shape/x.npy has shape (2, 3, 5), but input `x` is [batch, T, D] = (2, 3, 4); if the file is right, pass --dim D=5'],
  ['.npy of the wrong rank', ['run', 'decay.rnn', '--inputs', 'inputs/wrong-rank'], 1, 'rnnc: inputs/wrong-rank/x.npy has shape (2, 3), but input `x` is [batch, T, D] = (4, 64, 4)'],
  ['.npy state of the wrong shape', ['run', 'decay.rnn', '--inputs', 'inputs/state-shape', '--batch', '2'], 1, 'rnnc: inputs/state-shape/h.npy has shape (2, 5), but state `h` is [batch, D] = (2, 4); if the file is right, pass --dim D=5'],
  ['.npy with batch 0', ['run', 'decay.rnn', '--inputs', 'inputs/zero-batch'], 1, 'rnnc: inputs/zero-batch/x.npy has shape (0, 3, 4): a run needs at least one sequence (batch) and one step (T)'],
  ['both h.npy and h.final.npy', ['run', 'decay.rnn', '--inputs', 'inputs/both-states'], 1, 'rnnc: --inputs inputs/both-states has both h.npy and h.final.npy for state `h`; keep one'],
  ['-o under a regular file', ['compile', 'decay.rnn', '-o', 'regular/out'], 1, 'rnnc: cannot write to regular/out: regular is not a directory'],
  ['-o a regular file', ['compile', 'decay.rnn', '-o', 'regular'], 1, 'rnnc: cannot write to regular: regular is not a directory'],
  ['-o under /proc', ['compile', 'decay.rnn', '-o', '/proc/rnnc-out'], 1, 'rnnc: cannot write to /proc/rnnc-out: mkdir /proc/rnnc-out: no such file or directory'],
  ['-o where an output file is a folder', ['compile', 'decay.rnn', '-o', 'out-blocked'], 1, 'rnnc: cannot write to out-blocked: out-blocked/decay.json is a directory'],
  ['--save under a regular file', ['run', 'decay.rnn', '--save', 'regular/saved'], 1, 'rnnc: cannot write to --save regular/saved: regular is not a directory'],
  ['--save where a result file is a folder', ['run', 'decay.rnn', '--save', 'save-blocked'], 1, 'rnnc: cannot write to --save save-blocked: save-blocked/h.final.npy is a directory'],
  ['bench --out under a regular file', ['bench', 'decay.rnn', '--out', 'regular/bench.md'], 1, 'rnnc: cannot write to --out regular/bench.md: regular is not a directory'],
];

const help: Case[] = [
  ['--help', ['--help'], 0, '', 'Usage: rnnc [options] [command]'],
  ['help run', ['help', 'run'], 0, '', 'Usage: rnnc run [options] <file>'],
  ['--version', ['--version'], 0, '', '0.1.0'],
  ...['check', 'explain', 'compile', 'run', 'bench'].map((c): Case => [`${c} --help`, [c, '--help'], 0, '', `Usage: rnnc ${c} [options] ${c === 'check' ? '<files...>' : c === 'bench' ? '[files...]' : '<file>'}`]),
];

// Flags that do nothing in the command as given: a warning, and the exit code of the rest.
const warnings: Case[] = [
  ['--tolerance without --verify', ['run', 'missing.rnn', '--tolerance', '1e-3'], 1, 'rnnc: warning: --tolerance has no effect without --verify'],
  ['--allow-nonfinite without --verify', ['run', 'missing.rnn', '--allow-nonfinite'], 1, 'rnnc: warning: --allow-nonfinite has no effect without --verify'],
  ['--dim without --after plan', ['explain', 'decay.rnn', '--dim', 'D=3'], 0, 'rnnc: warning: --dim has no effect without --after plan', 'rnn decay'],
  ['--mode without --after plan', ['explain', 'decay.rnn', '--after', 'check', '--mode', 'seq'], 0, 'rnnc: warning: --mode has no effect without --after plan', 'dim    D = 4'],
  ['--chunk without --mode chunk', ['compile', 'decay.rnn', '-o', 'out-warn', '--chunk', '4'], 0, 'rnnc: warning: --chunk has no effect: it sizes the kernels of --mode chunk, and this compiles seq'],
];

const cases = [...usage, ...input, ...help, ...warnings];
const outputs = new Map<string, Run>();

describe('bad-input corpus', () => {
  it('has at least 80 cases with distinct names, every exit code, and every command', () => {
    expect(cases.length).toBeGreaterThanOrEqual(80);
    expect(new Set(cases.map(([name]) => name)).size).toBe(cases.length);
    for (const command of ['check', 'explain', 'compile', 'run', 'bench']) expect(cases.some(([, argv]) => argv[0] === command), command).toBe(true);
  });

  it.each(cases)('%s', async (name, argv, exit, stderr, stdout) => {
    const before = listing();
    const r = await rnnc(argv);
    outputs.set(name, r);
    const text = (s: string) => s.replaceAll(scratch, '$TMP');
    expect({ code: r.code, stderr: text(r.stderr).split('\n')[0] }, text(r.stderr)).toEqual({ code: exit, stderr });
    if (stdout !== undefined) expect(r.stdout.split('\n')[0]).toBe(stdout);
    expect(r.stderr).not.toContain('internal error');
    expect(r.stderr).not.toMatch(/\n\s+at .+:\d+:\d+\)?/);
    // A failed command leaves no file behind: the scratch folder is as it was.
    if (exit !== 0) expect(listing()).toEqual(before);
  });

  it('the full output of every case is the baseline bad-input.txt', async () => {
    const text = cases
      .map(([name, argv]) => {
        const r = outputs.get(name)!;
        const out = r.stdout ? `--- stdout (first line)\n${r.stdout.split('\n')[0]}\n` : '';
        return `## ${name}\n$ rnnc ${argv.map((a) => (a === '' || /\s/.test(a) ? `'${a}'` : a)).join(' ')}\nexit ${r.code}\n${out}--- stderr\n${r.stderr.replaceAll(scratch, '$TMP')}`;
      })
      .join('\n');
    await expect(text).toMatchFileSnapshot('bad-input.txt');
  });
});

describe('in real processes', () => {
  // src/cli/main.ts through tsx, as bin/rnnc.js runs dist/: main()'s code becomes the exit status.
  // About 3 s of CPU each, so only a few.
  const runProcess = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href, '--input-type=module', '-e', `import { main } from ${JSON.stringify(join(repo, 'src/cli/main.ts'))}; process.exitCode = await main(process.argv.slice(1));`, ...args], {
      cwd: scratch,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });

  it('exit codes 2, 1 and 0 reach the shell, and nothing but the message reaches stderr', { timeout: 60_000 }, () => {
    const unknown = runProcess('frobnicate');
    expect([unknown.status, unknown.stderr.split('\n')[0]]).toEqual([2, "rnnc: error: unknown command 'frobnicate'"]);
    const before = listing();
    const blocked = runProcess('compile', 'decay.rnn', '-o', 'regular/out');
    expect([blocked.status, blocked.stderr]).toEqual([1, 'rnnc: cannot write to regular/out: regular is not a directory\n']);
    const npyError = runProcess('run', 'decay.rnn', '--inputs', 'inputs/truncated');
    expect([npyError.status, npyError.stderr]).toEqual([1, 'rnnc: inputs/truncated/x.npy: shape (2, 3, 4) needs 96 data bytes but the file has 10 (truncated?)\n']);
    expect(listing()).toEqual(before);
    const helped = runProcess('run', '--help');
    expect([helped.status, helped.stdout.split('\n')[0], helped.stderr]).toEqual([0, 'Usage: rnnc run [options] <file>', '']);
  });
});
