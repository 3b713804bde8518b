// `rnnc explain FILE [--after PASS]`: what the compiler made of a cell after any named pass (the IR
// after `lower`, by default), as text or JSON.
import type { Command } from 'commander';
import { passes, runPipeline } from '../driver/pipeline.js';
import { diagnosticsJson, EXIT_INTERNAL, EXIT_USER, loadSource, parseDimFlags, parseMode, printDiagnostics, UserError, warn } from './io.js';

interface ExplainFlags {
  after: string;
  json?: boolean;
  mode: string;
  dim?: string[];
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerExplain(program: Command) {
  program
    .command('explain')
    .description('print what the compiler made of a cell after a pass: the IR after lower (the default), the analysis, or the plan')
    .argument('<file>', '.rnn file')
    .option('--after <pass>', `the pass whose result to print: ${passes.map((p) => `${p.name} (${p.description})`).join('; ')}`, 'lower')
    .option('--mode <mode>', 'for --after plan: the mode to plan (seq, scan, chunk or auto)', 'auto')
    .option('--dim <NAME=SIZE>', 'for --after plan: set a dim size (repeatable)', collect)
    .option('--json', 'print the pass result as JSON on stdout')
    .action((path: string, flags: ExplainFlags, command: Command) => {
      // The flags first (exit 2), then the file (exit 1).
      const pass = passes.find((p) => p.name === flags.after);
      if (!pass) throw new UserError(`rnnc: --after must be one of ${passes.map((p) => p.name).join(', ')}, got '${flags.after}'`, EXIT_INTERNAL);
      const mode = parseMode(flags.mode);
      const dims = parseDimFlags(flags.dim);
      if (pass.name !== 'plan')
        for (const o of ['mode', 'dim']) if (command.getOptionValueSource(o) === 'cli') warn(`--${o} has no effect without --after plan`);
      const source = loadSource(path);
      const { state, reached } = runPipeline(source, pass.name, { mode, dims });
      if (reached !== pass.name) {
        const result = { diagnostics: state.diagnostics };
        if (flags.json) process.stdout.write(JSON.stringify({ file: path, ok: false, after: pass.name, diagnostics: diagnosticsJson({ source, result }) }, null, 2) + '\n');
        else printDiagnostics({ source, result });
        const n = state.diagnostics.filter((d) => d.severity === 'error').length;
        throw new UserError(`rnnc: ${path}: ${n} error${n === 1 ? '' : 's'}`, EXIT_USER);
      }
      if (!flags.json) {
        process.stdout.write(pass.print(state));
        return;
      }
      const result =
        pass.name === 'parse' ? state.ast : pass.name === 'check' ? [...state.checked!.symbols.values()] : pass.name === 'lower' ? state.module : pass.name === 'analyse' ? state.analysis : pass.name === 'grad' ? state.backward : state.compilation!.plan;
      process.stdout.write(JSON.stringify({ file: path, ok: true, after: pass.name, [pass.name === 'lower' ? 'module' : 'result']: result }, null, 2) + '\n');
    });
}
