// --mode newton against --mode seq across T and the hidden size, on one Dawn device: per cell, H and
// T, the Newton iterations, newton's wall time (split into the linearisation's runs, the system's
// scans and the host's work between them) and seq's, each the median of the timed repeats after one
// warm-up run (which compiles the kernels). Same seeded data for both; the results are checked
// against each other. Prints a markdown table. The measuring is the driver's (src/driver/bench-newton.ts),
// which `rnnc bench --mode newton` runs too; this script adds the sweep over cells and H, and --seeds.
//
//   npx tsx scripts/bench-newton.ts [--cells gru_diag,lstm_diag] [--H 8,64] [--log2T 10,12,14,16] [--batch 1] [--repeats 3] [--tol 1e-5]
// With --seeds 1,2,3 it only counts the iterations, once per seed (data and params drawn from it),
// with given initial states and random lengths, and prints them.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { loadavg } from 'node:os';
import { frontEnd } from '../src/driver/front-end.js';
import { benchNewton, newtonBenchHeader, newtonBenchLine, type NewtonBenchRow } from '../src/driver/bench-newton.js';
import { deviceRunner, newtonCell, planNewton, runNewton } from '../src/driver/newton.js';
import { openGpu, targetOf } from '../src/driver/run.js';
import { randomLengths, randomRunData } from '../src/driver/data.js';

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

const gpu = await openGpu();
const rows: NewtonBenchRow[] = [];
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
      const got = await benchNewton(gpu, r.module, r.analysis, { dims: { H }, batches: [batch], log2T: list(values.log2T).map(Number), repeats, tol, progress: (line) => process.stderr.write(line + '\n') });
      rows.push(...got.rows);
    }
  }
  process.stderr.write(`load average at end: ${loadavg().map((x) => x.toFixed(2)).join(', ')}\n`);
} finally {
  await gpu.close();
}
console.log(`adapter: ${gpu.adapter.description}; batch ${batch}; tol ${tol}; median of ${repeats} after a warm-up`);
console.log('');
for (const line of [...newtonBenchHeader, ...rows.map(newtonBenchLine)]) console.log(line);

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
