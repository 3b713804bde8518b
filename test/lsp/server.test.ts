// The language server through its protocol, as an editor drives it: `rnnc lsp --stdio` in a real
// process (src/cli/main.ts through tsx, the way bin/rnnc.js runs the built dist/), spoken to with
// vscode-jsonrpc. Diagnostics, hover and definitions are compared with what the CLI prints for the
// same text (`rnnc check --json` and its analysis lines), so the editor and the terminal cannot disagree.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createMessageConnection, StreamMessageReader, StreamMessageWriter, type MessageConnection } from 'vscode-jsonrpc/node';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/cli.js';

const root = join(import.meta.dirname, '../..');
const dir = mkdtempSync(join(tmpdir(), 'rnnc-lsp-'));

interface Position {
  line: number;
  character: number;
}
interface Range {
  start: Position;
  end: Position;
}
interface LspDiagnostic {
  range: Range;
  severity: number;
  code: string;
  source: string;
  message: string;
  relatedInformation?: { location: { uri: string; range: Range }; message: string }[];
}
interface Published {
  uri: string;
  version?: number;
  diagnostics: LspDiagnostic[];
}

// A cell with a typo (`xs` for `x`) on line 5, and one whose state is not a scan (tanh of the state).
const affine = (input: string) =>
  ['rnn decay {', '  dims D = 4', '  input  x[D]', '  state  h[D] = 0', `  h[d] <- 0.5 * h[d] + ${input}[d]`, '  output y[d] = h[d]', '}', ''].join('\n');
const nonlinear = ['rnn squash {', '  dims D = 4', '  input  x[D]', '  state  h[D] = 0', '  h[d] <- tanh(h[d]) + x[d]', '  output y[d] = h[d]', '}', ''].join('\n');

/** `rnnc check --json` on the text, as a user would run it. */
async function cliCheck(name: string, text: string) {
  const path = join(dir, name);
  writeFileSync(path, text);
  const json = await runCli(['check', '--json', path], root);
  const text_ = await runCli(['check', path], root);
  return { json: JSON.parse(json.stdout) as { diagnostics: { code: string; message: string; line: number; column: number; endLine: number; endColumn: number; notes: string[] }[] }, stderr: text_.stderr };
}

let server: ChildProcessWithoutNullStreams;
let connection: MessageConnection;
let stderr = '';
const published: Published[] = [];
let waiters: (() => void)[] = [];

/** The first publishDiagnostics for a URI at a document version (none: after the document closed). */
async function diagnosticsFor(uri: string, version: number | undefined): Promise<Published> {
  for (;;) {
    const found = published.find((p) => p.uri === uri && p.version === version);
    if (found) return found;
    await new Promise<void>((resolve) => waiters.push(resolve));
  }
}

const uriOf = (name: string) => pathToFileURL(join(dir, name)).href;

beforeAll(async () => {
  server = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', "import { main } from './src/cli/main.ts'; process.exitCode = await main(process.argv.slice(1));", 'lsp', '--stdio'], {
    cwd: root,
    env: { ...process.env, NO_COLOR: '1' },
  });
  server.stderr.on('data', (chunk) => (stderr += String(chunk)));
  connection = createMessageConnection(new StreamMessageReader(server.stdout), new StreamMessageWriter(server.stdin));
  connection.onNotification('textDocument/publishDiagnostics', (p: Published) => {
    published.push(p);
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
  });
  connection.listen();
}, 60_000);

afterAll(() => {
  connection?.dispose();
  if (server && server.exitCode === null) server.kill();
  rmSync(dir, { recursive: true, force: true });
});

afterEach(() => {
  process.exitCode = undefined;
});

