// The sequential kernels of LSTM and GRU at real sizes beside ONNX Runtime's CPU LSTM and GRU
// operators (onnxruntime-web, WebAssembly) on the same machine, in one run: the same weights,
// inputs and lengths. rnnc's figures are GPU time (timestamp queries where the device has them, else
// wall clock) of the pre-pass (state-independent products of every step) and the steps (the loop
// kernel, or the step kernel dispatched once per step: the plan's choice), and of the pre-pass alone
// (its own pass in the same run where timestamps time each pass); ONNX Runtime's are wall time of
// InferenceSession.run (session creation and a warm-up call excluded). Medians of the timed repeats, after one warm-up run.
// The whole call is one more `GpuSession.run` of the same job, timed by the wall clock: the arrays to
// the Dawn host and back with the passes (shaders already compiled). A run past the adapter's buffer
// limits is cut into segments as `rnnc run` cuts it; one is timed and scaled to the whole run. Prints a markdown table.
//
// --no-subgroups plans for an adapter without subgroups (the rows pre-pass instead of the subgroup one).
//
//   npx tsx scripts/bench-seq.ts [--cells lstm,gru] [--H 128,256] [--batch 1,8] [--T 1024] [--repeats 3] [--no-subgroups]
import { readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import * as ort from 'onnxruntime-web';
import { frontEnd } from '../src/driver/front-end.js';
import { bindDims } from '../src/compiler/ir/dims.js';
import { randomRunData } from '../src/driver/data.js';
import { emit, plan } from '../src/driver/compile.js';
import { planSegments } from '../src/driver/segments.js';
import type { Analysis } from '../src/compiler/analyse/types.js';
import type { Module } from '../src/compiler/ir/ir.js';
import type { RunArrays } from '../backends/wgsl-seq/pack.js';
import { GpuSession } from '../src/runtime/dawn/runtime.js';
import { ortCell } from '../test/onnx/oracle.js';

const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return (k > 0 ? process.argv[k + 1]! : fallback).split(',');
};
const cells = arg('cells', 'lstm,gru');
const Hs = arg('H', '128,256').map(Number);
const batches = arg('batch', '1,8').map(Number);
const Ts = arg('T', '1024').map(Number);
const repeats = Number(arg('repeats', '3')[0]);
const subgroups = !process.argv.includes('--no-subgroups');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');

const session = await GpuSession.open();
let method = '';
let adapter = '';
const rows: string[] = [];
const started = new Date().toISOString();
const loadBefore = load();
try {
  for (const cell of cells) {
    const fe = frontEnd(readFileSync(`examples/${cell}.rnn`, 'utf8')) as { module: Module; analysis: Analysis };
    const op = cell === 'lstm' ? 'LSTM' : 'GRU';
    for (const H of Hs) {
      const X = H;
      const sizes = bindDims(fe.module, { X, H });
      for (const batch of batches) {
        for (const T of Ts) {
          // A run past the adapter's buffer limits runs in segments, as `rnnc run` cuts it (the state
          // carried between them): one segment is timed and scaled to the run's steps × sequences.
          const compiled = emit(plan(fe.module, fe.analysis, { mode: 'seq', dims: sizes, target: { subgroups } }));
          const segments = planSegments((s) => compiled.prepare(s), session.adapter.limits, sizes, { batch, T });
          const piece = { batch: segments.batch, T: segments.T };
          const d = randomRunData(fe.module, { ...piece, sizes }, 1, { initial: true });
          const data: RunArrays = { ...piece, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, initialState: d.initial as Record<string, Float32Array> };
          const job = compiled.prepare(piece).job(data);
          const timing = { repeats, warmup: 1 };
          const whole = await session.run({ ...job, timing });
          method = whole.timingMethod ?? 'wall';
          adapter = whole.adapter.description;
          // The pre-pass's share: its own pass's time in the same run (timestamps per pass), else a run of it alone.
          const perPass = whole.perPassNs ? median(whole.perPassNs.map((p) => p[0]!)) : undefined;
          const pre = perPass === undefined && job.passes.length > 1 ? await session.run({ ...job, passes: job.passes.slice(0, 1), buffers: job.buffers.map((b) => ({ ...b, read: false })), timing }) : undefined;
          // The whole call as a library user sees it, shaders compiled: the arrays to the host and
          // back, and the passes (one untimed run after the timed ones; every segment's share).
          const called = performance.now();
          await session.run(job);
          const scale = (batch * T) / (segments.batch * segments.T);
          const wholeCall = scale * (performance.now() - called);
          const full = randomRunData(fe.module, { batch, T, sizes }, 1, { initial: true });
          const ortRun = await ortCell(op, { batch, T, X, H, x: full.inputs['x'] as Float32Array, params: data.params, initialState: full.initial as Record<string, Float32Array>, lengths: new Int32Array(batch).fill(T) }, { repeats, warmup: 1 });
          const rnnc = (scale * median(whole.timingsNs!)) / 1e6;
          const prepass = job.passes.length > 1 ? (scale * (perPass ?? median(pre!.timingsNs!))) / 1e6 : 0;
          const ortMs = median(ortRun.runMs!);
          const gates = op === 'LSTM' ? 4 : 3;
          const gflops = (2 * gates * H * (X + H) * batch * T) / (rnnc * 1e6);
          const step = job.shaders.find((x) => x.label.endsWith('.step'));
          const cut = segments.count > 1 ? ` (${segments.count} segments of ${segments.T} steps × ${segments.batch} sequences; one timed, scaled by ${scale.toFixed(3)})` : '';
          const form = `${step ? (step.code.includes('lane_sums') ? 'step, lanes over 8 sequences' : 'step') : 'loop'}${job.shaders.some((x) => x.label.endsWith('.project') && x.code.includes('subgroupBroadcast')) ? ', subgroup pre-pass' : ''}${cut}`;
          const line = `| ${cell} | ${H} | ${batch} | ${T} | ${form} | ${wholeCall.toFixed(0)} | ${rnnc.toFixed(0)} | ${prepass.toFixed(0)} | ${((rnnc / T) * 1e3).toFixed(0)} | ${gflops.toFixed(2)} | ${ortMs.toFixed(0)} | ${(ortMs / rnnc).toFixed(2)} | ${load()} |`;
          rows.push(line);
          process.stderr.write(line + '\n');
        }
      }
    }
  }
} finally {
  await session.close();
}
console.log(`${started}; ${adapter}; rnnc timing: ${method}; ONNX Runtime ${ort.env.versions.web ?? ''} (WebAssembly, numThreads ${ort.env.wasm.numThreads ?? 'default'}); median of ${repeats} after 1 warm-up; load average before ${loadBefore}.\n`);
console.log('| cell | X = H | batch | T | kernel | rnnc whole call (ms) | rnnc kernels (ms) | of which pre-pass (ms) | per step (us) | GFLOP/s | ONNX Runtime CPU (ms) | rnnc kernels speed / ORT | load avg after |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
