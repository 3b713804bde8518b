// `rnnc fmt`: printing, --check (with --json), --write (all or nothing), diagnostics for a file that
// does not parse (which is never written), usage errors; and the CI check that keeps the examples
// and bench cells formatted.
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readFileSync, readlinkSync, realpathSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const root = join(import.meta.dirname, '..', '..');
const scratch = realpathSync(mkdtempSync(join(tmpdir(), 'rnnc-fmt-')));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));
const rnnc = (...args: string[]) => runCli(args, scratch);
const noStackTrace = (text: string) => expect(text).not.toMatch(/\n\s+at .+:\d+:\d+\)?/);

const messy = 'rnn decay {\n dims D = 4\n input x[D]   // the input\n state h[D]=0\n h[d] <- 0.5*h[d] + x[d]\n\n\n output y[d] = h[d] }\n';
const tidy = 'rnn decay {\n  dims D = 4\n  input  x[D]   // the input\n  state  h[D] = 0\n  h[d] <- 0.5 * h[d] + x[d]\n\n  output y[d] = h[d]\n}\n';
const broken = 'rnn broken {\n  dims D = 4\n  input x[D]\n  let y[d] = (x[d]\n}\n';

/** Each file's contents and modification time: what "untouched" means. */
const snapshot = (...names: string[]) => names.map((n) => [readFileSync(join(scratch, n), 'utf8'), statSync(join(scratch, n)).mtimeMs]);

beforeEach(() => {
  rmSync(join(scratch, 'cells'), { recursive: true, force: true });
  mkdirSync(join(scratch, 'cells', 'more'), { recursive: true });
  writeFileSync(join(scratch, 'cells', 'messy.rnn'), messy);
  writeFileSync(join(scratch, 'cells', 'tidy.rnn'), tidy);
  writeFileSync(join(scratch, 'cells', 'more', 'messy2.rnn'), messy);
  writeFileSync(join(scratch, 'cells', 'notes.txt'), 'not a spec');
  writeFileSync(join(scratch, 'broken.rnn'), broken);
});

