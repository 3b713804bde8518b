// The whole call of `rnnc run --inputs DIR --save OUT` after process start-up, stage by stage, beside
// its kernels' time: the cumsum scan of bench/cells/cumsum.rnn (one vector, length T). Each stage is
// the driver call the CLI makes (src/cli/run.ts): read the .npy files, assemble the run's arrays,
// run (cut to the adapter's limits, pack, transfer, dispatch, read back, decode), checksum the
// results, save them as .npy. The kernels' time is the same job's passes timed with timestamp
// queries. Medians over the repeats, after a warm-up call that compiles the kernels.
//
// Two orders of the last two stages, alternating call by call: `sequential`, the checksums and then
// the save, as src/cli/run.ts has them; `overlapped`, the save started first (its writes on the
// thread pool, src/driver/output.ts writeAllOrNothingAsync) and the checksums computed while it
// writes, timed together as `checksums ∥ save`. `of which GC`: the garbage collections V8 ran
// inside the call (the collection before each call is outside it); the new arrays of a call (the
// .npy's data, the results) count towards V8's heap limit and start a major collection. The run
// stage's phases (GpuSession.lastProfile, src/runtime/dawn/runtime.ts) follow the table, medians
// over both orders.
//
//   npx tsx --expose-gc scripts/bench-run-call.ts [--log2-t 20,22] [--repeats 9]
//
// `--cold N` instead runs the call as `rnnc run` does it, once per fresh process, N processes in a
// row: a child `node` imports the built CLI from `--dist` (default dist/, `npm run build`), then
// stamps each stage of src/cli/run.ts's path — node's own start (process start to the child's
// first line), importing the CLI, parsing and planning, reading the .npy, opening the GPU (forking
// the Dawn host, opening the device), the first run (shader modules, pipelines and lavapipe's
// compilation of them, with the transfers and the kernels), checksums ∥ save (as src/cli/run.ts
// overlaps them), the same run again in the same process (everything cached), the reference
// interpreter and the verification (`--verify`, not part of the call), closing. Medians over the
// processes. `--variants base=/tmp/old-dist:sequential,now=dist:overlapped` alternates processes
// between builds and orders (`overlapped`: the host opens its device while the spec is parsed, as
// src/cli/run.ts does now; `sequential`: opened after planning, as before); start-up is then node's
// start, the imports and the open's own duration, and the call the rest of the wall time to the
// saved results.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { execFileSync } from 'node:child_process';
import { loadavg, tmpdir } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { plan } from '../src/driver/compile.js';
import { openGpu, targetOf } from '../src/driver/run.js';
import { fitRun, runSegmented } from '../src/driver/segments.js';
import { assembleRunData, readInputDir, saveResults } from '../src/driver/inputs.js';
import { summarize } from '../src/driver/run-report.js';
import { writeNpy } from '../src/driver/npy.js';
import { readCell } from '../src/driver/bench.js';
import type { GpuSession } from '../src/runtime/dawn/runtime.js';

const CELL = fileURLToPath(new URL('../bench/cells/cumsum.rnn', import.meta.url));
const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1]! : fallback;
};
const log2T = arg('log2-t', '20,22').split(',').map(Number);
const repeats = Number(arg('repeats', '9'));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const settle = async () => {
  (globalThis as { gc?: () => void }).gc?.();
  await new Promise((r) => setTimeout(r, 20));
};

if (process.argv.includes('--cold')) {
  await cold(Number(arg('cold', '5')), arg('dist', fileURLToPath(new URL('../dist', import.meta.url))));
  process.exit(0);
}

