// `rnnc compile FILE -o DIR`: writes the kernel, its manifest and a typed host module. `--check`
// compares with what DIR already holds instead, printing a unified diff and exiting 1 on a difference
// (so generated kernels can live under snapshot in CI).
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createTwoFilesPatch } from 'diff';
import { bindDims } from '../compiler/ir/dims.js';
import { backends, compileModule } from '../driver/compile.js';
import { EXIT_INTERNAL, EXIT_USER, loadValid, parseDimFlags, UserError } from './io.js';

interface CompileOptions {
  out: string;
  mode: string;
  dim?: string[];
  check?: boolean;
  /** commander's --no-subgroups: false when given. */
  subgroups: boolean;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

export function registerCompile(program: Command) {
  program
    .command('compile')
    .description('compile a .rnn file to a WGSL kernel, a JSON manifest and a TypeScript host module')
    .argument('<file>', '.rnn file')
    .requiredOption('-o, --out <dir>', 'output directory')
    .option('--mode <mode>', 'which kernel: seq (a loop over time), scan (a parallel scan; associative cells only) or auto (the scan when the cell is associative)', 'seq')
    .option('--dim <NAME=SIZE>', 'set a dim size (repeatable)', collect)
    .option('--check', 'compare with the files in the output directory; print a diff and exit 1 if they differ')
    .option('--no-subgroups', 'scan kernels without subgroup operations, for adapters without the subgroups feature or with subgroups under 8 invocations')
    .action(async (file: string, opts: CompileOptions) => {
      if (!backends[opts.mode]) throw new UserError(`rnnc: --mode ${opts.mode} is not available (have: ${Object.keys(backends).join(', ')})`, EXIT_INTERNAL);
      const loaded = loadValid(file);
      const module = loaded.result.module;
      // An unknown or unsized dim is a DimError, which main() reports as a user error.
      const sizes = bindDims(module, parseDimFlags(opts.dim));
      const files = await compileModule(opts.mode, { module, sizes, source: loaded.source, subgroups: opts.subgroups });
      if (opts.check) {
        let differs = 0;
        for (const f of files) {
          const path = join(opts.out, f.name);
          let old: string | undefined;
          try {
            old = readFileSync(path, 'utf8');
          } catch {
            old = undefined;
          }
          if (old === f.text) continue;
          differs++;
          if (old === undefined) process.stderr.write(`rnnc: ${path} is missing\n`);
          else process.stdout.write(createTwoFilesPatch(path, path, old, f.text, 'committed', 'generated'));
        }
        if (differs) {
          process.stderr.write(`rnnc: ${differs} generated file${differs === 1 ? '' : 's'} in ${opts.out} differ${differs === 1 ? 's' : ''} from what ${file} compiles to; rerun without --check to update\n`);
          process.exitCode = EXIT_USER;
        } else process.stderr.write(`rnnc: ${opts.out} is up to date (${files.map((f) => f.name).join(', ')})\n`);
        return;
      }
      try {
        mkdirSync(opts.out, { recursive: true });
        for (const f of files) writeFileSync(join(opts.out, f.name), f.text);
      } catch (e) {
        throw new UserError(`rnnc: cannot write to ${opts.out}: ${(e as Error).message}`);
      }
      process.stderr.write(`rnnc: wrote ${files.map((f) => join(opts.out, f.name)).join(', ')}\n`);
    });
}
