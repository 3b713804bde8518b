// --mode newton against --mode seq across T and the hidden size, on one Dawn device: per cell, H and
// T, the Newton iterations, newton's wall time (split into the linearisation's runs, the system's
// scans and the host's work between them) and seq's, each the median of the timed repeats after one
// warm-up run (which compiles the kernels). Same seeded data for both; the results are checked
// against each other. Prints a markdown table.
//
//   npx tsx scripts/bench-newton.ts [--cells gru_diag,lstm_diag] [--H 8,64] [--log2T 10,12,14,16] [--batch 1] [--repeats 3] [--tol 1e-5]
// With --seeds 1,2,3 it only counts the iterations, once per seed (data and params drawn from it),
// with given initial states and random lengths, and prints them.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { loadavg } from 'node:os';
import { frontEnd } from '../src/driver/front-end.js';
import { plan } from '../src/driver/compile.js';
import { deviceRunner, newtonCell, planNewton, runNewton, type ModuleRunner } from '../src/driver/newton.js';
import { openGpu, targetOf } from '../src/driver/run.js';
import { fitRun, runSegmented } from '../src/driver/segments.js';
import { randomLengths, randomRunData } from '../src/driver/data.js';
import type { RunArrays } from '../backends/backend.js';

const { values } = parseArgs({
  options: {
    cells: { type: 'string', default: 'gru_diag,lstm_diag' },
    H: { type: 'string', default: '8,64' },
    log2T: { type: 'string', default: '10,12,14,16' },
    batch: { type: 'string', default: '1' },
    repeats: { type: 'string', default: '3' },
    tol: { type: 'string', default: '1e-5' },
    seeds: { type: 'string' },
  },
});
const list = (s: string) => s.split(',').filter(Boolean);
const repeats = Number(values.repeats);
const batch = Number(values.batch);
const tol = Number(values.tol);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const gpu = await openGpu();
const rows: string[] = [];
if (values.seeds !== undefined) {
  try {
    await countIterations(list(values.seeds).map(Number));
  } finally {
    await gpu.close();
  }
  process.exit(0);
}
try {
  process.stderr.write(`load average at start: ${loadavg().map((x) => x.toFixed(2)).join(', ')}\n`);
  for (const name of list(values.cells)) {
    const r = frontEnd(readFileSync(new URL(`../examples/${name}.rnn`, import.meta.url), 'utf8'));
    if (!r.module || !r.analysis) throw new Error(`${name} does not compile`);
    for (const H of list(values.H).map(Number)) {
      const cell = newtonCell(r.module, { H });
      const p = planNewton(cell, targetOf(gpu.adapter));
      const seq = plan(r.module, r.analysis, { mode: 'seq', dims: { H }, target: targetOf(gpu.adapter) });
      for (const T of list(values.log2T).map((k) => 2 ** Number(k))) {
        const d = randomRunData(r.module, { batch, T, sizes: cell.sizes }, 1);
        const data: RunArrays = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array> };
        // Device time per module, for the split.
        const inner = deviceRunner(gpu, p);
        const spent = { linearisation: 0, system: 0 };
        const timed: ModuleRunner = {
          async run(which, x) {
            const t0 = performance.now();
            const out = await inner.run(which, x);
            spent[which] += performance.now() - t0;
            return out;
          },
        };
        const { prepare, segments } = fitRun(seq, gpu.adapter.limits, { batch, T });
        const runSeq = () => runSegmented(gpu, r.module!, prepare, data, seq.sizes, segments);
        // Warm-up: compiles every kernel.
        const first = await runNewton(cell, data, timed, { tol });
        const bySeq = await runSeq();
        let worst = 0;
        for (const [k, v] of Object.entries(bySeq.outputs)) v.forEach((x, i) => (worst = Math.max(worst, Math.abs(x - first.outputs[k]![i]!) / (1 + Math.abs(x)))));
        const newtonMs: number[] = [];
        const seqMs: number[] = [];
        const splits: { linearisation: number; system: number }[] = [];
        for (let k = 0; k < repeats; k++) {
          spent.linearisation = spent.system = 0;
          let t0 = performance.now();
          await runNewton(cell, data, timed, { tol });
          newtonMs.push(performance.now() - t0);
          splits.push({ ...spent });
          t0 = performance.now();
          await runSeq();
          seqMs.push(performance.now() - t0);
        }
        const n = median(newtonMs);
        const s = median(seqMs);
        const split = splits[newtonMs.indexOf(n)]!;
        const row = `| ${name} | ${H} | 2^${Math.log2(T)} | ${first.iterations} | ${first.residual.toExponential(1)} | ${n.toFixed(0)} | ${split.linearisation.toFixed(0)} / ${split.system.toFixed(0)} / ${(n - split.linearisation - split.system).toFixed(0)} | ${s.toFixed(0)} | ${(n / s).toFixed(1)}x | ${worst.toExponential(1)} |`;
        rows.push(row);
        process.stderr.write(row + '\n');
      }
    }
  }
  process.stderr.write(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(', ')}\n`);
} finally {
  await gpu.close();
}
console.log(`adapter: ${gpu.adapter.description}; batch ${batch}; tol ${tol}; median of ${repeats} after a warm-up`);
console.log('');
console.log('| cell | H | T | iterations | residual | newton ms | linearise / scan / host ms | seq ms | newton / seq | max rel diff vs seq |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);

/** Iterations per seed at each size, with given initial states and random lengths. */
async function countIterations(seeds: number[]): Promise<void> {
  console.log(`adapter: ${gpu.adapter.description}; batch ${batch}; tol ${tol}; initial states given, lengths random`);
  console.log('');
  console.log(`| cell | H | T | iterations (seeds ${seeds.join(', ')}) | worst residual |`);
  console.log('|---|---|---|---|---|');
  for (const name of list(values.cells)) {
    const r = frontEnd(readFileSync(new URL(`../examples/${name}.rnn`, import.meta.url), 'utf8'));
    for (const H of list(values.H).map(Number)) {
      const cell = newtonCell(r.module!, { H });
      const runner = deviceRunner(gpu, planNewton(cell, targetOf(gpu.adapter)));
      for (const T of list(values.log2T).map((k) => 2 ** Number(k))) {
        const counts: number[] = [];
        let worst = 0;
        for (const seed of seeds) {
          const d = randomRunData(r.module!, { batch, T, sizes: cell.sizes }, seed, { initial: true });
          const f32 = (x: typeof d.inputs) => x as Record<string, Float32Array>;
          const got = await runNewton(cell, { batch, T, inputs: f32(d.inputs), params: f32(d.params), initialState: f32(d.initial!), lengths: randomLengths(batch, T, seed) }, runner, { tol });
          counts.push(got.iterations);
          worst = Math.max(worst, got.residual);
        }
        console.log(`| ${name} | ${H} | 2^${Math.log2(T)} | ${counts.join(', ')} | ${worst.toExponential(1)} |`);
      }
    }
  }
}