const { module, analysis } = readCell(CELL);
const gpu = (await openGpu()) as GpuSession;
const dir = mkdtempSync(join(tmpdir(), 'rnnc-run-call-'));
const load = loadavg()[0]!;
const rows: string[] = [];
const phaseRows: string[] = [];
const ORDERS = ['sequential', 'overlapped'] as const;
const STAGES = ['read', 'assemble', 'run', 'checksums', 'save', 'whole', 'gc'] as const;
// GC inside the timed calls: collections are reported after they end, so a call's are summed up to its end.
let gcMs = 0;
let counting = false;
const gcs = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) if (counting) gcMs += e.duration;
});
gcs.observe({ entryTypes: ['gc'] });
try {
  const c = plan(module, analysis, { mode: 'scan', target: targetOf(gpu.adapter) });
  for (const lg of log2T) {
    const size = { batch: 1, T: 2 ** lg };
    const inputs = join(dir, `in${lg}`);
    mkdirSync(inputs, { recursive: true });
    const b = Float32Array.from({ length: size.T }, (_, t) => Math.sin(t) * 0.5);
    await writeNpy(join(inputs, 'b.npy'), { shape: [1, size.T, 1], data: b });
    // The kernels compiled once, as after start-up; the call itself is what is timed.
    const { prepare, segments } = fitRun(c, gpu.adapter.limits, size);
    const stages = Object.fromEntries(ORDERS.map((o) => [o, Object.fromEntries(STAGES.map((s) => [s, [] as number[]]))]));
    const kernels: number[] = [];
    const phases: Record<string, number[]> = {};
    for (let k = -2; k < 2 * repeats; k++) {
      const order = ORDERS[(k + 2) % 2]!;
      await settle();
      await new Promise((r) => setImmediate(r)); // the settling collection reported before counting starts
      gcMs = 0;
      counting = true;
      const t0 = performance.now();
      const files = await readInputDir(inputs, module);
      const t1 = performance.now();
      const { data } = assembleRunData(module, c.sizes, size, 0, files);
      const t2 = performance.now();
      const got = await runSegmented(gpu, module, prepare, data, c.sizes, segments);
      const t3 = performance.now();
      const profile = gpu.lastProfile;
      let t4: number, t5: number;
      const checksums = () => {
        summarize('y', [1, size.T, 1], got.outputs['y']!);
        summarize('h', [1, 1], got.finalState['h']!);
      };
      if (order === 'sequential') {
        checksums();
        t4 = performance.now();
        await saveResults(join(dir, `out${lg}`), module, c.sizes, size, got);
        t5 = performance.now();
      } else {
        const saving = saveResults(join(dir, `out${lg}`), module, c.sizes, size, got);
        checksums();
        await saving;
        t4 = t5 = performance.now();
      }
      await new Promise((r) => setImmediate(r)); // the call's collections reported
      counting = false;
      if (k < 0) continue; // the warm-up calls compile the kernels and fill the pools
      const took = { read: t1 - t0, assemble: t2 - t1, run: t3 - t2, checksums: t4 - t3, save: t5 - t4, whole: t5 - t0, gc: gcMs };
      for (const s of STAGES) stages[order]![s]!.push(took[s]);
      if (profile) for (const [name, v] of Object.entries(profile)) if (typeof v === 'number') (phases[name] ??= []).push(v);
      if (k % 4 === 0) {
        await settle();
        const timed = await gpu.run({ ...prepare(size).job(data), timing: { repeats: 3, warmup: 1 } });
        kernels.push(median(timed.timingsNs!) / 1e6);
      }
    }
    const kernel = median(kernels);
    for (const order of ORDERS) {
      const m = Object.fromEntries(STAGES.map((s) => [s, median(stages[order]![s]!)]));
      const cells = order === 'sequential' ? [m['checksums']!.toFixed(1), m['save']!.toFixed(1)] : [`${m['checksums']!.toFixed(1)} (∥ save)`, '—'];
      const row = `| 2^${lg} | ${order} | ${[m['read']!, m['assemble']!, m['run']!].map((x) => x.toFixed(1)).join(' | ')} | ${cells.join(' | ')} | ${m['whole']!.toFixed(1)} | ${m['gc']!.toFixed(1)} | ${kernel.toFixed(1)} | **${(m['whole']! / kernel).toFixed(1)}×** |`;
      rows.push(row);
      console.error(row);
    }
    phaseRows.push(`| 2^${lg} | ${Object.entries(phases).map(([name, v]) => `${name} ${median(v).toFixed(1)}`).join(', ')} |`);
  }
} finally {
  gcs.disconnect();
  await gpu.close();
  rmSync(dir, { recursive: true, force: true });
}
console.log(`Adapter: ${gpu.adapter.description}; load average ${load.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after; medians of ${repeats} calls in each order, ms.

| T | order | read .npy | assemble | run | checksums | save .npy | whole call | of which GC | kernels | whole / kernels |
|---|---|---|---|---|---|---|---|---|---|---|
${rows.join('\n')}

Phases of the run stage (GpuSession.lastProfile), medians:

| T | phases |
|---|---|
${phaseRows.join('\n')}`);

