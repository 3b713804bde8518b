// The backward pass against the forward pass, per cell and T: GPU time of the kernels (timestamp
// queries where the device has them, else wall clock; median of the timed repeats after a warm-up,
// summed over the jobs a pass runs) and wall time of the whole call (the library's `run` path for the
// forward, `runGrad` for forward + backward: planning excluded, host work — reversing sequences,
// summing param gradients — included). The forward runs in the planner's mode (`auto`); the backward
// pass is the saving forward cell, then the backward cell and the params' sums (`--grad-mode auto`
// unless --grad-mode), or, where the backward stages (src/compiler/grad/stage.ts), the adjoint
// recurrence (`<cell>_grad_core`) and the time-parallel rest (`<cell>_grad_rest`). `--stage` stages a
// sequential core too; `--no-stage` and `--no-time-sum` run the older schedules, for before/after rows. The GPU time by cell is per job,
// named by its shaders' cells. "after saving" is the backward pass less the saving forward's jobs
// (a shader of `<cell>_saving`: without checkpoints a training step's forward is that cell, so this
// is what a step adds to it). Prints a markdown table with the machine's load. The CPU columns are the
// Dawn host process's CPU time per run of each job (lavapipe runs kernels on its threads): under load
// the GPU (wall) times grow with the other processes' share of the cores, the CPU times hardly do. But
// a job's CPU time also counts the host's copies of its inputs and outputs (hundreds of MB a job at
// T = 2^20: gla's staged rest reads 168 floats a step) and its share of the warm-up run and of pipeline
// creation, so it is the cost of a call, not of the kernels: compare kernels by the GPU columns.
//
// `--host-reversal` and `--lanes-core` plan the backward as before the reversed backward cells and the
// gathered core (planGrad's GradPlanOptions), for before/after rows in one session. `--no-chunk-core`
// keeps a low-rank cell's backward the sequential cell it was before the chunked core (with `auto`),
// `--rest-steps` runs a chunked core's rest over every step at once even where the time-sum kernel takes
// it, and `--mode` is the forward's mode (default auto; `chunk` for the low-rank cells' chunked forward).
// `--no-map` keeps the inputs' gradients in a seq backward cell's loop (not the params' sums job's map).
// `--no-recompute` has the time-sum rest read the saved states and carried adjoints every step, as before
// it recomputed them over runs of steps; `--no-sample` has the saving and core scans write them every step
// (not once a run). `--passes` prints the median round's passes, each its GPU ms (timestamp queries).
//
//   npx tsx scripts/bench-grad.ts [--cells mamba_s6,gla,lru,lstm] [--T 1048576] [--batch 1] [--repeats 3] [--rounds 1] [--mode auto] [--grad-mode auto] [--dim H=64] [--stage | --no-stage] [--no-time-sum] [--host-reversal] [--lanes-core] [--no-chunk-core] [--rest-steps] [--no-map] [--no-recompute] [--no-sample] [--passes]
import { readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { frontEnd } from '../src/driver/front-end.js';
import { plan, emit } from '../src/driver/compile.js';
import { randomRunData, uniformFloats } from '../src/driver/data.js';
import { planGrad, retargetGrad, runGrad, usesStages } from '../src/driver/grad.js';
import { planSegments, runSegmented } from '../src/driver/segments.js';
import { openGpu, targetOf } from '../src/driver/run.js';
import { tensorsOf } from '../src/compiler/ir/ir.js';
import { tensorSize } from '../src/compiler/ir/dims.js';
import type { Analysis } from '../src/compiler/analyse/types.js';
import type { Module } from '../src/compiler/ir/ir.js';
import type { ModeRequest } from '../src/compiler/plan/plan.js';
import type { Device } from '../src/runtime/device.js';
import type { RunArrays, RunSize } from '../backends/backend.js';

const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1]! : fallback;
};
const cells = arg('cells', 'mamba_s6,gla,lru,lstm').split(',');
const Ts = arg('T', '1048576').split(',').map(Number);
const batch = Number(arg('batch', '1'));
const repeats = Number(arg('repeats', '3'));
// Rounds of (forward, backward) timed one after the other: the figures are each round's, the median
// round's by its after-saving ratio. On a shared machine one round's forward alone swung 1.4x.
const rounds = Number(arg('rounds', '1'));
const gradMode = arg('grad-mode', 'auto') as ModeRequest;
const forwardMode = arg('mode', 'auto') as ModeRequest;
// Before/after switches for this session's changes: the host reverses the backward's data; the core keeps the lanes layout.
const gradPlan = {
  ...(process.argv.includes('--host-reversal') ? { walkBack: false } : {}),
  ...(process.argv.includes('--lanes-core') ? { gatherCore: false } : {}),
  ...(process.argv.includes('--no-chunk-core') ? { chunkCore: false } : {}),
  ...(process.argv.includes('--rest-steps') ? { restSteps: true } : {}),
  ...(process.argv.includes('--no-recompute') ? { recomputeRest: false } : {}),
  ...(process.argv.includes('--no-sample') ? { sampleCheckpoints: false } : {}),
};
const gradOptions = { ...(process.argv.includes('--no-stage') ? { staged: false } : process.argv.includes('--stage') ? { staged: true } : {}), ...(process.argv.includes('--no-time-sum') ? { timeSum: false } : {}) };
const dims = Object.fromEntries(
  process.argv.flatMap((a, k) => (process.argv[k - 1] === '--dim' ? [a.split('=')] : [])).map(([d, n]) => [d!, Number(n)]),
);

