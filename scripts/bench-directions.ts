// A bidirectional cell's fused kernel against its two parts (src/compiler/ir/split-directions.ts) run one
// after the other, in seq and scan: wall time of one warm run (uploads, dispatches, read-back), median of
// interleaved repeats. Figures and load in docs/time-direction.md.
// Usage: npx tsx scripts/bench-directions.ts [FILE=examples/bimamba.rnn] [T=16384] [BATCH=16] [REPEATS=5]
import { readFileSync } from 'node:fs';
import { frontEnd } from '../src/driver/front-end.js';
import { plan, planParts } from '../src/driver/compile.js';
import { fitCompilation } from '../src/driver/directions.js';
import { openGpu, targetOf } from '../src/driver/run.js';
import { randomRunData } from '../src/driver/data.js';
import { bindDims } from '../src/compiler/ir/dims.js';

const file = process.argv[2] ?? 'examples/bimamba.rnn';
const T = Number(process.argv[3] ?? 16384), batch = Number(process.argv[4] ?? 16), repeats = Number(process.argv[5] ?? 5);
const r = frontEnd(readFileSync(file, 'utf8'));
const sizes = bindDims(r.module!);
const gpu = await openGpu();
try {
  const target = targetOf(gpu.adapter);
  const d = randomRunData(r.module!, { batch, T, sizes }, 1, {});
  const data = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array> };
  for (const mode of ['seq', 'scan'] as const) {
    const fused = plan(r.module!, r.analysis!, { mode, dims: sizes, target });
    const parts = planParts(r.module!, { mode, dims: sizes, target });
    const runs = { fused: fitCompilation(fused, gpu.adapter.limits, { batch, T }), parts: fitCompilation(parts, gpu.adapter.limits, { batch, T }) };
    const times: Record<string, number[]> = { fused: [], parts: [] };
    for (const k of Object.keys(runs) as (keyof typeof runs)[]) await runs[k].run(gpu, data); // warm-up (compile)
    for (let i = 0; i < repeats; i++)
      for (const k of Object.keys(runs) as (keyof typeof runs)[]) {
        const t0 = performance.now();
        await runs[k].run(gpu, data);
        times[k]!.push(performance.now() - t0);
      }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
    console.log(`${r.module!.name} ${mode} T=${T} batch=${batch}: fused ${med(times.fused!).toFixed(1)} ms, parts ${med(times.parts!).toFixed(1)} ms, parts/fused ${(med(times.parts!) / med(times.fused!)).toFixed(2)}`);
  }
} finally {
  await gpu.close();
}
