// `rnnc compile FILE -o DIR`: writes the kernels of the planned mode, their manifest and a typed host
// module. `--check` compares with what DIR already holds instead, printing a unified diff and exiting
// 1 on a difference (so generated kernels can live under snapshot in CI). `--validate` has Tint
// compile every kernel first (needs a WebGPU adapter) and writes nothing when one is rejected.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { createTwoFilesPatch } from 'diff';
import { compileFiles, emit, plan } from '../driver/compile.js';
import { openGpu } from '../driver/run.js';
import { validateKernels } from '../driver/validate.js';
import { checkOutputDir, writeAllOrNothing } from '../driver/output.js';
import { EXIT_INTERNAL, EXIT_USER, loadValid, parseDimFlags, parseMode, pathFlag, positiveInt, UserError, warn } from './io.js';
import { NEWTON_MODE, newtonFiles } from './newton.js';
import { gradCompilations, gradFiles, planGrad } from '../driver/grad.js';
import { gradModeOf } from './grad.js';
import { parsePrecision, precisionOption } from './precision.js';

interface CompileFlags {
  out: string;
  mode: string;
  dim?: string[];
  chunk?: number;
  check?: boolean;
  validate?: boolean;
  /** commander's --no-subgroups: false when given. */
  subgroups: boolean;
  grad?: boolean;
  gradMode?: string;
  precision: string;
}

const collect = (value: string, previous: string[] = []) => [...previous, value];

function writeOrCheck(files: { name: string; text: string }[], flags: CompileFlags, file: string): void {
  if (flags.check) {
    let differs = 0;
    for (const f of files) {
      const path = join(flags.out, f.name);
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
      process.stderr.write(`rnnc: ${differs} generated file${differs === 1 ? '' : 's'} in ${flags.out} differ${differs === 1 ? 's' : ''} from what ${file} compiles to; rerun without --check to update\n`);
      process.exitCode = EXIT_USER;
    } else process.stderr.write(`rnnc: ${flags.out} is up to date (${files.map((f) => f.name).join(', ')})\n`);
    return;
  }
  // All or nothing: a failed write leaves no partial output (src/driver/output.ts).
  writeAllOrNothing(flags.out, files.map((f) => ({ name: f.name, data: f.text })), flags.out);
  process.stderr.write(`rnnc: wrote ${files.map((f) => join(flags.out, f.name)).join(', ')}\n`);
}

export function registerCompile(program: Command) {
  program
    .command('compile')
    .description('compile a .rnn file to WGSL kernels, a JSON manifest and a TypeScript host module')
    .argument('<file>', '.rnn file')
    .requiredOption('-o, --out <dir>', 'output directory', pathFlag('-o'))
    .option('--mode <mode>', 'which kernels: seq (a loop over time), scan (a parallel scan; associative cells), chunk (chunked; matrix-affine cells) or auto (the planner picks; rnnc check says which and why); or newton (Newton iterations over a scan, for nonlinear cells: the linearisation\'s and the linear system\'s kernels and <cell>.newton.json)', 'seq')
    .option('--dim <NAME=SIZE>', 'set a dim size (repeatable)', collect)
    .option('--chunk <C>', 'steps per chunk for --mode chunk (lowered to fit workgroup memory)', positiveInt('--chunk'))
    .option('--check', 'compare with the files in the output directory; print a diff and exit 1 if they differ')
    .option('--validate', 'compile every kernel with Tint (Dawn) first; exit 2 with its message if one is rejected (needs a WebGPU adapter)')
    .option('--grad', 'also the backward pass: the saving forward cell, the backward cell and one cell per param, with <cell>.grad.json, the schedule that chains them')
    .option('--grad-mode <mode>', 'with --grad: the backward kernels, seq, scan or auto (default: seq with --mode seq, auto otherwise)')
    .addOption(precisionOption())
    .option('--no-subgroups', 'scan kernels without subgroup operations, for adapters without the subgroups feature or with subgroups under 8 invocations')
    .action(async (file: string, flags: CompileFlags) => {
      if (flags.mode === NEWTON_MODE && flags.precision !== 'auto' && flags.precision !== 'f32') throw new UserError(`rnnc: --precision ${flags.precision} does not go with --mode newton: its kernels are f32`, EXIT_INTERNAL);
      if (flags.mode === NEWTON_MODE) {
        const refused = flags.chunk !== undefined ? '--chunk' : flags.validate ? '--validate' : flags.grad ? '--grad' : flags.gradMode !== undefined ? '--grad-mode' : undefined;
        if (refused) throw new UserError(`rnnc: ${refused} does not go with --mode newton${refused.startsWith('--grad') ? ': the backward pass compiles with --mode seq, scan or auto' : ''}`, EXIT_INTERNAL);
        if (!flags.check) checkOutputDir(flags.out, flags.out);
        return writeOrCheck(newtonFiles(file, flags.dim, { subgroups: flags.subgroups }).files, flags, file);
      }
      // The flags first (exit 2), then the file (exit 1).
      const mode = parseMode(flags.mode, [NEWTON_MODE]);
      const precision = parsePrecision(flags.precision);
      if (flags.grad && precision !== 'auto' && precision !== 'f32') throw new UserError(`rnnc: --precision ${precision} does not go with --grad: the backward pass compiles in f32 (--precision f32 or auto)`, EXIT_INTERNAL);
      const dims = parseDimFlags(flags.dim);
      const { source, result } = loadValid(file);
      // Before any work: an output folder that cannot be written fails at once (--check only reads it).
      if (!flags.check) checkOutputDir(flags.out, flags.out);
      const compilation = plan(result.module, result.analysis!, { mode, dims, precision, target: { subgroups: flags.subgroups }, ...(flags.chunk !== undefined ? { chunk: flags.chunk } : {}) }, source);
      if (precision !== 'auto' && precision !== 'f32') process.stderr.write(`rnnc: --precision ${precision}: ${compilation.plan.precision!.why}\n`);
      if (mode === 'auto') process.stderr.write(`rnnc: --mode auto -> ${compilation.plan.mode}: ${compilation.plan.why}\n`);
      if (flags.chunk !== undefined && compilation.plan.mode !== 'chunk') warn(`--chunk has no effect: it sizes the kernels of --mode chunk, and this compiles ${compilation.plan.mode}`);
      // A bidirectional cell in chunk mode is two parts, each its own kernels (compileFiles writes both).
      const compiled = compilation.parts ? undefined : emit(compilation);
      const grad = flags.grad ? planGrad(compilation, gradModeOf(mode, flags.gradMode), { target: { subgroups: flags.subgroups } }) : undefined;
      if (!flags.grad && flags.gradMode !== undefined) warn('--grad-mode has no effect without --grad');
      const extra = grad ? await gradFiles(grad, file) : [];
      if (flags.validate) {
        const device = await openGpu();
        let errors: string[];
        try {
          errors = (await Promise.all([...(compiled ? [compiled] : compilation.parts!.map(emit)), ...(grad ? gradCompilations(grad).map(emit) : [])].map((c) => validateKernels(device, c)))).flat();
        } finally {
          await device.close();
        }
        if (errors.length) throw new UserError(`rnnc: ${errors.join('\n\n')}`, EXIT_INTERNAL);
      }
      writeOrCheck([...(await compileFiles(compilation, compiled)), ...extra], flags, file);
    });
}
