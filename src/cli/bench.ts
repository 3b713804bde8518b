// `rnnc bench [FILE...] [--all]`: times the scan kernel against the sequential kernel and two
// bandwidth yardsticks moving the same bytes (the best of a few shapes of an elementwise kernel, and
// copyBufferToBuffer), for each associative cell, on the session's adapter. A cell the scan refuses
// at the sizes given is timed sequentially only, with the planner's reason. With --all (the
// examples) or --out it writes the report: markdown, JSON and an SVG plot. With --mode newton it times
// Newton iterations against the sequential kernel instead (src/cli/newton.ts).
import { readdirSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { benchCell } from '../driver/bench.js';
import { plan } from '../driver/compile.js';
import { RnncError } from '../driver/errors.js';
import { openGpu, targetOf } from '../driver/run.js';
import { markdownReport, svgPlot, type BenchReport } from '../driver/bench-report.js';
import { ELEMENTWISE_SHAPES, parseShape, shapeName } from '../../backends/wgsl/elementwise-kernel.js';
import { EXIT_INTERNAL, loadValid, MAX_SIZE, parseDimFlags, pathFlag, UserError } from './io.js';
import { checkOutputDir, writeAllOrNothing } from '../driver/output.js';
import { benchNewtonCommand, NEWTON_MODE, newtonMaxIterOption, newtonTolOption } from './newton.js';
import { parsePrecision, precisionOption } from './precision.js';
import { benchPrecisionCommand } from './bench-precision.js';

interface BenchFlags {
  all?: boolean;
  minLog2T: string;
  maxLog2T: string;
  batches: string;
  batch?: string;
  repeats: string;
  maxRowS: string;
  shapes?: string;
  out?: string;
  json?: boolean;
  dim?: string[];
  mode: string;
  newtonTol?: number;
  newtonMaxIter?: number;
  precision: string;
}

/** A comma-separated list of positive integers (a flag's value: a usage error, exit 2); `one` for a single number. */
const ints = (s: string, what: string, one = false) => {
  const list = s.split(',');
  if ((one && list.length !== 1) || list.some((x) => !/^\d+$/.test(x) || Number(x) < 1 || Number(x) > MAX_SIZE))
    throw new UserError(`rnnc: ${what} must be ${one ? 'a positive integer' : 'positive integers separated by commas'}, got '${s}'`, EXIT_INTERNAL);
  return list.map(Number);
};
/** log2 of a length: 1 to 30. */
const log2T = (s: string, what: string) => {
  if (!/^\d+$/.test(s) || Number(s) < 1 || Number(s) > 30) throw new UserError(`rnnc: ${what} must be an integer from 1 to 30, got '${s}'`, EXIT_INTERNAL);
  return Number(s);
};

export function registerBench(program: Command) {
  program
    .command('bench')
    .description('time the scan kernel against the sequential kernel, an elementwise kernel and copyBufferToBuffer moving the same bytes; or, with --mode newton, Newton iterations against the sequential kernel')
    .argument('[files...]', '.rnn files (associative cells; with --mode newton, cells with state, e.g. nonlinear ones)')
    .option('--mode <mode>', `scan: the scan against seq and the bandwidth yardsticks; ${NEWTON_MODE}: --mode newton against --mode seq (iterations, final residual, both times and their ratio, and how far newton's results are from seq's; batch 1 unless --batch is given)`, 'scan')
    .option('--all', 'every associative cell in bench/cells/ and examples/, writing docs/bench.{md,json,svg}')
    .option('--min-log2-t <n>', 'shortest length, as log2 T', '10')
    .option('--max-log2-t <n>', 'longest length, as log2 T', '22')
    .option('--batches <list>', 'batch sizes, e.g. heads (channels = batch x state floats per sequence)', '1,16')
    .option('--batch <list>', 'the same as --batches')
    .option('--repeats <n>', 'timed repeats per kernel (the median is reported)', '5')
    .option('--shapes <list>', `elementwise yardstick shapes to try: VxW, a run of V contiguous vec4s per invocation in workgroups of W, or VxWs, strided (consecutive invocations on consecutive vec4s) (default ${ELEMENTWISE_SHAPES.map(shapeName).join(',')})`)
    .option('--max-row-s <n>', 'skip a row estimated (from the one before, scaled by T) to take longer than this many seconds', '120')
    .option('--out <file.md>', 'write the markdown report here (and .json, .svg beside it)', pathFlag('--out'))
    .option('--dim <NAME=SIZE>', 'set a dim size of every cell benchmarked that declares it (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--json', 'print the rows as JSON on stdout')
    .addOption(newtonTolOption())
    .addOption(newtonMaxIterOption())
    .addOption(precisionOption())
    .action(async (files: string[], flags: BenchFlags, command: Command) => {
      if (flags.mode !== 'scan' && flags.mode !== NEWTON_MODE) throw new UserError(`rnnc: bench --mode must be scan or ${NEWTON_MODE}, got '${flags.mode}'`, EXIT_INTERNAL);
      const newton = flags.mode === NEWTON_MODE;
      const misplaced = newton
        ? (['all', 'out', 'shapes'] as const).filter((k) => flags[k] !== undefined).map((k) => `--${k}`)
        : (['newtonTol', 'newtonMaxIter'] as const).filter((k) => flags[k] !== undefined).map((k) => (k === 'newtonTol' ? '--newton-tol' : '--newton-max-iter'));
      if (misplaced.length) throw new UserError(`rnnc: ${misplaced[0]} ${newton ? 'does not go with --mode newton (it prints its table, or --json)' : 'goes only with --mode newton'}`, EXIT_INTERNAL);
      const rnnFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.rnn')).sort().map((f) => join(dir, f));
      // The examples, and the bench cells the speed targets are stated on (affine, cumsum).
      if (flags.all) files = [...files, ...rnnFiles('bench/cells'), ...rnnFiles('examples')];
      // The flags first (exit 2), before any GPU work.
      if (files.length === 0) throw new UserError('rnnc: bench needs a .rnn file or --all', EXIT_INTERNAL);
      const [lo, hi] = [log2T(flags.minLog2T, '--min-log2-t'), log2T(flags.maxLog2T, '--max-log2-t')];
      if (lo > hi) throw new UserError(`rnnc: --min-log2-t (${lo}) is more than --max-log2-t (${hi}): no lengths to run`, EXIT_INTERNAL);
      if (flags.batch !== undefined && flags.batches !== '1,16') throw new UserError('rnnc: give --batch or --batches, not both (they are the same flag)', EXIT_INTERNAL);
      // Newton measures one sequence unless told otherwise: its point is a batch too small to fill the GPU.
      const batchesGiven = flags.batch !== undefined || command.getOptionValueSource('batches') !== 'default';
      const batches = newton && !batchesGiven ? [1] : ints(flags.batch ?? flags.batches, flags.batch !== undefined ? '--batch' : '--batches');
      const repeats = ints(flags.repeats, '--repeats', true)[0]!;
      const maxRowSeconds = ints(flags.maxRowS, '--max-row-s', true)[0]!;
      const shapes = flags.shapes === undefined ? ELEMENTWISE_SHAPES : flags.shapes.split(',').map((x) => {
        const shape = parseShape(x);
        if (!shape || shape.perInvocation < 1 || shape.perInvocation > 256 || shape.workgroup < 1 || shape.workgroup > 256)
          throw new UserError(`rnnc: --shapes must be VxW pairs (vec4s per invocation x workgroup size, each 1 to 256; VxWs for strided) separated by commas, got '${flags.shapes}'`, EXIT_INTERNAL);
        return shape;
      });
      // Every file read and checked before the GPU starts: a missing or invalid one fails at once (exit 1).
      const cells = new Map(files.map((file) => {
        const { result } = loadValid(file);
        return [file, { module: result.module, analysis: result.analysis! }] as const;
      }));
      const given = parseDimFlags(flags.dim);
      // Each cell takes the --dim sizes of the dims it declares (GLA's K and V, Mamba's D and N in one run); a dim no cell declares is a typo.
      for (const d of Object.keys(given))
        if (![...cells.values()].some(({ module }) => module.dims.some((x) => x.name === d)))
          throw new UserError(`rnnc: --dim ${d}: no cell benchmarked declares a dim \`${d}\` (${[...cells.values()].map(({ module }) => `${module.name}: ${module.dims.map((x) => x.name).join(', ') || 'none'}`).join('; ')})`);
      const lengths = Array.from({ length: hi - lo + 1 }, (_, k) => lo + k).filter((_, k, all) => k % 2 === 0 || k === all.length - 1);
      // --precision f16-storage or f16: f16 storage against f32, in the mode auto plans (src/cli/bench-precision.ts).
      const precision = parsePrecision(flags.precision);
      if (precision !== 'auto' && precision !== 'f32') {
        const refused = newton ? '--mode newton' : flags.all ? '--all' : flags.out !== undefined ? '--out' : flags.shapes !== undefined ? '--shapes' : undefined;
        if (refused) throw new UserError(`rnnc: ${refused} does not go with --precision ${precision} (it times f16 storage against f32 and prints its table, or --json)`, EXIT_INTERNAL);
        return benchPrecisionCommand(files.map((file) => ({ file, ...cells.get(file)! })), given, { log2T: lengths, batches, repeats, precision, json: Boolean(flags.json) });
      }
      if (newton)
        return benchNewtonCommand(
          files.map((file) => ({ file, ...cells.get(file)! })),
          given,
          { log2T: lengths, batches, repeats, maxRowSeconds, ...(flags.newtonTol !== undefined ? { tol: flags.newtonTol } : {}), ...(flags.newtonMaxIter !== undefined ? { maxIter: flags.newtonMaxIter } : {}), json: Boolean(flags.json) },
        );
      const out = flags.out ?? (flags.all ? 'docs/bench.md' : undefined);
      const outNames = out ? [basename(out), basename(out).replace(/\.md$/, '') + '.json', basename(out).replace(/\.md$/, '') + '.svg'] : [];
      if (out) checkOutputDir(dirname(out), `--out ${out}`, outNames);
      const options = {
        log2T: lengths,
        batches,
        repeats,
        maxBytes: 1 << 30,
        maxRowSeconds,
        shapes,
        progress: (line: string) => process.stderr.write(`rnnc bench: ${line}\n`),
      };
      const report: BenchReport = { adapter: '', timingMethod: '', copyTimingMethod: '', date: new Date().toISOString().slice(0, 10), rows: [], notes: [] };
      const skipped: string[] = [];
      const unplanned: string[] = [];
      const preferred: string[] = [];
      const loadBefore = loadavg()[0]!;
      const gpu = await openGpu();
      try {
        for (const file of files) {
          const { module, analysis } = cells.get(file)!;
          const dims = Object.fromEntries(Object.entries(given).filter(([d]) => module.dims.some((x) => x.name === d)));
          // A grid cell has no time axis to lengthen (its wavefront kernel: scripts/bench-grid.ts).
          if (module.grid) {
            const why = `${module.name} is a grid cell: rnnc bench times kernels over a time axis of 2^k steps, and a grid has rows and columns (scripts/bench-grid.ts times the wavefront kernel)`;
            if (!flags.all) throw new UserError(`rnnc: ${file}: nothing to benchmark: ${why}`);
            unplanned.push(why);
            continue;
          }
          let compilation;
          try {
            // auto: the scan where the scan backend takes the cell at these sizes, else the sequential loop (and why).
            compilation = plan(module, analysis, { mode: 'auto', dims, target: targetOf(gpu.adapter), verb: 'bench' });
          } catch (e) {
            if (!(e instanceof RnncError)) throw e;
            if (!flags.all) throw new UserError(`rnnc: ${file}: nothing to benchmark: ${e.message.replace(/^rnnc: /, '')}`);
            unplanned.push(`${module.name}: ${e.message.replace(/^rnnc: /, '')}`);
            continue;
          }
          const scanWhy = compilation.plan.considered.find((m) => m.mode === 'scan');
          // A cell with no associative state has nothing to compare; one the scan refuses only at these sizes runs sequentially.
          if (compilation.plan.mode !== 'scan' && !analysis.plan) {
            if (!flags.all) throw new UserError(`rnnc: ${file}: nothing to benchmark: ${module.name} cannot take --mode scan: ${scanWhy?.why ?? compilation.plan.why}`);
            continue;
          }
          // The scan takes the cell though auto prefers the sequential loop: the scan is what is measured (as --mode scan would run it).
          if (compilation.plan.mode !== 'scan' && scanWhy?.ok) {
            preferred.push(`${module.name}: auto plans the sequential loop at these sizes (${compilation.plan.why}); timed as --mode scan runs it.`);
            compilation = plan(module, analysis, { mode: 'scan', dims, target: targetOf(gpu.adapter), verb: 'bench' });
          }
          const r = await benchCell(gpu, file, compilation, options);
          report.rows.push(...r.rows);
          skipped.push(...r.skipped);
          report.adapter ||= r.adapter;
          report.timingMethod ||= r.timingMethod;
          report.copyTimingMethod ||= r.copyTimingMethod;
        }
      } finally {
        await gpu.close();
      }
      report.notes.push(
        `Lengths 2^${lo}..2^${hi} (every other power of two), batches ${options.batches.join(', ')}. Skipped: configurations over ${options.maxBytes / 2 ** 20} MiB of inputs and outputs (lavapipe keeps GPU memory in host memory), those needing a buffer over the adapter's storage-binding limit, and those estimated to take over ${maxRowSeconds} s${skipped.length ? `: ${skipped.join('; ')}` : ' (none)'}.`,
        '`traffic` counts the inputs once per pass over the steps (reduce-then-scan reads them twice), the outputs once and the aggregates; the ideal single pass is 1.00×.',
        `Elementwise shapes tried (vec4s per invocation × workgroup size; s: strided, consecutive invocations on consecutive vec4s): ${shapes.map(shapeName).join(', ')}, all in one job (a pass each); streams over the storage-binding limit are cut into pieces, a dispatch each, timed together.`,
        `copyBufferToBuffer copies half the single-pass bytes (each byte read once and written once), ${report.copyTimingMethod === 'timestamp' ? 'timed from the end timestamp of an empty compute pass before the copies to the beginning timestamp of one after them, on the same encoder (WebGPU has no timestamps in copies; lavapipe runs commands in order, so the bracket holds the copies and nothing else)' : 'timed by wall clock, submit to done'}.`,
        ...(unplanned.length ? [`Not planned at these sizes: ${unplanned.join('; ')}.`] : []),
        ...preferred,
        // lavapipe runs the kernels on the CPUs: what else ran there is part of every figure.
        `Load average (1 min) at the start and the end: ${loadBefore.toFixed(1)} and ${loadavg()[0]!.toFixed(1)}, on ${cpus().length} CPUs.`,
      );
      if (flags.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      if (out) {
        const command = `rnnc bench ${flags.all ? '--all' : files.join(' ')} --min-log2-t ${lo} --max-log2-t ${hi} --batches ${options.batches.join(',')} --repeats ${options.repeats}${flags.maxRowS !== '120' ? ` --max-row-s ${maxRowSeconds}` : ''}${flags.shapes !== undefined ? ` --shapes ${flags.shapes}` : ''}${(flags.dim ?? []).map((d) => ` --dim ${d}`).join('')}`;
        const [md, json, svg] = outNames as [string, string, string];
        writeAllOrNothing(
          dirname(out),
          [
            { name: md, data: markdownReport(report, command) },
            { name: json, data: JSON.stringify(report, null, 2) + '\n' },
            { name: svg, data: svgPlot(report) },
          ],
          `--out ${out}`,
        );
        process.stderr.write(`rnnc bench: wrote ${out} (+ .json, .svg)\n`);
      } else if (!flags.json) process.stderr.write(markdownReport(report, 'rnnc bench'));
    });
}