// One server for the whole file, in order: initialize, documents, then shutdown and exit. Timeouts are
// generous: the process loads the compiler through tsx on a shared machine.
describe('rnnc lsp --stdio', { timeout: 60_000 }, () => {
  it('initialize: its name and capabilities (incremental sync, hover, definitions)', async () => {
    const result = (await connection.sendRequest('initialize', { processId: process.pid, rootUri: pathToFileURL(dir).href, capabilities: {} })) as { capabilities: Record<string, unknown>; serverInfo: { name: string } };
    expect(result.serverInfo.name).toBe('rnnc');
    expect(result.capabilities).toEqual({ textDocumentSync: 2, hoverProvider: true, definitionProvider: true });
    await connection.sendNotification('initialized', {});
  });

  it('didOpen of a spec with an error: the diagnostic rnnc check prints, at the same range', async () => {
    const text = affine('xs');
    const cli = await cliCheck('typo.rnn', text);
    expect(cli.json.diagnostics).toHaveLength(1);
    const expected = cli.json.diagnostics[0]!;
    expect(expected.code).toBe('RNN0201');

    const uri = uriOf('typo.rnn');
    await connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'rnn', version: 1, text } });
    const got = await diagnosticsFor(uri, 1);
    expect(got.diagnostics).toHaveLength(1);
    const d = got.diagnostics[0]!;
    // The CLI's positions are 1-based, the protocol's 0-based.
    expect(d.range).toEqual({ start: { line: expected.line - 1, character: expected.column - 1 }, end: { line: expected.endLine - 1, character: expected.endColumn - 1 } });
    expect(d.range).toEqual({ start: { line: 4, character: 23 }, end: { line: 4, character: 25 } });
    expect([d.message, d.code, d.severity, d.source]).toEqual([expected.message, 'RNN0201', 1, 'rnnc']);
    expect(d.message).toBe('unknown name `xs`');
    // The note ("did you mean `x`?") travels as related information at the diagnostic's own range.
    expect(d.relatedInformation).toEqual(expected.notes.map((n) => ({ location: { uri, range: d.range }, message: `note: ${n}` })));
    expect(expected.notes).toEqual(['did you mean `x`?']);
  });

  it('didChange fixing it: an empty list', async () => {
    const uri = uriOf('typo.rnn');
    // An incremental edit: `xs` becomes `x`.
    await connection.sendNotification('textDocument/didChange', {
      textDocument: { uri, version: 2 },
      contentChanges: [{ range: { start: { line: 4, character: 23 }, end: { line: 4, character: 25 } }, text: 'x' }],
    });
    const got = await diagnosticsFor(uri, 2);
    expect(got.diagnostics).toEqual([]);
    expect((await cliCheck('fixed.rnn', affine('x'))).json.diagnostics).toEqual([]);
  });

  it('edits in quick succession: the diagnostics of the last version', async () => {
    const uri = uriOf('typo.rnn');
    const line5 = (from: number, to: number, text: string) => ({ range: { start: { line: 4, character: from }, end: { line: 4, character: to } }, text });
    // Break it (`x` → `xs`), then fix it again, before the server has said anything.
    await connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 3 }, contentChanges: [line5(23, 24, 'xs')] });
    await connection.sendNotification('textDocument/didChange', { textDocument: { uri, version: 4 }, contentChanges: [line5(23, 25, 'x')] });
    expect((await diagnosticsFor(uri, 4)).diagnostics).toEqual([]);
  });

  it('hover on a state: its shape and the analysis rnnc check prints for it', async () => {
    const uri = uriOf('typo.rnn');
    // `h` in `0.5 * h[d]` on line 5.
    const hover = (await connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 4, character: 17 } })) as { contents: { kind: string; value: string }; range: Range };
    expect(hover.contents.kind).toBe('markdown');
    expect(hover.range).toEqual({ start: { line: 4, character: 16 }, end: { line: 4, character: 17 } });
    const value = hover.contents.value;
    expect(value).toContain('```rnn\nstate h[D]\n```');
    expect(value).toContain('D = 4');
    const line = (await cliCheck('fixed.rnn', affine('x'))).stderr.split('\n').find((l) => l.startsWith('  analysis h: '))!;
    expect(line).toMatch(/algebra sum_prod .*structure diagonal.*parallel scan: yes$/);
    expect(value).toContain(`**analysis**: ${line.replace('  analysis h: ', '')}`);
  });

  it('hover on a state that is not a scan: why not, at its line and column', async () => {
    const uri = uriOf('squash.rnn');
    await connection.sendNotification('textDocument/didOpen', { textDocument: { uri, languageId: 'rnn', version: 1, text: nonlinear } });
    expect((await diagnosticsFor(uri, 1)).diagnostics).toEqual([]);
    const hover = (await connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line: 3, character: 9 } })) as { contents: { value: string } };
    const report = (await cliCheck('squash.rnn', nonlinear)).stderr.split('\n');
    const at = report.findIndex((l) => l.startsWith('  analysis h: '));
    expect(report[at]).toMatch(/parallel scan: no$/);
    const why = report[at + 1]!.trim();
    expect(why).toMatch(/\(line 5, col \d+\).*so this cell runs sequentially/);
    expect(hover.contents.value).toContain(report[at]!.replace('  analysis h: ', ''));
    expect(hover.contents.value).toContain(why);
  });

  it('hover on a dim and on an index', async () => {
    const uri = uriOf('typo.rnn');
    const hoverAt = async (line: number, character: number) => ((await connection.sendRequest('textDocument/hover', { textDocument: { uri }, position: { line, character } })) as { contents: { value: string } } | null)?.contents.value;
    expect(await hoverAt(1, 7)).toContain('```rnn\ndims D = 4\n```');
    // `d` in `h[d]` on the right side of line 5: an index over D.
    expect(await hoverAt(4, 19)).toContain('```rnn\nindex d: D\n```');
    // A keyword is not a name.
    expect(await hoverAt(3, 3)).toBeUndefined();
  });

  it('definition: from a use to its declaration', async () => {
    const uri = uriOf('typo.rnn');
    const definition = (line: number, character: number) => connection.sendRequest('textDocument/definition', { textDocument: { uri }, position: { line, character } });
    // `h` in `0.5 * h[d]` → `state  h[D]` (line 4, column 10).
    expect(await definition(4, 16)).toEqual({ uri, range: { start: { line: 3, character: 9 }, end: { line: 3, character: 10 } } });
    // `x` (the fixed typo) → `input  x[D]`.
    expect(await definition(4, 23)).toEqual({ uri, range: { start: { line: 2, character: 9 }, end: { line: 2, character: 10 } } });
    // `D` in `x[D]` → `dims D = 4`.
    expect(await definition(2, 11)).toEqual({ uri, range: { start: { line: 1, character: 7 }, end: { line: 1, character: 8 } } });
    // The index `d` on the right → the `d` of `h[d]` on the left, which binds it.
    expect(await definition(4, 19)).toEqual({ uri, range: { start: { line: 4, character: 4 }, end: { line: 4, character: 5 } } });
    // `h` in the output → the state, two lines up.
    expect(await definition(5, 16)).toEqual({ uri, range: { start: { line: 3, character: 9 }, end: { line: 3, character: 10 } } });
    // Nothing under the cursor: no definition.
    expect(await definition(0, 0)).toBeNull();
  });

  it('didClose clears the diagnostics', async () => {
    const uri = uriOf('squash.rnn');
    await connection.sendNotification('textDocument/didClose', { textDocument: { uri } });
    expect(await diagnosticsFor(uri, undefined)).toEqual({ uri, diagnostics: [] });
  });

  it('shutdown, then exit: the process ends with status 0 and wrote nothing to stderr', async () => {
    const exited = new Promise<number | null>((resolve) => server.on('exit', (code) => resolve(code)));
    expect(await connection.sendRequest('shutdown')).toBeNull();
    await connection.sendNotification('exit');
    expect(await exited).toBe(0);
    expect(stderr).toBe('');
  });
});

describe('rnnc lsp --help', () => {
  it('says what it serves and how, exit 0', async () => {
    const r = await runCli(['lsp', '--help'], root);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Usage: rnnc lsp [options]');
    expect(r.stdout).toMatch(/diagnostics, hover, go-to-definition/);
    expect(r.stdout).toMatch(/^\s+--stdio\s/m);
    const listed = await runCli(['--help'], root);
    expect(listed.stdout).toMatch(/^\s+lsp \[options\]\s+run the language server/m);
  });
});
