// The columns form of a grid cell (src/driver/grid-scan.ts) transposes its data on the host: what that
// costs, and what a GPU copy pass would. Run: npx tsx scripts/bench-grid-scan.ts [S] [D] [batch]
// 1. The same diagonal recurrence as a rows-form cell (`h.left`) and a columns-form one (`h.up`) on an
//    S x S grid, through runGridAlongAxis: the same kernels over the same number of sequences of the
//    same length, so the difference is the transposes (two inputs in, one output back).
// 2. One transpose of [batch, S, S, D] as a compute pass on the device (timed passes) and as the host
//    loop grid-scan.ts runs, on the same array.
// Medians of 5 runs after a warm-up, in milliseconds.
import { frontEnd } from '../src/driver/front-end.js';
import { analyseGrid } from '../src/compiler/analyse/grid.js';
import { runGridAlongAxis } from '../src/driver/grid-scan.js';
import { openGpu } from '../src/driver/run.js';
import { randomRunData } from '../src/driver/data.js';
import type { GpuJob } from '../backends/job.js';

const [S, D, batch] = [Number(process.argv[2] ?? 256), Number(process.argv[3] ?? 16), Number(process.argv[4] ?? 4)];
const REPS = 5;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const gpu = await openGpu();

const cell = (n: 'left' | 'up') => `rnn g grid {\n  dims D = ${D}\n  input x[D], a[D]\n  state h[D] = 0\n  h[d] <- a[d] * h.${n}[d] + x[d]\n  output y[d] = h[d]\n}\n`;
async function runMs(n: 'left' | 'up', mode: 'scan' | 'seq'): Promise<number> {
  const m = frontEnd(cell(n)).module!;
  const grid = analyseGrid(m);
  const sizes = { D };
  const d = randomRunData(m, { batch, T: S * S, sizes, grid: { H: S, W: S } }, 1);
  const data = { batch, T: S * S, inputs: d.inputs as Record<string, Float32Array>, params: {}, initialState: {} };
  const once = async () => {
    const t0 = performance.now();
    await runGridAlongAxis(m, grid, sizes, { batch, H: S, W: S }, data, gpu, { mode });
    return performance.now() - t0;
  };
  await once();
  const ts: number[] = [];
  for (let i = 0; i < REPS; i++) ts.push(await once());
  return median(ts);
}
for (const mode of ['scan', 'seq'] as const) {
  const [rows, columns] = [await runMs('left', mode), await runMs('up', mode)];
  console.log(`grid ${S} x ${S}, D=${D}, batch ${batch}, --mode ${mode}: rows form ${rows.toFixed(0)} ms, columns form ${columns.toFixed(0)} ms (${(columns / rows).toFixed(2)}x)`);
}

const n = batch * S * S * D;
const a = Float32Array.from({ length: n }, (_, i) => i % 1000);
const host = (x: Float32Array) => {
  const out = new Float32Array(x.length);
  for (let o = 0; o < batch; o++)
    for (let i = 0; i < S; i++)
      for (let j = 0; j < S; j++) {
        const f = ((o * S + i) * S + j) * D;
        const t = ((o * S + j) * S + i) * D;
        for (let k = 0; k < D; k++) out[t + k] = x[f + k]!;
      }
  return out;
};
const code = `struct P { batch: u32, A: u32, B: u32, w: u32 }
@group(0) @binding(0) var<uniform> p: P;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> dst: array<f32>;
@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) g: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>) {
  let idx = g.x + g.y * nwg.x * 64u;
  if idx >= p.batch * p.A * p.B * p.w { return; }
  let k = idx % p.w;
  let pos = idx / p.w;
  let j = pos % p.B;
  let i = (pos / p.B) % p.A;
  let o = pos / (p.A * p.B);
  dst[((o * p.B + j) * p.A + i) * p.w + k] = src[idx];
}`;
const groups = Math.ceil(n / 64);
const job: GpuJob = {
  shaders: [{ label: 'transpose', code, entryPoint: 'main' }],
  buffers: [
    { name: 'p', bytes: 16, usage: 'uniform', data: new Uint32Array([batch, S, S, D]) },
    { name: 'src', bytes: 4 * n, usage: 'storage-read', data: a },
    { name: 'dst', bytes: 4 * n, usage: 'storage', read: true },
  ],
  passes: [{ shader: 'transpose', bindings: [0, 1, 2].map((binding) => ({ binding, buffer: ['p', 'src', 'dst'][binding]! })), dispatch: [Math.min(groups, 65535), Math.ceil(groups / 65535)] }],
  timing: { repeats: REPS, warmup: 1 },
};
const r = await gpu.run(job);
const want = host(a);
if (!new Float32Array(r.buffers['dst']!).every((v, i) => v === want[i])) throw new Error('the GPU transpose differs from the host one');
const hostMs: number[] = [];
for (let i = 0; i < REPS; i++) {
  const t0 = performance.now();
  host(a);
  hostMs.push(performance.now() - t0);
}
console.log(`one transpose of [${batch}, ${S}, ${S}, ${D}] (${n} floats): GPU copy pass ${(median(r.timingsNs!) / 1e6).toFixed(1)} ms (${r.timingMethod}), host loop ${median(hostMs).toFixed(1)} ms`);
await gpu.close();
