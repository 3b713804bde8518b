// The server over stdin and stdout, as `rnnc lsp --stdio` runs it. stdout carries the protocol, so
// anything else the process would print there goes to stderr instead (an editor shows that as the
// server's log). The library exits the process on the client's `exit`, or when stdin closes.
import { format } from 'node:util';
import { createConnection, ProposedFeatures } from 'vscode-languageserver/node';
import { serve } from './server.js';

export function serveStdio(): void {
  const toStderr = (...args: unknown[]) => void process.stderr.write(format(...args) + '\n');
  console.log = console.info = console.debug = toStderr;
  // Streams rather than message readers: given streams, the library also exits when stdin ends (the editor died).
  serve(createConnection(ProposedFeatures.all, process.stdin, process.stdout));
}
