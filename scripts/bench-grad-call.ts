// Where a whole forward + backward call goes (runGrad), job by job: the call's wall time, the part
// spent inside the device's jobs and the part in this process (packing, placing, summing), and each
// job's phases as GpuSession.lastProfile gives them (the parent's write into the bulk file, the host's
// upload with pipeline creation, the passes, the read-back, the way back; src/runtime/dawn/runtime.ts,
// RunProfile). The same call runs `--calls` times in one process: the first creates the pipelines
// and fills the buffer pool, the later ones are a training loop's steps. docs/host-transfer.md,
// "The backward at published sizes", has figures taken with it.
//
//   npx tsx scripts/bench-grad-call.ts --cell mamba_s6 --T 16384 --dim D=256 --dim N=16 [--calls 2] [--batch 1] [--mode auto]
import { readFileSync } from 'node:fs';
import { frontEnd } from '../src/driver/front-end.js';
import { plan } from '../src/driver/compile.js';
import { randomRunData, uniformFloats } from '../src/driver/data.js';
import { planGrad, retargetGrad, runGrad } from '../src/driver/grad.js';
import { targetOf } from '../src/driver/run.js';
import { tensorsOf } from '../src/compiler/ir/ir.js';
import { tensorSize } from '../src/compiler/ir/dims.js';
import { GpuSession } from '../src/runtime/dawn/runtime.js';
import type { Device } from '../src/runtime/device.js';
import type { ModeRequest } from '../src/compiler/plan/plan.js';

const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1]! : fallback;
};
const cell = arg('cell', 'mamba_s6');
const T = Number(arg('T', '16384'));
const batch = Number(arg('batch', '1'));
const calls = Number(arg('calls', '2'));
const mode = arg('mode', 'auto') as ModeRequest;
const dims = Object.fromEntries(process.argv.flatMap((a, k) => (process.argv[k - 1] === '--dim' ? [a.split('=')] : [])).map(([d, n]) => [d!, Number(n)]));

const fe = frontEnd(readFileSync(`examples/${cell}.rnn`, 'utf8'));
if (!fe.module || !fe.analysis) throw new Error(`examples/${cell}.rnn does not compile`);
const session = await GpuSession.open();
try {
  const forward = plan(fe.module, fe.analysis, { mode, dims, target: targetOf(session.adapter) });
  const grad = retargetGrad(planGrad(forward, mode), session);
  const d = randomRunData(fe.module, { batch, T, sizes: forward.sizes }, 1);
  const data = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array> };
  const upstream = { outputs: Object.fromEntries(tensorsOf(fe.module, 'output').map((o) => [o.name, uniformFloats(1, `grad:${o.name}`, batch * T * tensorSize(o, forward.sizes))])) };
  const sizes = Object.entries(forward.sizes).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`${cell} (${sizes}), batch ${batch}, T ${T}, --mode ${mode}; ${session.adapter.description}`);
  for (let call = 1; call <= calls; call++) {
    const jobs: string[] = [];
    let inJobs = 0;
    // The session, timing each job and reading its phases.
    const timed: Device = {
      adapter: session.adapter,
      async run(job) {
        const t0 = performance.now();
        const r = await session.run(job);
        const ms = performance.now() - t0;
        inJobs += ms;
        const profile = session.lastProfile;
        const phases = profile
          ? Object.entries(profile)
              .filter(([, v]) => typeof v === 'number' && v >= 1)
              .map(([k, v]) => `${k} ${(v as number).toFixed(0)}`)
              .join(', ')
          : 'over the pipe';
        jobs.push(`  ${[...new Set(job.shaders.map((s) => s.label.split('.')[0]!))].join('+')}: ${ms.toFixed(0)} ms (${phases})`);
        return r;
      },
      compileShaders: (...a) => session.compileShaders(...a),
      recycle: (buffers) => session.recycle(buffers),
      close: async () => {},
    };
    const t0 = performance.now();
    await runGrad(timed, grad, data, upstream);
    const whole = performance.now() - t0;
    console.log(`call ${call}: ${whole.toFixed(0)} ms, of which in the jobs ${inJobs.toFixed(0)} ms and in this process ${(whole - inJobs).toFixed(0)} ms`);
    for (const j of jobs) console.log(j);
  }
} finally {
  await session.close();
}
