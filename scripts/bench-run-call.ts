// The whole call of `rnnc run --inputs DIR --save OUT` after process start-up, stage by stage, beside
// its kernels' time: the cumsum scan of bench/cells/cumsum.rnn (one vector, length T). Each stage is
// the driver call the CLI makes (src/cli/run.ts): read the .npy files, assemble the run's arrays,
// run (cut to the adapter's limits, pack, transfer, dispatch, read back, decode), checksum the
// results, save them as .npy. The kernels' time is the same job's passes timed with timestamp
// queries. Medians over the repeats, after a warm-up call that compiles the kernels.
//
//   npx tsx --expose-gc scripts/bench-run-call.ts [--log2-t 20,22] [--repeats 9]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { plan } from '../src/driver/compile.js';
import { openGpu, targetOf } from '../src/driver/run.js';
import { fitRun, runSegmented } from '../src/driver/segments.js';
import { assembleRunData, readInputDir, saveResults } from '../src/driver/inputs.js';
import { summarize } from '../src/driver/run-report.js';
import { writeNpy } from '../src/driver/npy.js';
import { readCell } from '../src/driver/bench.js';

const CELL = fileURLToPath(new URL('../bench/cells/cumsum.rnn', import.meta.url));
const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1]! : fallback;
};
const log2T = arg('log2-t', '20,22').split(',').map(Number);
const repeats = Number(arg('repeats', '9'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const settle = async () => {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 20));
};

const { module, analysis } = readCell(CELL);
const gpu = await openGpu();
const dir = mkdtempSync(join(tmpdir(), 'rnnc-run-call-'));
const load = loadavg()[0]!;
const rows: string[] = [];
try {
  const c = plan(module, analysis, { mode: 'scan', target: targetOf(gpu.adapter) });
  for (const lg of log2T) {
    const size = { batch: 1, T: 2 ** lg };
    const inputs = join(dir, `in${lg}`);
    const b = Float32Array.from({ length: size.T }, (_, t) => Math.sin(t) * 0.5);
    await writeNpy(join(inputs, 'b.npy'), { shape: [1, size.T, 1], data: b }).catch(async () => {
      const { mkdirSync } = await import('node:fs');
      mkdirSync(inputs, { recursive: true });
      await writeNpy(join(inputs, 'b.npy'), { shape: [1, size.T, 1], data: b });
    });
    // The kernels compiled once, as after start-up; the call itself is what is timed.
    const { prepare, segments } = fitRun(c, gpu.adapter.limits, size);
    const stages: Record<string, number[]> = { read: [], assemble: [], run: [], checksums: [], save: [], whole: [], kernels: [] };
    for (let k = -1; k < repeats; k++) {
      await settle();
      const t0 = performance.now();
      const files = await readInputDir(inputs, module);
      const t1 = performance.now();
      const { data } = assembleRunData(module, c.sizes, size, 0, files);
      const t2 = performance.now();
      const got = await runSegmented(gpu, module, prepare, data, c.sizes, segments);
      const t3 = performance.now();
      summarize('y', [1, size.T, 1], got.outputs['y']!);
      summarize('h', [1, 1], got.finalState['h']!);
      const t4 = performance.now();
      await saveResults(join(dir, `out${lg}`), module, c.sizes, size, got);
      const t5 = performance.now();
      if (k < 0) continue; // the warm-up compiles the kernels
      for (const [name, v] of Object.entries({ read: t1 - t0, assemble: t2 - t1, run: t3 - t2, checksums: t4 - t3, save: t5 - t4, whole: t5 - t0 })) stages[name]!.push(v);
      if (k % 3 === 0) {
        await settle();
        const timed = await gpu.run({ ...prepare(size).job(data), timing: { repeats: 3, warmup: 1 } });
        stages['kernels']!.push(median(timed.timingsNs!) / 1e6);
      }
    }
    const m = Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, median(v)]));
    const row = `| 2^${lg} | ${['read', 'assemble', 'run', 'checksums', 'save', 'whole', 'kernels'].map((s) => m[s]!.toFixed(1)).join(' | ')} | **${(m['whole']! / m['kernels']!).toFixed(1)}×** |`;
    rows.push(row);
    console.error(row);
  }
} finally {
  await gpu.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`Adapter: ${gpu.adapter.description}; load average ${load.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after; medians of ${repeats} calls, ms.

| T | read .npy | assemble | run | checksums | save .npy | whole call | kernels | whole / kernels |
|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}`);