/**
 * CPU time (user + system, ms) of this process's children: the Dawn host process (src/runtime/dawn/
 * runtime.ts forks it), whose threads are lavapipe's. From /proc, in clock ticks (10 ms); NaN elsewhere.
 */
function hostCpuMs(): number {
  try {
    let ticks = 0;
    for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
      let stat: string;
      try {
        stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      } catch {
        continue;
      }
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) !== process.pid) continue; // ppid
      ticks += Number(fields[11]) + Number(fields[12]); // utime, stime
    }
    return ticks * 10;
  } catch {
    return NaN;
  }
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const load = () => loadavg().map((x) => x.toFixed(1)).join(' ');

/** A device that times every job it runs, and keeps the sum of the medians. */
function timing(device: Device): Device & { gpuMs: number; savingMs: number; cpuMs: number; savingCpuMs: number; method: string; byCell: Map<string, number>; cpuByCell: Map<string, number>; byPass: Map<string, number> } {
  const timed = {
    byPass: new Map<string, number>(),
    adapter: device.adapter,
    gpuMs: 0,
    savingMs: 0,
    cpuMs: 0,
    savingCpuMs: 0,
    method: '',
    byCell: new Map<string, number>(),
    cpuByCell: new Map<string, number>(),
    async run(job: Parameters<Device['run']>[0]) {
      // lavapipe runs the kernels on the Dawn host process's threads, so its CPU time per run (the
      // timed runs and the warm-up, over their count) is a measure that the machine's load hardly
      // changes, where GPU (wall) time grows with it.
      const cpu0 = hostCpuMs();
      const r = await device.run({ ...job, timing: { repeats, warmup: 1 } });
      const cpuMs = (hostCpuMs() - cpu0) / (repeats + 1);
      const ms = median(r.timingsNs!) / 1e6;
      timed.gpuMs += ms;
      timed.cpuMs += cpuMs;
      // The kernels' headers open with their cell's name.
      // (or their labels: a chunk kernel's header opens with its state's name, its label with its cell's)
      const saving = job.shaders.some((s) => /^\/\/ \w+_saving\b/.test(s.code) || /^\w+_saving\./.test(s.label));
      if (saving) timed.savingMs += ms;
      if (saving) timed.savingCpuMs += cpuMs;
      // A job by its order and its shaders' labels (runGrad runs the saving cell, then the backward's jobs).
      const cell = `#${timed.byCell.size + 1} ${[...new Set(job.shaders.map((s) => s.label.split('.')[0]!))].join('+')}`;
      timed.byCell.set(cell, (timed.byCell.get(cell) ?? 0) + ms);
      timed.cpuByCell.set(cell, (timed.cpuByCell.get(cell) ?? 0) + cpuMs);
      // Each pass's median over the repeats (timestamp queries only), named by its job and its shader.
      job.passes.forEach((p, i) => {
        const ns = r.perPassNs?.map((repeat) => repeat[i]!);
        if (!ns) return;
        const name = `${cell.split(' ')[0]} ${p.shader.split('.').slice(1).join('.') || p.shader}`;
        timed.byPass.set(name, (timed.byPass.get(name) ?? 0) + median(ns) / 1e6);
      });
      timed.method = r.timingMethod ?? 'wall';
      return r;
    },
    compileShaders: device.compileShaders.bind(device),
    ...(device.recycle ? { recycle: device.recycle.bind(device) } : {}),
    close: device.close.bind(device),
  };
  return timed;
}