/**
 * The child of `--cold`: src/cli/run.ts's path for `--mode scan --inputs IN --save OUT`, from a built
 * CLI, each stage stamped. `order` overlapped (what src/cli/run.ts does now): the Dawn host is started
 * (GpuSession.start) before the spec is parsed, and the parent parses, reads and plans while it
 * opens; `open the GPU` is then the open's own duration (start to ready), and `wait for the GPU` what
 * the parent still waited after planning. sequential (before): the GPU opened after planning.
 */
function coldChild(): string {
  return String.raw`
const t = [['node start', 0]];
const mark = (n) => t.push([n, performance.now()]);
mark('node start');
const [dist, cell, inDir, outDir, order] = process.argv.slice(1);
const imp = (p) => import(dist + '/src/' + p);
const [, , io, inputs, compile, run, seg, rep, interp, verify, runtime, ir] = await Promise.all(['cli/main.js', 'cli/run.js', 'cli/io.js', 'driver/inputs.js', 'driver/compile.js', 'driver/run.js', 'driver/segments.js', 'driver/run-report.js', 'runtime/reference/interpreter.js', 'driver/verify.js', 'runtime/dawn/runtime.js', 'compiler/ir/ir.js'].map(imp));
mark('import the CLI');
const overlapped = order === 'overlapped';
const openStart = performance.now();
let openMs = NaN;
const starting = overlapped ? runtime.GpuSession.start() : null;
starting?.ready.then(() => (openMs = performance.now() - openStart));
const { source, result } = io.loadValid(cell, false, true);
const m = result.module;
mark('parse, check, analyse');
const dir = await inputs.readInputDir(inDir, m);
mark('read .npy');
const options = { mode: 'scan', dims: inputs.dimsFromFiles(m, dir, {}), verb: 'run' };
let c = compile.plan(m, result.analysis, options, source);
const size = { batch: 1, T: inputs.sizeFromFiles(m, dir).T };
inputs.checkShapes(m, c.sizes, size, dir);
inputs.checkSaveDir(outDir, m);
seg.checkHostMemory(m, c.sizes, size, { verify: false, grad: false });
mark('plan');
// As src/cli/run.ts: the outputs' memory faulted in while the host opens (where this build has it).
if (overlapped && runtime.GpuSession.prefaultResults) {
  runtime.GpuSession.prefaultResults(ir.tensorsOf(m, 'output').map((t) => 4 * size.batch * size.T * t.dims.reduce((n, d) => n * c.sizes[d], 1)));
  mark('prefault the results');
}
// As src/cli/run.ts: fitted to the adapter the host announces before it creates the device (where this build has it).
const fitFor = (a) => seg.fitRun(compile.retarget(c, run.targetOf(a), options), a.limits, size);
const preview = overlapped && starting.adapter ? await starting.adapter : undefined;
let early;
if (preview) {
  early = { ...fitFor(preview), data: inputs.assembleRunData(m, c.sizes, size, 0, dir).data };
  mark('fit, assemble (before the device)');
}
const gpu = overlapped ? await starting.ready : await run.openGpu();
mark(overlapped ? 'wait for the GPU' : 'open the GPU');
if (!overlapped) openMs = t.at(-1)[1] - t.at(-2)[1];
const same = early && JSON.stringify([run.targetOf(preview), preview.limits]) === JSON.stringify([run.targetOf(gpu.adapter), gpu.adapter.limits]);
const { prepare, segments } = same ? early : fitFor(gpu.adapter);
const data = same ? early.data : inputs.assembleRunData(m, c.sizes, size, 0, dir).data;
mark(same ? 'fitted for the announced adapter' : 'fit, assemble');
const got = await seg.runSegmented(gpu, m, prepare, data, c.sizes, segments);
mark('first run');
const first = gpu.lastProfile;
const saving = inputs.saveResults(outDir, m, c.sizes, size, got);
rep.summarize('y', [1, size.T, 1], got.outputs.y);
rep.summarize('h', [1, 1], got.finalState.h);
await saving;
mark('checksums || save');
const end = performance.now();
await seg.runSegmented(gpu, m, prepare, data, c.sizes, segments);
mark('second run');
const second = gpu.lastProfile;
const timed = await gpu.run({ ...prepare(size).job(data), timing: { repeats: 3, warmup: 1 } });
const kernels = [...timed.timingsNs].sort((a, b) => a - b)[1] / 1e6;
mark('(kernels timed)');
const ref = interp.interpret(m, { ...size, sizes: c.sizes }, { inputs: data.inputs, params: data.params });
verify.verifyRun(got, ref, 1e-4);
mark('reference + verify');
await gpu.close();
mark('close');
const stages = {};
for (let k = 1; k < t.length; k++) stages[t[k][0]] = t[k][1] - t[k - 1][1];
const imported = t.find(([n]) => n === 'import the CLI')[1];
// Start-up: node's start, the imports and the open of the GPU as long as it took; the call: the rest of the wall time up to the saved results.
const startup = imported + openMs;
const numbers = (p) => Object.fromEntries(Object.entries(p ?? {}).filter(([, v]) => typeof v === 'number'));
process.stdout.write(JSON.stringify({ stages, openMs, startup, call: end - startup, wall: end, afterImport: end - imported, kernels, first: numbers(first), second: numbers(second) }));
`;
}

