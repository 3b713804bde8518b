// Where the time of a whole GpuSession.run goes, seen from the caller: the cumsum scan of
// bench/cells/cumsum.rnn (one vector, length T), data in the parent in, results in the parent out.
// docs/host-transfer.md records its figures.
//
//   npx tsx scripts/bench-host-transfer.ts [--log2-t 20,22] [--repeats 9] [--transport shm,ipc,shm-sync]
//
// For each T and transport: the scan passes alone (timestamp queries, the kernels' time), the whole
// call timed inside the host (GpuJob.wholeCall: buffers, upload, passes, read-back, no IPC), and the
// whole call as the caller sees it (`await session.run(job)`, the process already started and the
// shaders compiled by a warm-up call), with its phases when the session can report them
// (GpuSession.lastProfile): the parent's send, the way to the host, the host's upload, passes and
// read-back, the way back, and the parent's copy out.
import { plan as planCell } from '../src/driver/compile.js';
import { targetOf } from '../src/driver/run.js';
import { benchData, readCell } from '../src/driver/bench.js';
import { GpuSession } from '../src/runtime/dawn/runtime.js';
import { buildScanJob, compileScan } from '../backends/wgsl-scan/index.js';
import { fileURLToPath } from 'node:url';
import { loadavg } from 'node:os';

const CELL = fileURLToPath(new URL('../bench/cells/cumsum.rnn', import.meta.url));
const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1]! : fallback;
};
const log2T = arg('log2-t', '20,22').split(',').map(Number);
const repeats = Number(arg('repeats', '9'));
const transports = arg('transport', 'shm,ipc').split(',');

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => x.toFixed(2);

const { module, analysis } = readCell(CELL);
const sizes = planCell(module, analysis, { mode: 'seq' }).sizes;
console.log(`load average ${loadavg().map((x) => x.toFixed(2)).join(' ')}; ${repeats} timed calls each after one warm-up, medians in ms`);
const rows: string[] = [];
for (const transport of transports) {
  // 'shm-sync' / 'ipc-sync': the host waits for the GPU after the upload copies and after the passes
  // (RNNC_DAWN_PROFILE=sync), so that the profile splits the GPU's part; slower, for the breakdown only.
  const [kind, sync] = transport.split('-') as ['shm' | 'ipc', string | undefined];
  const session = await GpuSession.open({ transport: kind, env: sync ? { RNNC_DAWN_PROFILE: 'sync' } : {} });
  try {
    const scanPlan = planCell(module, analysis, { mode: 'scan', target: targetOf(session.adapter) }).plan.decision;
    if (scanPlan.mode !== 'scan') throw new Error('cumsum is not planned as a scan');
    const kernels = compileScan(module, analysis.plan!, sizes, { tile: scanPlan.tile, subgroups: scanPlan.subgroups });
    for (const lg of log2T) {
      const T = 2 ** lg;
      const data = benchData(module, sizes, 1, T);
      const scan = buildScanJob(module, kernels, data);
      const timed = await session.run({ ...scan.job, timing: { repeats, warmup: 1 }, wholeCall: { repeats, warmup: 1 } });
      const kernelMs = median(timed.timingsNs!) / 1e6;
      const inHostMs = median(timed.wholeCallNs!) / 1e6;
      await session.run(scan.job); // warm-up
      const calls: number[] = [];
      const profiles: Record<string, number>[] = [];
      for (let r = 0; r < repeats; r++) {
        const t0 = performance.now();
        const result = await session.run(scan.job);
        calls.push(performance.now() - t0);
        const p = (session as unknown as { lastProfile?: Record<string, number> }).lastProfile;
        if (p) profiles.push(p);
        if (process.env['BENCH_VERBOSE']) console.error(`call ${calls.at(-1)!.toFixed(2)} profile total ${p?.['total']?.toFixed(2)}`);
        if (r === 0) {
          const y = new Float32Array(scan.decode(result.buffers).outputs['y']!);
          let s = 0;
          let worst = 0;
          const b = data.inputs['b']!;
          for (let t = 0; t < T; t++) worst = Math.max(worst, Math.abs(y[t]! - (s += b[t]!)));
          if (!(worst < 1e-2)) throw new Error(`wrong result at T = 2^${lg}: error ${worst}`);
        }
      }
      const callMs = median(calls);
      const phases = profiles.length
        ? Object.keys(profiles[0]!)
            .filter((k) => typeof profiles[0]![k] === 'number')
            .map((k) => `${k} ${ms(median(profiles.map((p) => p[k]!)))}`)
            .join(', ')
        : '';
      const row = `| ${transport} | 2^${lg} | ${ms(kernelMs)} | ${ms(inHostMs)} | ${ms(callMs)} | ${(callMs / kernelMs).toFixed(1)}× | ${phases} |`;
      rows.push(row);
      console.log(row);
    }
  } finally {
    await session.close();
  }
}
console.log();
console.log('| transport | T | passes | whole call in host | session.run | run / passes | phases (medians) |');
console.log('|---|---:|---:|---:|---:|---:|---|');
for (const r of rows) console.log(r);
