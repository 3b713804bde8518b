// `rnnc bench [FILE...] [--all]`: times the scan kernel against the sequential kernel and an
// elementwise kernel moving the same bytes, for each associative cell, on the session's adapter.
// With --all (the examples) or --out it writes the report: markdown, JSON and an SVG plot.
import { readdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Command } from 'commander';
import { benchExample } from '../driver/bench.js';
import { plan } from '../driver/compile.js';
import { RnncError } from '../driver/errors.js';
import { openGpu, targetOf } from '../driver/run.js';
import { markdownReport, svgPlot, type BenchReport } from '../driver/bench-report.js';
import { EXIT_INTERNAL, loadValid, MAX_SIZE, parseDimFlags, pathFlag, UserError } from './io.js';
import { checkOutputDir, writeAllOrNothing } from '../driver/output.js';

interface BenchFlags {
  all?: boolean;
  minLog2T: string;
  maxLog2T: string;
  batches: string;
  repeats: string;
  out?: string;
  json?: boolean;
  dim?: string[];
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
    .description('time the scan kernel against the sequential kernel and a copy kernel moving the same bytes')
    .argument('[files...]', '.rnn files (associative cells)')
    .option('--all', 'every associative cell in bench/cells/ and examples/, writing docs/bench.{md,json,svg}')
    .option('--min-log2-t <n>', 'shortest length, as log2 T', '10')
    .option('--max-log2-t <n>', 'longest length, as log2 T', '22')
    .option('--batches <list>', 'batch sizes (channels = batch x state floats per sequence)', '1,16')
    .option('--repeats <n>', 'timed repeats per kernel (the median is reported)', '5')
    .option('--out <file.md>', 'write the markdown report here (and .json, .svg beside it)', pathFlag('--out'))
    .option('--dim <NAME=SIZE>', 'set a dim size of every cell benchmarked (repeatable)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--json', 'print the rows as JSON on stdout')
    .action(async (files: string[], flags: BenchFlags) => {
      const rnnFiles = (dir: string) => readdirSync(dir).filter((f) => f.endsWith('.rnn')).sort().map((f) => join(dir, f));
      // The examples, and the bench cells the speed targets are stated on (affine, cumsum).
      if (flags.all) files = [...files, ...rnnFiles('bench/cells'), ...rnnFiles('examples')];
      // The flags first (exit 2), before any GPU work.
      if (files.length === 0) throw new UserError('rnnc: bench needs a .rnn file or --all', EXIT_INTERNAL);
      const [lo, hi] = [log2T(flags.minLog2T, '--min-log2-t'), log2T(flags.maxLog2T, '--max-log2-t')];
      if (lo > hi) throw new UserError(`rnnc: --min-log2-t (${lo}) is more than --max-log2-t (${hi}): no lengths to run`, EXIT_INTERNAL);
      const batches = ints(flags.batches, '--batches');
      const repeats = ints(flags.repeats, '--repeats', true)[0]!;
      // Every file read and checked before the GPU starts: a missing or invalid one fails at once (exit 1).
      const cells = new Map(files.map((file) => {
        const { result } = loadValid(file);
        return [file, { module: result.module, analysis: result.analysis! }] as const;
      }));
      const given = parseDimFlags(flags.dim);
      const out = flags.out ?? (flags.all ? 'docs/bench.md' : undefined);
      const outNames = out ? [basename(out), basename(out).replace(/\.md$/, '') + '.json', basename(out).replace(/\.md$/, '') + '.svg'] : [];
      if (out) checkOutputDir(dirname(out), `--out ${out}`, outNames);
      const options = {
        log2T: Array.from({ length: hi - lo + 1 }, (_, k) => lo + k).filter((_, k, all) => k % 2 === 0 || k === all.length - 1),
        batches,
        repeats,
        maxBytes: 1 << 30,
        progress: (line: string) => process.stderr.write(`rnnc bench: ${line}\n`),
      };
      const report: BenchReport = { adapter: '', timingMethod: '', date: new Date().toISOString().slice(0, 10), rows: [], notes: [] };
      const skipped: string[] = [];
      const gpu = await openGpu();
      try {
        for (const file of files) {
          const { module, analysis } = cells.get(file)!;
          // With --all, each cell takes the --dim sizes of the dims it declares; a named file takes them all (an unknown one is an error).
          const dims = flags.all ? Object.fromEntries(Object.entries(given).filter(([d]) => module.dims.some((x) => x.name === d))) : given;
          let compilation;
          try {
            compilation = plan(module, analysis, { mode: 'scan', dims, target: targetOf(gpu.adapter) });
          } catch (e) {
            if (!(e instanceof RnncError)) throw e;
            if (!flags.all) throw new UserError(`rnnc: ${file}: nothing to benchmark: ${e.message.replace(/^rnnc: /, '')}`);
            continue;
          }
          const r = await benchExample(gpu, file, compilation, options);
          report.rows.push(...r.rows);
          skipped.push(...r.skipped);
          report.adapter ||= r.adapter;
          report.timingMethod ||= r.timingMethod;
        }
      } finally {
        await gpu.close();
      }
      report.notes.push(
        `Lengths 2^${lo}..2^${hi} (every other power of two), batches ${options.batches.join(', ')}. Skipped: configurations over ${options.maxBytes / 2 ** 20} MiB of inputs and outputs (lavapipe keeps GPU memory in host memory), and those needing a buffer over the adapter's storage-binding limit${skipped.length ? `: ${skipped.join('; ')}` : ' (none)'}.`,
        '`traffic` counts the inputs once per pass over the steps (reduce-then-scan reads them twice), the outputs once and the aggregates; the ideal single pass is 1.00×.',
      );
      if (flags.json) process.stdout.write(JSON.stringify(report, null, 2) + '\n');
      if (out) {
        const command = `rnnc bench ${flags.all ? '--all' : files.join(' ')} --min-log2-t ${lo} --max-log2-t ${hi} --batches ${options.batches.join(',')} --repeats ${options.repeats}${(flags.dim ?? []).map((d) => ` --dim ${d}`).join('')}`;
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
