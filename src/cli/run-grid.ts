// `rnnc run FILE --grid H,W` on a grid cell (issue 18): no kernel is built for a grid yet, so the run
// goes through the float64 reference interpreter, on seeded random data laid out [batch, H, W, ...dims]
// (the time layout with T = H*W, positions in row-major order), and prints the same checksums as a GPU
// run. Flags that only make sense for kernels or files are refused with the reason.
import type { Command } from 'commander';
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import { tensorSize } from '../compiler/ir/dims.js';
import type { SourceFile } from '../compiler/diagnostics/render.js';
import { interpret } from '../runtime/reference/interpreter.js';
import { sizesOf } from '../driver/compile.js';
import { assembleRunData } from '../driver/inputs.js';
import { summarize, summaryLines } from '../driver/run-report.js';
import { EXIT_INTERNAL, parseDimFlags, UserError } from './io.js';

export interface GridRunFlags {
  mode: string;
  grid?: string;
  batch?: number;
  dim?: string[];
  seed: number;
  json?: boolean;
}

/** `--grid H,W`: two positive integers. */
export function parseGrid(value: string): { H: number; W: number } {
  const m = /^\s*(\d+)\s*[,x]\s*(\d+)\s*$/.exec(value);
  const H = m ? Number(m[1]) : NaN;
  const W = m ? Number(m[2]) : NaN;
  if (!(H >= 1 && W >= 1) || !Number.isSafeInteger(H * W)) throw new UserError(`rnnc: --grid must be H,W (rows and columns, positive integers), got '${value}'`, EXIT_INTERNAL);
  return { H, W };
}

/** The flags a grid run does not take yet: set on the command line, they are refused (exit 2). */
const kernelOnly = ['T', 'chunk', 'inputs', 'save', 'verify', 'tolerance', 'allowNonfinite', 'segment', 'grad', 'gradMode', 'checkpoint', 'timeout', 'precision', 'lengths'];
const flagName = (o: string) => `--${o.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;

export function runGridCommand(source: SourceFile, module: Module, flags: GridRunFlags, command: Command): void {
  const explicitMode = command.getOptionValueSource('mode') === 'cli';
  if (explicitMode && flags.mode !== 'reference') {
    throw new UserError(`rnnc: RNN0512: ${module.name} is a grid cell: its kernels are not built yet, so --mode ${flags.mode} cannot run it; without --mode (or with --mode reference) rnnc run runs it on the reference interpreter`, EXIT_INTERNAL);
  }
  const refused = kernelOnly.filter((o) => command.getOptionValueSource(o) === 'cli');
  if (refused.length) throw new UserError(`rnnc: ${refused.map(flagName).join(', ')} ${refused.length === 1 ? 'does' : 'do'} not go with a grid cell yet: it runs on the reference interpreter with seeded random data (--grid H,W, --batch, --dim, --seed, --json)`, EXIT_INTERNAL);
  if (flags.grid === undefined) throw new UserError(`rnnc: ${module.name} is a grid cell: give its rows and columns with --grid H,W`, EXIT_INTERNAL);
  const { H, W } = parseGrid(flags.grid);
  const batch = flags.batch ?? 1;
  const sizes = sizesOf(module, parseDimFlags(flags.dim));
  const size = { batch, T: H * W };
  const { data, sources } = assembleRunData(module, sizes, size, flags.seed, undefined);
  const result = interpret(module, { batch, T: H * W, sizes, grid: { H, W } }, { inputs: data.inputs, params: data.params, initial: data.initialState ?? {} });

  const dimSizes = (dims: string[]) => dims.map((d) => sizes[d]!);
  const outputs = tensorsOf(module, 'output').map((t) => summarize(t.name, [batch, H, W, ...dimSizes(t.dims)], Float32Array.from(result.outputs[t.name]!)));
  const finals = tensorsOf(module, 'state').map((t) => summarize(t.name, [batch, ...dimSizes(t.dims)], Float32Array.from(result.final[t.name]!)));
  if (flags.json) {
    const report = { file: source.path, ok: true, name: module.name, mode: 'reference', grid: { H, W }, batch, dims: sizes, seed: flags.seed, sources, outputs, finalStates: finals };
    process.stdout.write(JSON.stringify(report, null, 2) + '\n');
    return;
  }
  const dims = Object.entries(sizes).map(([d, n]) => `${d}=${n}`).join(', ');
  const elements = tensorsOf(module, 'input').reduce((n, t) => n + tensorSize(t, sizes), 0);
  const lines = [
    `${source.path}: ${module.name} on the reference interpreter (float64; no grid kernel yet) — grid ${H} x ${W}, batch ${batch}${dims ? `, ${dims}` : ''}, seed ${flags.seed}, ${elements} input value${elements === 1 ? '' : 's'} per position`,
    ...summaryLines(outputs, finals),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
