// The rnnc command line, run in-process through main() with stdout and stderr captured (no dist/ needed),
// plus a few runs in a real child process for exit codes and the absence of stack traces.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { runCli, type CliRun } from '../helpers/cli.js';

const root = join(import.meta.dirname, '../..');
const example = (name: string) => join('examples', `${name}.rnn`);
const invalid = (name: string) => join('test/diagnostics/cases', `${name}.rnn`);

type Run = CliRun;

async function rnnc(...args: string[]): Promise<Run> {
  return runCli(args, root);
}

const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+\)?/);

afterEach(() => {
  process.exitCode = undefined;
});

describe('rnnc check', () => {
  it('accepts a valid file: exit 0, a summary on stderr', async () => {
    const r = await rnnc('check', example('lstm'));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    const lines = r.stderr.split('\n');
    // Assert the lines this command owns; other summary lines (analysis) may be added around them.
    expect(lines).toContain('examples/lstm.rnn: ok — rnn lstm');
    expect(lines).toContain('  dims    X=4, H=8');
    expect(lines).toContain('  inputs  x[X]');
    expect(lines).toContain('  state   h[H], c[H]');
    expect(lines).toContain('  outputs y[H]');
  });

  it('plans at the sizes --dim gives, saying why auto turns the scan down there (issue 13)', async () => {
    const small = await rnnc('check', example('gla'));
    expect(small.stderr).toMatch(/ {2}mode {4}auto -> scan: /);
    const big = await rnnc('check', example('gla'), '--dim', 'K=64', '--dim', 'V=64');
    expect(big.code).toBe(0);
    expect(big.stderr).toContain("  mode    auto -> seq at K=64, V=64: not scan: it takes the cell, but only by spreading each sequence's lanes over workgroups of 256, and lanes that fill several workgroups give the sequential loop the same parallelism without the scan's extra work (--mode scan runs it); so ");
    const json = JSON.parse((await rnnc('check', '--json', example('gla'), '--dim', 'K=64')).stdout);
    expect(json.plan.auto).toBe('seq');
    const unknown = await rnnc('check', example('gla'), '--dim', 'NOPE=3');
    expect([unknown.code, unknown.stderr.trim().split('\n').at(-1)]).toEqual([1, 'rnnc: unknown dim `NOPE`; gla has K, V']);
  });

  it('rejects an invalid file: exit 1, the rendered diagnostics on stderr', async () => {
    const r = await rnnc('check', invalid('name_unknown_suggests'));
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(readFileSync(join(root, 'test/diagnostics/cases/name_unknown_suggests.errors.txt'), 'utf8'));
  });

  it('exits 0 on warnings only', async () => {
    const r = await rnnc('check', invalid('name_state_never_updated'));
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('warning RNN0206: state `c` is never updated');
  });

  it('checks several files in one run and fails if any fails', async () => {
    const r = await rnnc('check', example('gru'), invalid('type_wrong_arity'), example('mamba_s6'));
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('examples/gru.rnn: ok — rnn gru');
    expect(r.stderr).toContain('examples/mamba_s6.rnn: ok — rnn mamba_s6');
    expect(r.stderr).toContain('test/diagnostics/cases/type_wrong_arity.rnn:5:8: error RNN0403: `max` takes 2 arguments but is given 1 argument');
  });

  it('--json: one report object for one file', async () => {
    const r = await rnnc('check', '--json', invalid('index_two_dims'));
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ file: 'test/diagnostics/cases/index_two_dims.rnn', ok: false });
    expect(report.summary).toBeUndefined();
    expect(report.diagnostics).toEqual([
      {
        code: 'RNN0302',
        severity: 'error',
        message: 'index `d` ranges over `D` here but over `N` elsewhere in this statement',
        file: 'test/diagnostics/cases/index_two_dims.rnn',
        line: 6,
        column: 27,
        endLine: 6,
        endColumn: 28,
        labels: [{ message: '`d` ranges over `D` here', line: 6, column: 5 }],
        notes: [],
      },
    ]);
  });

  it('--json: an array of reports for several files, with a summary for valid ones', async () => {
    const r = await rnnc('check', '--json', example('lru'), invalid('state_none'));
    expect(r.code).toBe(1);
    const [lru, none] = JSON.parse(r.stdout);
    expect(lru).toMatchObject({ file: 'examples/lru.rnn', ok: true, diagnostics: [] });
    expect(lru.summary).toMatchObject({ name: 'lru', dims: [{ name: 'N', size: 8 }, { name: 'H', size: 4 }], states: [{ name: 'x', dims: ['N'], init: 0 }] });
    expect(none).toMatchObject({ file: 'test/diagnostics/cases/state_none.rnn', ok: false, diagnostics: [{ code: 'RNN0503', line: 2, column: 5 }] });
  });

  it('a missing file: a clear message, exit 1', async () => {
    const r = await rnnc('check', 'examples/nope.rnn');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('rnnc: cannot read examples/nope.rnn: no such file\n');
  });

  it('a directory: a clear message, exit 1', async () => {
    const r = await rnnc('check', 'examples');
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('rnnc: cannot read examples: is a directory\n');
  });
});