const gpu = await openGpu();
const rows: string[] = [];
const loadBefore = load();
let adapter = '';
let method = '';
try {
  adapter = gpu.adapter.description;
  for (const cell of cells) {
    // A name of examples/, or a path to a .rnn file (test/fixtures/grad/gla_proj.rnn).
    const fe = frontEnd(readFileSync(cell.endsWith('.rnn') ? cell : `examples/${cell}.rnn`, 'utf8')) as { module: Module; analysis: Analysis };
    const known = Object.fromEntries(Object.entries(dims).filter(([d]) => fe.module.dims.some((x) => x.name === d)));
    const forward = plan(fe.module, fe.analysis, { mode: forwardMode, dims: known, target: targetOf(gpu.adapter) });
    const planned = retargetGrad(planGrad(forward, gradMode, gradPlan), gpu);
    // `--no-map`: the inputs' gradients in the backward loop again (GradCompilation.loop unused).
    const { loop: _loop, ...withoutLoop } = planned;
    const grad = process.argv.includes('--no-map') ? withoutLoop : planned;
    const sizes = forward.sizes;
    for (const T of Ts) {
      const size: RunSize = { batch, T };
      const d = randomRunData(fe.module, { batch, T, sizes }, 1);
      const data: RunArrays = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array> };
      const upstream = { outputs: Object.fromEntries(tensorsOf(fe.module, 'output').map((o) => [o.name, uniformFloats(1, `grad:${o.name}`, batch * T * tensorSize(o, sizes))])) };

      const compiled = emit(forward);
      const prepare = (s: RunSize) => compiled.prepare(s);
      const segments = planSegments(prepare, gpu.adapter.limits, sizes, size);
      const timed: { fwd: ReturnType<typeof timing>; bwd: ReturnType<typeof timing> }[] = [];
      for (let round = 0; round < rounds; round++) {
        const fwd = timing(gpu);
        await runSegmented(fwd, fe.module, prepare, data, sizes, segments);
        const bwd = timing(gpu);
        await runGrad(bwd, grad, data, upstream, gradOptions);
        timed.push({ fwd, bwd });
      }
      const afterSaving = ({ fwd, bwd }: (typeof timed)[number]) => (bwd.gpuMs - bwd.savingMs) / fwd.gpuMs;
      const { fwd: fwdDevice, bwd: bwdDevice } = [...timed].sort((a, b) => afterSaving(a) - afterSaving(b))[Math.floor(timed.length / 2)]!;
      const roundsText = timed.map((t) => `${t.fwd.gpuMs.toFixed(0)} / ${(t.bwd.gpuMs - t.bwd.savingMs).toFixed(0)} = ${afterSaving(t).toFixed(2)}`).join('; ');
      // Wall time without the timing repeats: one plain call each.
      let start = performance.now();
      await runSegmented(gpu, fe.module, prepare, data, sizes, segments);
      const fwdCall = performance.now() - start;
      start = performance.now();
      await runGrad(gpu, grad, data, upstream, gradOptions);
      const gradCall = performance.now() - start;
      method = fwdDevice.method;
      const dimText = Object.entries(sizes).map(([k, v]) => `${k}=${v}`).join(' ');
      rows.push(
        `| ${cell} | ${dimText} | ${T} | ${batch} | ${forward.plan.mode} | ${grad.saving.plan.mode} + ${usesStages(grad, gradOptions) ? `${grad.staged!.core.plan.mode} (staged, rest ${grad.staged!.rest.kind})` : grad.backward.plan.mode} | ${fwdDevice.gpuMs.toFixed(1)} | ${bwdDevice.gpuMs.toFixed(1)} | **${(bwdDevice.gpuMs / fwdDevice.gpuMs).toFixed(2)}** | ${((bwdDevice.gpuMs - bwdDevice.savingMs) / fwdDevice.gpuMs).toFixed(2)} | ${fwdCall.toFixed(0)} | ${gradCall.toFixed(0)} | ${(gradCall / fwdCall).toFixed(2)} | ${[...bwdDevice.byCell].map(([c, ms]) => `${c} ${ms.toFixed(1)}`).join(', ')} | ${fwdDevice.cpuMs.toFixed(0)} | ${bwdDevice.cpuMs.toFixed(0)} | **${(bwdDevice.cpuMs / fwdDevice.cpuMs).toFixed(2)}** | ${((bwdDevice.cpuMs - bwdDevice.savingCpuMs) / fwdDevice.cpuMs).toFixed(2)} | ${[...bwdDevice.cpuByCell].map(([c, ms]) => `${c} ${ms.toFixed(0)}`).join(', ')} | ${roundsText} |`,
      );
      process.stderr.write(rows.at(-1)! + '\n');
      // `--passes`: the median round's passes, GPU ms each (timestamp queries), forward then backward.
      if (process.argv.includes('--passes')) for (const [what, d] of [['forward', fwdDevice], ['backward', bwdDevice]] as const) console.log(`${cell} ${what} passes: ${[...d.byPass].map(([p, ms]) => `${p} ${ms.toFixed(1)}`).join(', ')}`);
    }
  }
} finally {
  await gpu.close();
}
console.log(`Adapter: ${adapter}; kernel timing: ${method}; batch ${batch}; ${repeats} timed repeats, ${rounds} round${rounds === 1 ? '' : 's'} (the median round's figures);${process.argv.includes('--no-stage') ? ' --no-stage;' : ''}${process.argv.includes('--no-time-sum') ? ' --no-time-sum;' : ''}${process.argv.includes('--host-reversal') ? ' --host-reversal;' : ''}${process.argv.includes('--lanes-core') ? ' --lanes-core;' : ''}${process.argv.includes('--no-chunk-core') ? ' --no-chunk-core;' : ''}${process.argv.includes('--rest-steps') ? ' --rest-steps;' : ''}${process.argv.includes('--no-recompute') ? ' --no-recompute;' : ''}${process.argv.includes('--no-sample') ? ' --no-sample;' : ''} forward --mode ${forwardMode}, --grad-mode ${gradMode}; load average before ${loadBefore}, after ${load()}; ${new Date().toISOString()}\n`);
console.log('| cell | dims | T | batch | forward | backward (saving + backward) | forward GPU ms | backward GPU ms | backward / forward | after saving / forward | forward call ms | forward + backward call ms | call ratio | backward GPU ms by cell | forward CPU ms | backward CPU ms | CPU ratio | CPU after saving | backward CPU ms by cell | by round: forward / backward after saving GPU ms = ratio |');
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|');
for (const r of rows) console.log(r);
