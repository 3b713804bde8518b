// The wavefront kernel of a grid cell (backends/wgsl-grid) beside the float64 reference interpreter,
// and beside a variant with one dispatch per anti-diagonal (made here from the kernel's text: the
// diagonal's index a uniform per pass, a diagonal's rows split over workgroups), on a 2-D SSM
// `h = 0.5 a h.left + 0.5 b h.up + x` over D lanes. GPU time (timestamp queries where the device has
// them) of the timed repeats, two rounds alternating the two schemes, after one warm-up; the
// reference's wall time, once. Both schemes' outputs are checked equal. Prints one JSON line per size.
// With --workgroups, the one-dispatch kernel at each of those workgroup sizes instead (the per-diagonal
// variant and the reference left out): the kernel picks its own from the grid's height.
//
//   npx tsx scripts/bench-grid.ts [--grid 128x128,64x512] [--batch 1,4] [--D 16] [--repeats 5] [--workgroups 8,64]
import { loadavg } from 'node:os';
import { frontEnd } from '../src/driver/front-end.js';
import { emit, plan } from '../src/driver/compile.js';
import { openGpu } from '../src/driver/run.js';
import { randomRunData } from '../src/driver/data.js';
import { interpret } from '../src/runtime/reference/interpreter.js';
import { timeSize } from '../src/driver/grid.js';
import type { GpuJob } from '../backends/job.js';
import type { RunArrays } from '../backends/backend.js';
import { emitGrid } from '../backends/wgsl-grid/emit.js';
import { prepareGrid } from '../backends/wgsl-grid/backend.js';

const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return (k > 0 ? process.argv[k + 1]! : fallback).split(',');
};
const grids = arg('grid', '128x128,64x512').map((g) => g.split(/[x,]/).map(Number) as [number, number]);
const batches = arg('batch', '1,4').map(Number);
const D = Number(arg('D', '16')[0]);
const repeats = Number(arg('repeats', '5')[0]);
const workgroups = process.argv.includes('--workgroups') ? arg('workgroups', '').map(Number) : undefined;

const text = `rnn ssm2d grid {
  dims D = ${D}
  input  x[D], a[D], b[D]
  state  h[D] = 0
  h[d] <- 0.5 * a[d] * h.left[d] + 0.5 * b[d] * h.up[d] + x[d]
  output y[d] = h[d]
}
`;

/** The same kernel with one dispatch per anti-diagonal: its index from a uniform, its rows over workgroups. */
function perDiagonal(job: GpuJob, H: number, W: number, batch: number): GpuJob {
  let code = job.shaders[0]!.code;
  const WG = Number(/@workgroup_size\((\d+)\)/.exec(code)![1]);
  const edit = (from: string, to: string) => {
    if (!code.includes(from)) throw new Error(`bench-grid: the kernel no longer has \`${from}\``);
    code = code.replace(from, to);
  };
  edit('var<uniform> params: Params;', 'var<uniform> params: Params;\n\n@group(0) @binding(15)\nvar<uniform> diag: vec4<u32>;');
  edit('let seq = wid.x + wid.y * nwg.x;', 'let seq = wid.y;\n    let part = wid.x;');
  // The initial state: by the one invocation that computes (0, 0), in the first pass.
  edit('if lid == 0u {', 'if lid == 0u && part == 0u && diag.x == 0u {');
  edit('for (var k = 0u; k < H + W - 1u; k++) {', '{\n        let k = diag.x;');
  edit(`for (var r = lo + lid; r < hi + 1u; r += ${WG}u) {`, `for (var r = lo + part * ${WG}u + lid; r < hi + 1u; r += ${WG}u * nwg.x) {`);
  const diagonals = H + W - 1;
  return {
    ...job,
    shaders: [{ label: 'per-diagonal', code, entryPoint: 'main' }],
    buffers: [...job.buffers, ...Array.from({ length: diagonals }, (_, k) => ({ name: `diag${k}`, usage: 'uniform' as const, bytes: 16, data: new Uint32Array([k, 0, 0, 0]) }))],
    passes: Array.from({ length: diagonals }, (_, k) => {
      const rows = Math.min(k, H - 1) - Math.max(0, k - W + 1) + 1;
      return { shader: 'per-diagonal', bindings: [...job.passes[0]!.bindings, { binding: 15, buffer: `diag${k}` }], dispatch: [Math.ceil(rows / WG), batch, 1] as [number, number, number] };
    }),
  };
}

const { module, analysis } = frontEnd(text);
const c = plan(module!, analysis!, { mode: 'seq' });
const median = (a: number[]) => [...a].sort((x, y) => x - y)[Math.floor(a.length / 2)]!;
const gpu = await openGpu();
try {
  for (const [H, W] of grids)
    for (const batch of batches) {
      const T = H * W;
      const d = randomRunData(module!, { batch, T, sizes: c.sizes, grid: { H, W } }, 1);
      const data: RunArrays = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: {} };
      const ms: Record<string, number[]> = workgroups ? {} : { oneDispatch: [], perDiagonal: [] };
      if (workgroups) {
        const times: Record<string, number> = {};
        for (let round = 0; round < 2; round++)
          for (const wg of workgroups) {
            const job = prepareGrid(module!, emitGrid(module!, c.sizes, { workgroupSize: wg }), `wg${wg}`, timeSize({ batch, H, W })).job(data);
            const r = await gpu.run({ ...job, timing: { repeats, warmup: 1 } });
            (ms[`wg${wg}`] ??= []).push(...r.timingsNs!.map((n) => n / 1e6));
          }
        for (const [name, all] of Object.entries(ms)) times[name] = Math.round(median(all) * 10) / 10;
        console.log(JSON.stringify({ H, W, batch, D, load: loadavg().map((x) => x.toFixed(2)), medianMs: times, minMs: Object.fromEntries(Object.entries(ms).map(([n, a]) => [n, Math.round(Math.min(...a) * 10) / 10])) }));
        continue;
      }
      const one = emit(c).prepare(timeSize({ batch, H, W })).job(data);
      const jobs = { oneDispatch: one, perDiagonal: perDiagonal(one, H, W, batch) };
      const outputs: Record<string, Float32Array> = {};
      for (let round = 0; round < 2; round++)
        for (const [name, job] of Object.entries(jobs)) {
          const r = await gpu.run({ ...job, timing: { repeats, warmup: 1 } });
          ms[name]!.push(...r.timingsNs!.map((n) => n / 1e6));
          outputs[name] = new Float32Array(r.buffers['outputs']!);
        }
      const same = outputs.oneDispatch!.every((v, i) => v === outputs.perDiagonal![i]);
      const t0 = performance.now();
      interpret(module!, { batch, T, sizes: c.sizes, grid: { H, W } }, { inputs: d.inputs, params: {} });
      const reference = performance.now() - t0;
      const round1 = (a: number[]) => a.map((x) => Math.round(x));
      console.log(JSON.stringify({ H, W, batch, D, load: loadavg().map((x) => x.toFixed(2)), oneDispatchMs: { median: Math.round(median(ms.oneDispatch!)), min: Math.round(Math.min(...ms.oneDispatch!)), all: round1(ms.oneDispatch!) }, perDiagonalMs: { median: Math.round(median(ms.perDiagonal!)), min: Math.round(Math.min(...ms.perDiagonal!)), all: round1(ms.perDiagonal!) }, sameOutputs: same, referenceMs: Math.round(reference) }));
    }
} finally {
  await gpu.close();
}
