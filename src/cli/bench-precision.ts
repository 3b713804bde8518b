// `rnnc bench FILE --precision f16-storage`: f16 storage against f32 for each cell, in the mode `auto`
// plans (src/driver/bench-precision.ts), per batch and T; a markdown table (or --json) on stdout.
import { cpus, loadavg } from 'node:os';
import type { Analysis } from '../compiler/analyse/types.js';
import type { Module } from '../compiler/ir/ir.js';
import type { PrecisionRequest } from '../compiler/plan/precision.js';
import { benchPrecision, type PrecisionRow } from '../driver/bench-precision.js';
import { openGpu, targetOf } from '../driver/run.js';

export async function benchPrecisionCommand(
  cells: { file: string; module: Module; analysis: Analysis }[],
  given: Record<string, number>,
  options: { log2T: number[]; batches: number[]; repeats: number; precision: PrecisionRequest; json: boolean },
): Promise<void> {
  const rows: PrecisionRow[] = [];
  const loadBefore = loadavg()[0]!;
  const gpu = await openGpu();
  let adapter = '';
  try {
    adapter = gpu.adapter.description;
    for (const cell of cells) {
      const dims = Object.fromEntries(Object.entries(given).filter(([d]) => cell.module.dims.some((x) => x.name === d)));
      for (const batch of options.batches)
        for (const lg of options.log2T) {
          const row = await benchPrecision(gpu, cell, { mode: 'auto', dims, batch, T: 2 ** lg, repeats: options.repeats, precision: options.precision, target: targetOf(gpu.adapter) });
          rows.push(row);
          process.stderr.write(`rnnc bench: ${row.cell} ${row.mode} batch ${batch} T=2^${lg}: f32 ${row.f32Ms.toFixed(2)} ms, ${options.precision} ${row.f16Ms.toFixed(2)} ms\n`);
        }
    }
  } finally {
    await gpu.close();
  }
  const load = `load average (1 min) ${loadBefore.toFixed(1)} at the start, ${loadavg()[0]!.toFixed(1)} at the end, on ${cpus().length} CPUs`;
  if (options.json) {
    process.stdout.write(JSON.stringify({ adapter, precision: options.precision, repeats: options.repeats, load: { start: loadBefore, end: loadavg()[0]! }, rows }, null, 2) + '\n');
    return;
  }
  const mib = (n: number) => (n / 2 ** 20).toFixed(2);
  const lines = [
    `${adapter}; ${rows[0]?.timing ?? ''} timing; f32 and ${options.precision} alternating, ${options.repeats} runs each after 1 warm-up: median (fastest); ${load}.`,
    '',
    `| cell | mode | dims | batch | T | f32 inputs+params+outputs (MiB) | ${options.precision} (MiB) | f32 (ms) | ${options.precision} (ms) | f32 / ${options.precision} (medians) |`,
    '|---|---|---|---|---|---|---|---|---|---|',
    ...rows.map((r) => `| ${r.cell} | ${r.mode} | ${Object.entries(r.dims).map(([d, n]) => `${d}=${n}`).join(', ')} | ${r.batch} | ${r.T} | ${mib(r.f32Bytes)} | ${mib(r.f16Bytes)} | ${r.f32Ms.toFixed(1)} (${r.f32MinMs.toFixed(1)}) | ${r.f16Ms.toFixed(1)} (${r.f16MinMs.toFixed(1)}) | ${r.speedup.toFixed(2)} |`),
  ];
  process.stdout.write(lines.join('\n') + '\n');
}
