// `rnnc run FILE --grid H,W` on a grid cell (`rnn name grid`, issue 18). Data is laid out [batch, H, W,
// ...dims] (the time layout with T = H*W, positions in row-major order): seeded random, or .npy files
// from --inputs. The kernel:
//  - seq (the default): the wavefront kernel (backends/wgsl-grid), one kernel for any grid cell;
//  - scan, chunk: a separable cell (updates that read only `.left` or only `.up`) along its axis, a
//    time cell per row or column (src/driver/grid-scan.ts); a cell that reads both is refused;
//  - auto: the axis run (its own auto) where the cell separates, else the wavefront;
//  - reference: the float64 reference interpreter.
// --save writes [batch, H, W, ...] outputs and the final states (the state at (H-1, W-1)); --verify
// compares with the reference. Flags that have no meaning on a grid are refused with the reason.
import type { Command } from 'commander';
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import type { Analysis } from '../compiler/analyse/types.js';
import { analyseGrid } from '../compiler/analyse/grid.js';
import type { SourceFile } from '../compiler/diagnostics/render.js';
import { interpret } from '../runtime/reference/interpreter.js';
import { plan, retarget, sizesOf, type PlanOptions } from '../driver/compile.js';
import type { Mode } from '../compiler/plan/plan.js';
import { openGpu, targetOf } from '../driver/run.js';
import { assembleRunData, checkSaveDir, checkShapes, dimsFromFiles, readInputDir, type InputDir } from '../driver/inputs.js';
import { checkGridHostMemory, gridArrayShape, gridInputDir, runGridKernel, saveGridResults, timeSize, type GridRunSize } from '../driver/grid.js';
import { chooseGridAxis, runGridAlongAxis } from '../driver/grid-scan.js';
import { verifyRun, type Verification } from '../driver/verify.js';
import { summarize, summaryLines, verificationLines } from '../driver/run-report.js';
import { RnncError } from '../driver/errors.js';
import type { RunResult } from '../../backends/backend.js';
import { EXIT_INTERNAL, EXIT_USER, parseDimFlags, UserError, warn } from './io.js';
import { parsePrecision } from './precision.js';
import type { RunFlags } from './run-flags.js';


/** `--grid H,W`: two positive integers. */
export function parseGrid(value: string): { H: number; W: number } {
  const m = /^\s*(\d+)\s*[,x]\s*(\d+)\s*$/.exec(value);
  const H = m ? Number(m[1]) : NaN;
  const W = m ? Number(m[2]) : NaN;
  if (!(H >= 1 && W >= 1) || !Number.isSafeInteger(H * W)) throw new UserError(`rnnc: --grid must be H,W (rows and columns, positive integers), got '${value}'`, EXIT_INTERNAL);
  return { H, W };
}

const GRID_MODES = ['seq', 'scan', 'chunk', 'auto', 'reference'] as const;
type GridMode = (typeof GRID_MODES)[number];

/** Flags a grid run never takes, and why (refused with exit 2 when set on the command line). */
const REFUSED: Record<string, string> = {
  T: 'a grid has no time axis: give its rows and columns with --grid H,W',
  lengths: 'every position of a grid runs (a grid has no per-sequence lengths)',
  grad: 'the gradients of a grid cell are not built (the backward pass runs over time only)',
  gradMode: 'the gradients of a grid cell are not built (the backward pass runs over time only)',
  checkpoint: 'the gradients of a grid cell are not built (the backward pass runs over time only)',
};
const flagName = (o: string) => (o === 'T' ? '--T' : `--${o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`);
const DEFAULT_BATCH = 1;