describe('rnnc fmt', () => {
  it('keeps the examples and bench cells formatted (the CI check)', async () => {
    const r = await runCli(['fmt', '--check', 'examples', 'bench/cells'], root);
    expect(r.stderr).toMatch(/^rnnc: \d+ files checked, all formatted\n$/);
    expect(r.code).toBe(0);
  });

  it('prints the formatted text on stdout and writes nothing', async () => {
    const before = snapshot('cells/messy.rnn');
    const r = await rnnc('fmt', 'cells/messy.rnn');
    expect(r).toEqual({ code: 0, stdout: tidy, stderr: '' });
    expect(snapshot('cells/messy.rnn')).toEqual(before);
  });

  it('--check lists the files not formatted (folders stand for their .rnn files) and exits 1', async () => {
    const before = snapshot('cells/messy.rnn', 'cells/tidy.rnn', 'cells/more/messy2.rnn');
    const r = await rnnc('fmt', '--check', 'cells');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('cells/messy.rnn: not formatted\ncells/more/messy2.rnn: not formatted\nrnnc: 2 files not formatted; `rnnc fmt --write` formats them\n');
    expect(snapshot('cells/messy.rnn', 'cells/tidy.rnn', 'cells/more/messy2.rnn')).toEqual(before);
    expect((await rnnc('fmt', '--check', 'cells/tidy.rnn')).code).toBe(0);
  });

  it('--check --json lists every file and whether it is formatted', async () => {
    const r = await rnnc('fmt', '--check', '--json', 'cells/tidy.rnn', 'cells/messy.rnn', 'broken.rnn');
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout) as { file: string; formatted: boolean; diagnostics?: { code: string; line: number; column: number }[] }[];
    expect(report.map(({ file, formatted }) => ({ file, formatted }))).toEqual([
      { file: 'cells/tidy.rnn', formatted: true },
      { file: 'cells/messy.rnn', formatted: false },
      { file: 'broken.rnn', formatted: false },
    ]);
    expect(report[2]!.diagnostics![0]).toMatchObject({ code: 'RNN0106', line: 4, column: 19 });
  });

  it('--write rewrites the files not formatted, keeps their permissions, and leaves formatted ones alone', async () => {
    chmodSync(join(scratch, 'cells', 'messy.rnn'), 0o640);
    const tidyBefore = snapshot('cells/tidy.rnn');
    const r = await rnnc('fmt', '--write', 'cells');
    expect(r).toEqual({ code: 0, stdout: '', stderr: 'formatted cells/messy.rnn\nformatted cells/more/messy2.rnn\n' });
    expect(readFileSync(join(scratch, 'cells', 'messy.rnn'), 'utf8')).toBe(tidy);
    expect(readFileSync(join(scratch, 'cells', 'more', 'messy2.rnn'), 'utf8')).toBe(tidy);
    expect(statSync(join(scratch, 'cells', 'messy.rnn')).mode & 0o777).toBe(0o640);
    expect(snapshot('cells/tidy.rnn')).toEqual(tidyBefore);
    expect((await rnnc('fmt', '--check', 'cells')).code).toBe(0);
  });

  it('--write through a symbolic link rewrites the file it points to and keeps the link', async () => {
    symlinkSync(join(scratch, 'cells', 'messy.rnn'), join(scratch, 'link.rnn'));
    try {
      expect((await rnnc('fmt', '--write', 'link.rnn')).code).toBe(0);
      expect(lstatSync(join(scratch, 'link.rnn')).isSymbolicLink()).toBe(true);
      expect(readlinkSync(join(scratch, 'link.rnn'))).toBe(join(scratch, 'cells', 'messy.rnn'));
      expect(readFileSync(join(scratch, 'cells', 'messy.rnn'), 'utf8')).toBe(tidy);
    } finally {
      rmSync(join(scratch, 'link.rnn'));
    }
  });

  it('a file that does not parse gets the diagnostics with a code frame, exit 1, and is never written', async () => {
    const r = await rnnc('fmt', 'broken.rnn');
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(
      ["broken.rnn:4:19: error RNN0106: expected ')' at the end of the line", '4 |   let y[d] = (x[d]', '  |                   ^', "  = note: the next line starts with '}'", ''].join('\n'),
    );
    noStackTrace(r.stderr);
  });

  it('--write writes nothing at all when one file does not parse', async () => {
    const before = snapshot('broken.rnn', 'cells/messy.rnn');
    const r = await rnnc('fmt', '--write', 'cells/messy.rnn', 'broken.rnn');
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('broken.rnn:4:19: error RNN0106');
    expect(r.stderr).toContain('rnnc: fmt: 1 file did not parse; nothing was written\n');
    expect(snapshot('broken.rnn', 'cells/messy.rnn')).toEqual(before);
  });

  it('--help says how to use it, and rnnc --help lists it', async () => {
    const r = await rnnc('fmt', '--help');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: rnnc fmt [options] <files...>');
    for (const flag of ['--check', '--write', '--json']) expect(r.stdout).toContain(flag);
    expect((await rnnc('--help')).stdout).toMatch(/^\s+fmt \[options\] <files\.\.\.>/m);
  });

  it.each([
    ['--check with --write', ['--check', '--write', 'cells'], 2, 'rnnc: fmt: give --check or --write, not both\n'],
    ['--json without --check', ['--json', 'cells'], 2, 'rnnc: fmt: --json goes with --check\n'],
    ['a missing file', ['nothing.rnn'], 1, 'rnnc: cannot read nothing.rnn: no such file\n'],
    ['a folder without .rnn files', ['cells/empty'], 1, 'rnnc: fmt: no .rnn files under cells/empty\n'],
  ] as const)('%s', async (_name, args, code, stderr) => {
    mkdirSync(join(scratch, 'cells', 'empty'));
    const r = await rnnc('fmt', ...args);
    expect(r).toEqual({ code, stdout: '', stderr });
  });
});