describe('rnnc explain', () => {
  it('stops quietly when the reader closes the pipe early (| head): exit 0, no stack trace', () => {
    const r = spawnSync('bash', ['-c', 'node bin/rnnc.js explain examples/gru.rnn --after grad --json | head -c 10; exit ${PIPESTATUS[0]}'], { encoding: 'utf8' });
    expect(r.stdout).toBe('{\n  "file"');
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
  });

  it('prints the IR of a valid cell on stdout', async () => {
    const r = await rnnc('explain', example('mamba_s6'));
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(readFileSync(join(root, 'test/golden/explain/mamba_s6.ir'), 'utf8'));
  });

  it('--json prints the module', async () => {
    const r = await rnnc('explain', '--json', example('parity'));
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out).toMatchObject({ file: 'examples/parity.rnn', ok: true, module: { name: 'parity' } });
    expect(out.module.step.length).toBeGreaterThan(0);
  });

  it('refuses an invalid cell: diagnostics and a count, exit 1', async () => {
    const r = await rnnc('explain', invalid('recovery_checker_errors'));
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain('error RNN0204: unknown function `tanhh`');
    expect(r.stderr.trimEnd().split('\n').at(-1)).toBe('rnnc: test/diagnostics/cases/recovery_checker_errors.rnn: 4 errors');
  });

  it('--json on an invalid cell: the diagnostics on stdout', async () => {
    const r = await rnnc('explain', '--json', invalid('syntax_empty_file'));
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: false, diagnostics: [{ code: 'RNN0107', line: 1, column: 1 }] });
  });
});

describe('usage', () => {
  it('--help on the program lists the commands, exit 0', async () => {
    const r = await rnnc('--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: rnnc [options] [command]');
    expect(r.stdout).toMatch(/^\s+check \[options\] <files\.\.\.>/m);
    expect(r.stdout).toMatch(/^\s+explain \[options\] <file>/m);
  });

  it.each(['check', 'explain'])('--help on %s, exit 0', async (command) => {
    const r = await rnnc(command, '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: rnnc ${command} [options]`);
    expect(r.stdout).toContain('--json');
  });

  it('an unknown command: exit 2', async () => {
    const r = await rnnc('frobnicate');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: unknown command 'frobnicate'");
  });

  it('a missing argument: exit 2', async () => {
    const r = await rnnc('explain');
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: missing required argument 'file'");
  });
});

describe('malformed input never produces a stack trace', () => {
  const cases = readdirSync(join(root, 'test/diagnostics/cases')).filter((f) => f.endsWith('.rnn'));

  it.each(cases)('%s', async (file) => {
    for (const command of ['check', 'explain']) {
      const r = await rnnc(command, join('test/diagnostics/cases', file));
      expect([0, 1]).toContain(r.code);
      noStackTrace(r.stderr);
      expect(r.stderr).not.toContain('internal error');
    }
  });

  it('binary junk and odd encodings', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'rnnc-cli-'));
    const inputs = {
      'junk.rnn': Buffer.from([0xff, 0xfe, 0x00, 0x01, 0x80, 0x41]),
      'crlf.rnn': 'rnn c {\r\n  input x\r\n  state h = 0\r\n  h <- h +\r\n}\r\n',
      'unicode.rnn': 'rnn c {\n  input x\n  state h = 0\n  h <- h + x · 2\n}\n',
      'deep.rnn': `rnn c {\n  input x\n  state h = 0\n  h <- ${'('.repeat(500)}x${')'.repeat(500)}\n}\n`,
    };
    for (const [name, content] of Object.entries(inputs)) {
      writeFileSync(join(dir, name), content);
      const r = await rnnc('check', join(dir, name));
      expect([0, 1], name).toContain(r.code);
      noStackTrace(r.stderr);
      expect(r.stderr, name).not.toContain('internal error');
    }
  });
});

describe('in a real process', () => {
  // Runs src/cli/main.ts through tsx, the way bin/rnnc.js runs the compiled dist/ (absent from a clean checkout).
  // One process (about 3 s of CPU to load the compiler): main()'s code becomes the exit status, and
  // nothing but the diagnostics reaches stderr. Exit codes 0 and 2 are checked in-process above.
  const runProcess = (...args: string[]) =>
    spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));", ...args], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, NO_COLOR: '1' },
    });

  // Its own timeout: a process start is slow on a loaded machine, and compile time is not what is timed here.
  it('exit code 1 with exactly the diagnostics, no stack trace', { timeout: 30_000 }, () => {
    const bad = runProcess('check', invalid('recovery_three_syntax_errors'));
    expect(bad.status).toBe(1);
    expect(bad.stderr).toBe(readFileSync(join(root, 'test/diagnostics/cases/recovery_three_syntax_errors.errors.txt'), 'utf8'));
    noStackTrace(bad.stderr);
  });
});
