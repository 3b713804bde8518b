// `rnnc explain FILE`: the IR as text (or JSON).
import type { Command } from 'commander';
import { printModule } from '../compiler/ir/print.js';
import { loadValid } from './io.js';

export function registerExplain(program: Command) {
  program
    .command('explain')
    .description('print the IR of a cell: one definition per statement, with types, index spaces and hoisting')
    .argument('<file>', '.rnn file')
    .option('--json', 'print the IR as JSON on stdout')
    .action((path: string, opts: { json?: boolean }) => {
      const { result } = loadValid(path, opts.json);
      if (opts.json) process.stdout.write(JSON.stringify({ file: path, ok: true, module: result.module }, null, 2) + '\n');
      else process.stdout.write(printModule(result.module));
    });
}
