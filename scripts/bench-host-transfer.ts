// Where the time of a whole GpuSession.run goes, seen from the caller: the cumsum scan of
// bench/cells/cumsum.rnn (one vector, length T), data in the parent in, results in the parent out.
// docs/host-transfer.md records its figures.
//
//   npx tsx scripts/bench-host-transfer.ts [--log2-t 20,22] [--repeats 15] [--transport shm,ipc,shm-sync]
//                                          [--baseline DIR]
//
// Every variant has its own session (its own Dawn host), all open at once, and their calls
// alternate, so that the load of a shared machine falls on all of them alike. For each T and variant:
//   passes       the scan passes alone (timestamp queries): the kernels' time
//   in host      the whole call timed inside the host (GpuJob.wholeCall: buffers, upload, passes,
//                read-back; no IPC, and with the bulk file its copies in and out of the file)
//   run          `await session.run(job)` as the caller sees it, the host started and the shaders
//                compiled by a warm-up call
//   no passes    the same, for the job without its passes (create, upload, read back): the transfer
//   phases       GpuSession.lastProfile of the runs, medians (see RunProfile in runtime.ts)
// Variants: 'shm' and 'ipc' are the transports (transfer.ts); '-sync' adds RNNC_DAWN_PROFILE=sync
// (the host waits for the GPU after the upload copies and after the passes, so that the phases
// split the GPU's part; slower). --baseline DIR adds a session of another checkout of rnnc (say, an
// older commit: git archive COMMIT | tar -x -C DIR; ln -s $PWD/node_modules DIR/), run as it is.
// Before each timed call the script settles: a pause, and a garbage collection when node runs with
// --expose-gc (npx tsx --expose-gc ...), so that one variant's garbage (the pipe path allocates
// whole arrays on both sides) is not collected during the next variant's kernels.
import { fileURLToPath, pathToFileURL } from 'node:url';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { plan as planCell } from '../src/driver/compile.js';
import { targetOf } from '../src/driver/run.js';
import { benchData, readCell } from '../src/driver/bench.js';
import { GpuSession, type GpuJob, type GpuJobResult } from '../src/runtime/dawn/runtime.js';
import { buildScanJob, compileScan } from '../backends/wgsl-scan/index.js';

const CELL = fileURLToPath(new URL('../bench/cells/cumsum.rnn', import.meta.url));
const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1]! : fallback;
};
const log2T = arg('log2-t', '20,22').split(',').map(Number);
const repeats = Number(arg('repeats', '15'));
const variants = arg('transport', 'shm,ipc').split(',');
const baseline = arg('baseline', '');

const settle = async () => {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 20));
};
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const ms = (x: number) => x.toFixed(2);

interface Runner {
  name: string;
  session: { run(job: GpuJob): Promise<GpuJobResult>; close(): Promise<void>; lastProfile?: object | null };
}

const runners: Runner[] = [];
for (const v of variants) {
  const [kind, sync] = v.split('-') as ['shm' | 'ipc', string | undefined];
  runners.push({ name: v, session: await GpuSession.open({ transport: kind, env: sync ? { RNNC_DAWN_PROFILE: 'sync' } : {} }) });
}
if (baseline) {
  const dir = resolve(baseline);
  const mod = (await import(pathToFileURL(join(dir, 'src/runtime/dawn/runtime.ts')).href)) as { GpuSession: { open(o?: object): Promise<Runner['session']> } };
  runners.push({ name: `baseline (${baseline})`, session: await mod.GpuSession.open({}) });
}

const { module, analysis } = readCell(CELL);
const sizes = planCell(module, analysis, { mode: 'seq' }).sizes;
const first = runners[0]!.session as GpuSession;
const scanPlan = planCell(module, analysis, { mode: 'scan', target: targetOf(first.adapter) }).plan.decision;
if (scanPlan.mode !== 'scan') throw new Error('cumsum is not planned as a scan');
const kernels = compileScan(module, analysis.plan!, sizes, { tile: scanPlan.tile, subgroups: scanPlan.subgroups });

const loadBefore = loadavg()[0]!;
const rows: string[] = [];
try {
  for (const lg of log2T) {
    const T = 2 ** lg;
    const data = benchData(module, sizes, 1, T);
    const scan = buildScanJob(module, kernels, data);
    const transfer: GpuJob = { shaders: [], buffers: scan.job.buffers, passes: [] };
    const stats = runners.map(() => ({ kernel: [] as number[], inHost: [] as number[], run: [] as number[], empty: [] as number[], profiles: [] as Record<string, number>[] }));
    for (const r of runners) {
      // Warm-up: compiles the shaders, fills the pools; and checks the result.
      const result = await r.session.run(scan.job);
      await r.session.run(transfer);
      const y = new Float32Array(scan.decode(result.buffers).outputs['y']!);
      const b = data.inputs['b']!;
      let s = 0;
      let worst = 0;
      for (let t = 0; t < T; t++) worst = Math.max(worst, Math.abs(y[t]! - (s += b[t]!)));
      if (!(worst < 1e-2)) throw new Error(`${r.name}: wrong result at T = 2^${lg}: error ${worst}`);
    }
    for (let k = 0; k < repeats; k++) {
      for (const [i, r] of runners.entries()) {
        const st = stats[i]!;
        await settle();
        let t0 = performance.now();
        await r.session.run(scan.job);
        st.run.push(performance.now() - t0);
        const p = r.session.lastProfile;
        if (p) st.profiles.push(Object.fromEntries(Object.entries(p).filter(([, v]) => typeof v === 'number')) as Record<string, number>);
        await settle();
        t0 = performance.now();
        await r.session.run(transfer);
        st.empty.push(performance.now() - t0);
        if (k % 3 === 0) {
          await settle();
          const timed = await r.session.run({ ...scan.job, timing: { repeats: 3, warmup: 1 }, wholeCall: { repeats: 1 } });
          st.kernel.push(median(timed.timingsNs!) / 1e6);
          st.inHost.push(timed.wholeCallNs![0]! / 1e6);
        }
      }
    }
    for (const [i, r] of runners.entries()) {
      const st = stats[i]!;
      const kernel = median(st.kernel);
      const run = median(st.run);
      const phases = st.profiles.length
        ? Object.keys(st.profiles[0]!)
            .map((k) => `${k} ${ms(median(st.profiles.map((p) => p[k]!)))}`)
            .join(', ')
        : '';
      const row = `| ${r.name} | 2^${lg} | ${ms(kernel)} | ${ms(median(st.inHost))} | ${ms(run)} | ${ms(median(st.empty))} | **${(run / kernel).toFixed(1)}×** | ${phases} |`;
      rows.push(row);
      console.error(row);
    }
  }
} finally {
  for (const r of runners) await r.session.close();
}
const gcNote = (globalThis as { gc?: unknown }).gc ? ', a collection before each' : ' (no --expose-gc)';
console.log(`load average (1 min) ${loadBefore.toFixed(2)} before, ${loadavg()[0]!.toFixed(2)} after; ${repeats} calls each, alternating${gcNote}, medians in ms`);
console.log();
console.log('| variant | T | passes | in host | run | no passes | run / passes | phases of run |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows) console.log(r);
