// What bounds the one-channel diagonal (a, b) scan on this adapter (docs/scan-single-pass.md, "The
// two walks"): the generated `scan_chained` of bench/cells/affine.rnn against the elementwise
// yardsticks and against probes that each do part of its work, in one Dawn session, interleaved
// round by round (the load moves every figure; the ratios within a round move less). The probes
// are hand-written here and run on the same [a | b] input; they are floors, not scans, except
// `two-walks` and `cooperative`, which are correct without a look-back only within a range and are
// not checked.
//   run-64x256     the yardstick's run layout: 64 contiguous vec4s per invocation (out = a + b)
//   strided-64x64  the yardstick's strided layout: consecutive invocations on consecutive vec4s
//   tile-32        a 32-step tile in registers per invocation, loaded and stored (the kernel before)
//   one-walk       a loop over 256 steps per invocation: load, h = a h + b, store (no look-back)
//   two-walks      the same range walked twice: reduce, then scan and store (no look-back)
//   private-array  two walks, the range kept in a function-scope array between them
//   cooperative    lane-contiguous vec4s, the lanes' 4-step aggregates scanned with shuffles each round
// Figures: the median of --repeats timestamped runs, the least over --rounds rounds, and the best
// yardstick's time over each job's (its GB/s relative to the yardstick's).
//
//   npx tsx scripts/bench-scan-floors.ts [--log2-t 22] [--rounds 5] [--repeats 7]
import { loadavg } from 'node:os';
import { readCell, benchData } from '../src/driver/bench.js';
import { plan } from '../src/driver/compile.js';
import { openGpu, targetOf } from '../src/driver/run.js';
import { buildScanJob, compileScan } from '../backends/wgsl-scan/index.js';
import type { GpuJob } from '../backends/job.js';

const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1]! : fallback;
};
const T = 2 ** Number(arg('log2-t', '22'));
const rounds = Number(arg('rounds', '5'));
const repeats = Number(arg('repeats', '7'));
if (T % 2048 !== 0) throw new Error('--log2-t must be at least 11');

const HEAD = `enable subgroups;
struct Sizes { T: u32, pad0: u32, pad1: u32, pad2: u32 }
@group(0) @binding(0) var<storage, read> inp: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read_write> outp: array<vec4<f32>>;
@group(0) @binding(2) var<uniform> sizes: Sizes;
fn comb(l: vec2<f32>, r: vec2<f32>) -> vec2<f32> { return vec2<f32>(l.x * r.x, r.x * l.y + r.y); }
`;
const entry = (W: number, body: string) => `${HEAD}
@compute @workgroup_size(${W})
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32, @builtin(subgroup_invocation_id) sid: u32) {
  let off = sizes.T / 4u;
${body}
}`;
const scan4 = `h = a.x * h + b.x; o.x = h; h = a.y * h + b.y; o.y = h; h = a.z * h + b.z; o.z = h; h = a.w * h + b.w; o.w = h;`;
const reduce4 = `agg = comb(agg, vec2<f32>(a.x, b.x)); agg = comb(agg, vec2<f32>(a.y, b.y)); agg = comb(agg, vec2<f32>(a.z, b.z)); agg = comb(agg, vec2<f32>(a.w, b.w));`;

