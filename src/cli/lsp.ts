// `rnnc lsp --stdio`: the language server for editors (docs/editor.md). Loaded only when asked for, so
// the other commands do not pay for the protocol library at startup.
import type { Command } from 'commander';

export function registerLsp(program: Command) {
  program
    .command('lsp')
    .description('run the language server for editors (diagnostics, hover, go-to-definition), speaking LSP over stdin/stdout')
    .option('--stdio', 'talk over stdin and stdout (the only transport, and the default; editors pass it)')
    // vscode-languageserver reads this from argv itself and exits when that process does.
    .option('--clientProcessId <pid>', "exit when the editor's process ends")
    .action(async () => {
      const { serveStdio } = await import('../lsp/stdio.js');
      serveStdio();
    });
}