type ColdRun = { stages: Record<string, number>; openMs: number; startup: number; call: number; wall: number; afterImport: number; kernels: number; first: Record<string, number>; second: Record<string, number> };

/** `--variants label=DIST:ORDER,...` (default: this tree's dist/, overlapped): processes alternate between the variants. */
async function cold(processes: number, dist: string) {
  const dir = mkdtempSync(join(tmpdir(), 'rnnc-run-call-cold-'));
  const variants = arg('variants', `now=${dist}:overlapped`).split(',').map((v) => {
    const [label, rest] = v.split('=') as [string, string];
    const resolved = (d: string) => (d.startsWith('/') ? d : join(process.cwd(), d));
    const [d, order = 'overlapped'] = rest.split(':') as [string, string?];
    return { label, dist: resolved(d), order };
  });
  const rows: string[] = [];
  try {
    const load0 = loadavg()[0]!;
    for (const lg of log2T) {
      const T = 2 ** lg;
      const inputs = join(dir, `in${lg}`);
      mkdirSync(inputs, { recursive: true });
      await writeNpy(join(inputs, 'b.npy'), { shape: [1, T, 1], data: Float32Array.from({ length: T }, (_, t) => Math.sin(t) * 0.5) });
      const runs = new Map<string, ColdRun[]>(variants.map((v) => [v.label, []]));
      for (let k = 0; k < processes; k++)
        for (const v of variants) {
          const out = execFileSync(process.execPath, ['--input-type=module', '-e', coldChild(), v.dist, CELL, inputs, join(dir, `out${lg}`), v.order], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
          runs.get(v.label)!.push(JSON.parse(out));
        }
      for (const v of variants) {
        const rs = runs.get(v.label)!;
        const med = (f: (r: ColdRun) => number | undefined) => median(rs.map(f).map((x) => x ?? NaN));
        const names = Object.keys(rs[0]!.stages);
        const kernel = med((r) => r.kernels);
        rows.push(`| 2^${lg} | ${v.label} (${v.order}) | ${names.map((n) => `${n} ${med((r) => r.stages[n]).toFixed(1)}`).join(', ')}; the open itself ${med((r) => r.openMs).toFixed(0)} | ${kernel.toFixed(1)} | ${med((r) => r.startup).toFixed(0)} | ${med((r) => r.afterImport).toFixed(0)} | ${med((r) => r.call).toFixed(0)} (**${(med((r) => r.call) / kernel).toFixed(1)}×**) |`);
        const phases = (which: 'first' | 'second') => Object.keys(rs[0]![which]).map((n) => `${n} ${med((r) => r[which][n]).toFixed(1)}`).join(', ');
        rows.push(`|  | | first run's phases: ${phases('first')}; second run's: ${phases('second')} | | | | |`);
        console.error(rows.at(-2));
      }
    }
    console.log(`Cold \`rnnc run\` path, ${processes} fresh processes per variant and size (alternating), medians in ms (load average ${load0.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after).
Start-up = node start + import the CLI + the open of the GPU (its own duration, overlapped or not); the call = wall time to the saved results − start-up; after import = wall time from the imports' end to the saved results.

| T | variant | stages | kernels | start-up | after import | call (× kernels) |
|---|---|---|---|---|---|---|
${rows.join('\n')}`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
