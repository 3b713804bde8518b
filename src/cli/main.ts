// The rnnc command line. Each command lives in its own module; this file wires them up and owns
// the error boundary: user errors print a message (exit 1), anything else is an internal error (exit 2).
import { Command, CommanderError } from 'commander';
import { DimError } from '../compiler/ir/dims.js';
import { EXIT_INTERNAL, EXIT_USER, exitCodeOf } from './io.js';
import { RnncError } from '../driver/errors.js';

type Register = (program: Command) => void;

/**
 * The commands' modules, imported when the program is built. `rnnc run ...` imports only run's:
 * the others bring code a run never needs (explain and check import the parser, chevrotain and the
 * ~640 lodash-es modules it imports, which a run whose front end comes from the cache does not load).
 */
async function commands(argv: readonly string[]): Promise<Register[]> {
  if (argv[0] === 'run') return [(await import('./run.js')).registerRun];
  const [check, explain, compile, run, bench, fmt, lsp] = await Promise.all([
    import('./check.js'),
    import('./explain.js'),
    import('./compile.js'),
    import('./run.js'),
    import('./bench.js'),
    import('./fmt.js'),
    import('./lsp.js'),
  ]);
  return [check.registerCheck, explain.registerExplain, compile.registerCompile, run.registerRun, bench.registerBench, fmt.registerFmt, lsp.registerLsp];
}

export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  return programWith(await commands(argv));
}

function programWith(register: Register[]): Command {
  const program = new Command('rnnc')
    .description('rnnc: a compiler for recurrent neural network cells (.rnn specs to WGSL kernels)')
    .version('0.1.0')
    .showHelpAfterError('(run with --help for usage)')
    // commander's own errors (unknown option, missing argument) start with `rnnc:` like every other.
    .configureOutput({ outputError: (text, write) => write(`rnnc: ${text}`) })
    .exitOverride();
  for (const r of register) r(program);
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await (await buildProgram(argv)).parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : EXIT_INTERNAL;
    if (e instanceof RnncError) {
      process.stderr.write(e.message + '\n');
      return exitCodeOf(e);
    }
    // A `--dim` for a dim the cell lacks, or a dim left without a size: the user's to fix.
    if (e instanceof DimError) {
      process.stderr.write(`rnnc: ${e.message}\n`);
      return EXIT_USER;
    }
    const err = e as Error;
    process.stderr.write(`rnnc: internal error: ${err.message}\n${process.env['RNNC_DEBUG'] ? (err.stack ?? '') + '\n' : 'set RNNC_DEBUG=1 for a stack trace, and please report it\n'}`);
    return EXIT_INTERNAL;
  }
}