/** Each probe: its kernel and the vec4s of output one workgroup covers. */
const probes: Record<string, { code: string; perGroup: number }> = {
  'run-64x256': { perGroup: 64 * 256, code: entry(256, `  let q0 = (wid.x * 256u + lid) * 64u;\n  for (var j = 0u; j < 64u; j++) { outp[q0 + j] = inp[q0 + j] + inp[off + q0 + j]; }`) },
  'strided-64x64': { perGroup: 64 * 64, code: entry(64, `  let base = wid.x * 4096u;\n  for (var j = 0u; j < 64u; j++) { let q = base + j * 64u + lid; outp[q] = inp[q] + inp[off + q]; }`) },
  'tile-32': {
    perGroup: 8 * 256,
    code: entry(256, `  let q0 = (wid.x * 256u + lid) * 8u;\n${Array.from({ length: 8 }, (_, j) => `  let a${j} = inp[q0 + ${j}u]; let b${j} = inp[off + q0 + ${j}u];`).join('\n')}\n${Array.from({ length: 8 }, (_, j) => `  outp[q0 + ${j}u] = a${j} + b${j};`).join('\n')}`),
  },
  'one-walk': { perGroup: 64 * 256, code: entry(256, `  let q0 = (wid.x * 256u + lid) * 64u;\n  var h = 0.0;\n  for (var j = 0u; j < 64u; j++) { let a = inp[q0 + j]; let b = inp[off + q0 + j]; var o: vec4<f32>; ${scan4} outp[q0 + j] = o; }`) },
  'two-walks': {
    perGroup: 64 * 256,
    code: entry(
      256,
      `  let q0 = (wid.x * 256u + lid) * 64u;\n  var agg = vec2<f32>(1.0, 0.0);\n  for (var j = 0u; j < 64u; j++) { let a = inp[q0 + j]; let b = inp[off + q0 + j]; ${reduce4} }\n  var h = select(0.0, agg.y, agg.x > 1e30);\n  for (var j = 0u; j < 64u; j++) { let a = inp[q0 + j]; let b = inp[off + q0 + j]; var o: vec4<f32>; ${scan4} outp[q0 + j] = o; }`,
    ),
  },
  'private-array': {
    perGroup: 64 * 256,
    code: entry(
      256,
      `  let q0 = (wid.x * 256u + lid) * 64u;\n  var ta: array<vec4<f32>, 64>; var tb: array<vec4<f32>, 64>;\n  var agg = vec2<f32>(1.0, 0.0);\n  for (var j = 0u; j < 64u; j++) { let a = inp[q0 + j]; let b = inp[off + q0 + j]; ta[j] = a; tb[j] = b; ${reduce4} }\n  var h = select(0.0, agg.y, agg.x > 1e30);\n  for (var j = 0u; j < 64u; j++) { let a = ta[j]; let b = tb[j]; var o: vec4<f32>; ${scan4} outp[q0 + j] = o; }`,
    ),
  },
  cooperative: {
    perGroup: 256 * 8,
    code: entry(
      8,
      `  let base = wid.x * 2048u;\n  var carry = 0.0;\n  for (var j = 0u; j < 256u; j++) {\n    let q = base + j * 8u + sid; let a = inp[q]; let b = inp[off + q];\n    var agg = vec2<f32>(a.x, b.x); agg = comb(agg, vec2<f32>(a.y, b.y)); agg = comb(agg, vec2<f32>(a.z, b.z)); agg = comb(agg, vec2<f32>(a.w, b.w));\n    var x = agg;\n    for (var d = 1u; d < 8u; d *= 2u) { let up = subgroupShuffleUp(x, d); if sid >= d { x = comb(up, x); } }\n    var ex = subgroupShuffleUp(x, 1u); if sid == 0u { ex = vec2<f32>(1.0, 0.0); }\n    var h = ex.x * carry + ex.y; var o: vec4<f32>; ${scan4} outp[q] = o;\n    carry = subgroupShuffle(h, 7u);\n  }`,
    ),
  },
};

const gpu = await openGpu();
const { module, analysis } = readCell('bench/cells/affine.rnn');
const c = plan(module, analysis, { mode: 'auto', target: targetOf(gpu.adapter) });
if (c.plan.decision.mode !== 'scan') throw new Error('affine was not planned as a scan');
const kernels = compileScan(module, c.analysis.plan!, c.sizes, { tile: c.plan.decision.tile, subgroups: c.plan.decision.subgroups });
const timing = { repeats, warmup: 1 };
const generated = buildScanJob(module, kernels, benchData(module, c.sizes, 1, T), { timing });
const inputs = new Float32Array(2 * T).map((_, i) => (i < T ? 0.9 + 0.1 * Math.sin(i) : Math.cos(i)));
const probeJob = (name: string): GpuJob => ({
  shaders: [{ label: name, code: probes[name]!.code }],
  buffers: [
    { name: 'in', bytes: 8 * T, usage: 'storage-read', data: inputs },
    { name: 'out', bytes: 4 * T, usage: 'storage' },
    { name: 'sizes', bytes: 16, usage: 'uniform', data: Uint32Array.of(T, 0, 0, 0) },
  ],
  passes: [{ shader: name, bindings: [0, 1, 2].map((binding) => ({ binding, buffer: ['in', 'out', 'sizes'][binding]! })), dispatch: [T / 4 / probes[name]!.perGroup] }],
  requiredFeatures: ['subgroups'],
  minSubgroupSize: 8,
  timing,
});
const jobs: Record<string, GpuJob> = { generated: generated.job, ...Object.fromEntries(Object.keys(probes).map((n) => [n, probeJob(n)])) };
const least: Record<string, number> = {};
const load0 = loadavg()[0]!;
for (let r = 0; r < rounds; r++)
  for (const [name, job] of Object.entries(jobs)) {
    const ns = [...(await gpu.run(job)).timingsNs!].sort((a, b) => a - b)[Math.floor(repeats / 2)]!;
    least[name] = Math.min(least[name] ?? Infinity, ns / 1e6);
  }
await gpu.close();
const yardstick = Math.min(least['run-64x256']!, least['strided-64x64']!);
console.log(`affine, one channel, T = 2^${Math.log2(T)} (${generated.schedule.strategy}, ${generated.job.passes.length} dispatch); ${rounds} rounds of ${repeats} repeats; load average ${load0.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after.\n`);
console.log('| job | ms | best yardstick / job |\n|---|---:|---:|');
for (const name of Object.keys(jobs)) console.log(`| ${name} | ${least[name]!.toFixed(2)} | ${(yardstick / least[name]!).toFixed(2)} |`);
process.exit(0);