/** `warned`: the time path already warned about the flags that need --verify (a grid cell found after loading the file). */
export async function runGridCommand(source: SourceFile, module: Module, analysis: Analysis | undefined, flags: RunFlags, command: Command, warned = false): Promise<void> {
  const set = (o: string) => command.getOptionValueSource(o) === 'cli';
  if (flags.mode === 'newton') throw new UserError(`rnnc: RNN0512: ${module.name} is a grid cell: Newton iterations run over one time axis, so --mode newton cannot run it; --mode seq (the wavefront kernel), scan (a separable cell along its axis) or reference does`, EXIT_INTERNAL);
  if (!(GRID_MODES as readonly string[]).includes(flags.mode)) throw new UserError(`rnnc: --mode must be one of ${GRID_MODES.join(', ')} for a grid cell, got '${flags.mode}'`, EXIT_INTERNAL);
  const mode = flags.mode as GridMode;
  const refused = Object.keys(REFUSED).filter(set);
  if (refused.length) throw new UserError(`rnnc: ${refused.map(flagName).join(', ')} ${refused.length === 1 ? 'does' : 'do'} not go with a grid cell: ${[...new Set(refused.map((o) => REFUSED[o]))].join('; ')}`, EXIT_INTERNAL);
  if (mode === 'reference' && flags.verify) throw new UserError('rnnc: --verify compares a kernel with the reference interpreter, and --mode reference is the reference: run a kernel (--mode seq, scan or auto) to verify it', EXIT_INTERNAL);
  if (set('segment') && (mode === 'seq' || mode === 'reference')) throw new UserError(`rnnc: --segment does not go with --mode ${mode} on a grid cell: it cuts a time axis into pieces, and ${mode === 'seq' ? 'the wavefront kernel runs the whole grid at once' : 'the reference runs in host memory'}`, EXIT_INTERNAL);
  if (set('chunk') && mode !== 'chunk') warn(`--chunk has no effect: it sizes the kernels of --mode chunk, and this run uses ${mode}`);
  const precision = parsePrecision(flags.precision);
  const warnings: string[] = [];
  const warnAll = (list: string[]) => {
    list.forEach(warn);
    warnings.push(...list);
  };
  if (!warned) warnAll(['tolerance', 'allowNonfinite'].filter((o) => set(o) && !flags.verify).map((o) => `${flagName(o)} has no effect without --verify`));
  const given = parseDimFlags(flags.dim);
  const grid = flags.grid !== undefined ? parseGrid(flags.grid) : undefined;

  // The files first: they may give the grid, the batch and the dims.
  let inputDir: InputDir | undefined;
  const wanted: Partial<GridRunSize> = { ...(grid ?? {}), ...(flags.batch !== undefined ? { batch: flags.batch } : {}) };
  let fromFiles: Partial<GridRunSize> = wanted;
  if (flags.inputs !== undefined) {
    const read = await readInputDir(flags.inputs, module);
    for (const n of read.notes) process.stderr.write(n + '\n');
    warnAll(read.warnings);
    ({ dir: inputDir, size: fromFiles } = gridInputDir(module, read, wanted));
  }
  if (fromFiles.H === undefined || fromFiles.W === undefined) throw new UserError(`rnnc: ${module.name} is a grid cell: give its rows and columns with --grid H,W${flags.inputs !== undefined ? ` (${flags.inputs} has no input file to take them from)` : ''}`, EXIT_INTERNAL);
  const size: GridRunSize = { batch: fromFiles.batch ?? DEFAULT_BATCH, H: fromFiles.H, W: fromFiles.W };
  const dims = inputDir ? { ...dimsFromFiles(module, inputDir, given), ...given } : given;
  const options: PlanOptions = { dims, verb: 'run', precision, ...(flags.chunk !== undefined ? { chunk: flags.chunk } : {}) };
  // Planned before the GPU starts: the wavefront's plan, or the axis a separable cell runs along.
  const gridAnalysis = analyseGrid(module);
  const axis = chooseGridAxis(module, gridAnalysis);
  const alongAxis = mode === 'scan' || mode === 'chunk' || (mode === 'auto' && typeof axis !== 'string');
  if (alongAxis && typeof axis === 'string') throw new RnncError(`rnnc: ${module.name} cannot take --mode ${mode}: ${axis} (--mode seq)`);
  let compilation = mode === 'reference' || alongAxis ? undefined : plan(module, analysis!, { ...options, mode: 'seq' }, source);
  const sizes = compilation?.sizes ?? sizesOf(module, dims);
  if (inputDir) checkShapes(module, sizes, timeSize(size), inputDir);
  if (flags.save !== undefined) checkSaveDir(flags.save, module);
  checkGridHostMemory(module, sizes, size, { verify: Boolean(flags.verify) });
  const { data, sources, warnings: missing } = assembleRunData(module, sizes, timeSize(size), flags.seed, inputDir);
  warnAll(missing);
  const shape = { batch: size.batch, T: size.H * size.W, sizes, grid: { H: size.H, W: size.W } };
  const cellData = { inputs: data.inputs, params: data.params, ...(data.initialState ? { initial: data.initialState } : {}) };

  let got: RunResult;
  let kernel: { mode: string; why: string; axis?: string };
  let adapter: string | undefined;
  if (mode === 'reference') {
    const r = interpret(module, shape, cellData);
    got = { outputs: Object.fromEntries(Object.entries(r.outputs).map(([n, a]) => [n, Float32Array.from(a)])), finalState: Object.fromEntries(Object.entries(r.final).map(([n, a]) => [n, Float32Array.from(a)])) };
    kernel = { mode: 'reference', why: 'the float64 reference interpreter, positions in row-major order' };
  } else {
    const gpu = await openGpu(flags.timeout !== undefined ? { jobTimeoutMs: flags.timeout * 1000 } : undefined);
    adapter = gpu.adapter.description;
    try {
      const timedOut = (e: unknown) => {
        if (flags.timeout === undefined || !(e instanceof RnncError) || e.gpu !== 'timeout') throw e;
        throw new UserError(`rnnc: the GPU run did not finish within --timeout ${flags.timeout} s; it was stopped and nothing was written (a smaller --grid, --batch or --dim, or a longer --timeout)`, EXIT_USER);
      };
      if (alongAxis) {
        const choice = axis as Exclude<typeof axis, string>;
        // auto: the scan where the view along the axis is one, else the loop over each line's steps.
        const axisMode: Mode = mode === 'auto' ? (choice.analysis.plan ? 'scan' : 'seq') : (mode as Mode);
        const r = await runGridAlongAxis(module, gridAnalysis, sizes, size, data, gpu, { mode: axisMode, plan: { precision, ...(flags.chunk !== undefined ? { chunk: flags.chunk } : {}) }, ...(flags.segment !== undefined ? { segment: flags.segment } : {}) }).catch(timedOut);
        got = r;
        kernel = { mode: r.compilation.plan.mode, axis: r.axis, why: `along the ${r.axis}, ${r.axis === 'rows' ? 'each row' : 'each column'} a sequence: ${r.compilation.plan.why}` };
      } else {
        compilation = retarget(compilation!, targetOf(gpu.adapter), { ...options, mode: 'seq' });
        got = await runGridKernel(gpu, compilation, data, size).catch(timedOut);
        kernel = { mode: 'seq', why: compilation.plan.why };
      }
    } finally {
      await gpu.close();
    }
  }

  const saving = flags.save !== undefined ? saveGridResults(flags.save, module, sizes, size, got) : undefined;
  const outputs = tensorsOf(module, 'output').map((t) => summarize(t.name, gridArrayShape(t, sizes, size), got.outputs[t.name]!));
  const finals = tensorsOf(module, 'state').map((t) => summarize(t.name, gridArrayShape(t, sizes, size), got.finalState[t.name]!));
  const saved = await saving;
  let verification: Verification | undefined;
  if (flags.verify) verification = verifyRun(got, interpret(module, shape, cellData), flags.tolerance, { rejectNonFinite: !flags.allowNonfinite });
  const failed = verification !== undefined && !verification.ok;

  const where = kernel.mode === 'reference' ? 'the reference interpreter (float64)' : `${adapter}: ${kernel.axis ? `${kernel.mode} kernel along the ${kernel.axis}` : 'wavefront kernel (seq)'}`;
  if (flags.json) {
    const report = {
      file: source.path,
      ok: !failed,
      name: module.name,
      mode: kernel.mode,
      ...(kernel.axis ? { axis: kernel.axis } : {}),
      why: kernel.why,
      ...(adapter ? { adapter } : {}),
      grid: { H: size.H, W: size.W },
      batch: size.batch,
      dims: sizes,
      seed: flags.seed,
      sources,
      warnings,
      outputs,
      finalStates: finals,
      ...(saved ? { saved } : {}),
      ...(verification ? { verify: { reference: 'float64', criterion: '|gpu - ref| <= tolerance * (1 + |ref|)', ...verification } } : {}),
    };
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
  } else {
    const dimText = Object.entries(sizes).map(([d, n]) => `${d}=${n}`).join(', ');
    const lines = [
      `${source.path}: ${module.name} on ${where} — grid ${size.H} x ${size.W}, batch ${size.batch}${dimText ? `, ${dimText}` : ''}, seed ${flags.seed}`,
      ...summaryLines(outputs, finals),
      ...(saved ? [`saved ${saved.join(', ')}`] : []),
      ...(verification ? verificationLines(verification) : []),
    ];
    process.stdout.write(lines.join('\n') + '\n');
  }
  if (failed) {
    process.stderr.write(`rnnc: verification failed: the GPU results differ from the reference by more than ${flags.tolerance}\n`);
    process.exitCode = EXIT_USER;
  }
}
