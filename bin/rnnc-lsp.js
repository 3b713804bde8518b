#!/usr/bin/env node
// `rnnc lsp --stdio` as a script of its own, for editors that take a script path (the VS Code
// extension in editor/vscode runs it from this repository). Runs the compiled CLI in dist/.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
const entry = new URL('../dist/src/cli/main.js', import.meta.url);
if (!existsSync(fileURLToPath(entry))) {
  process.stderr.write('rnnc-lsp: dist/ is missing; run `npm run build` (or `npm run setup`) first\n');
  process.exit(2);
}
const { main } = await import(entry.href);
// Further arguments (an editor's --clientProcessId=PID) go to the command; --stdio is the transport.
const extra = process.argv.slice(2).filter((a) => a !== '--stdio');
process.exitCode = await main(['lsp', '--stdio', ...extra]);
