// The TensorFlow.js peer of the scan benchmark: prefix sums (h = h + b) of float32 vectors,
// TF.js's WebGPU `cumsum` against rnnc's scan kernel for bench/cells/cumsum.rnn, both timed as a
// whole call (host data in, host result out) on Dawn. Each side runs in its own `--no-opt` child
// (ours: the Dawn host; TF.js: tfjs-host.ts), one after the other, so that neither device competes
// with the other; every result is checked against a float64 running sum here, in the parent.
import { fork, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { plan as planCell } from '../../src/driver/compile.js';
import { targetOf } from '../../src/driver/run.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { buildScanJob, compileScan } from '../../backends/wgsl-scan/index.js';
import { benchData, readCell } from '../../src/driver/bench.js';

// From TypeScript sources (vitest, tsx) this file is bench/tfjs/tfjs-peer.ts; from dist/, dist/bench/tfjs/tfjs-peer.js.
const fromSource = import.meta.url.endsWith('.ts');
export const CUMSUM_CELL = fileURLToPath(new URL(fromSource ? '../cells/cumsum.rnn' : '../../../bench/cells/cumsum.rnn', import.meta.url));

export interface PeerOptions {
  /** log2 of the lengths T. */
  log2T: number[];
  /** Independent vectors per call: the data is [channels, T], summed along T. */
  channels: number[];
  /** Timed whole calls per configuration and side (the median is reported). */
  repeats: number;
  /** Untimed calls first (TF.js compiles its shaders on the first call of a shape). */
  warmup: number;
  /** Largest accepted error, relative to the running sum of |b| (see `maxErr`). */
  tolerance: number;
  /** Skip configurations with more elements than this (lavapipe keeps GPU memory in host memory). */
  maxElements: number;
  progress?: (line: string) => void;
}

export const DEFAULT_PEER_OPTIONS: PeerOptions = {
  log2T: [10, 12, 14, 16, 18, 20, 22],
  channels: [1],
  repeats: 5,
  warmup: 1,
  tolerance: 1e-5,
  maxElements: 2 ** 22,
};

export interface PeerRow {
  T: number;
  channels: number;
  /** Median whole call, ns: tf.tensor, tf.cumsum, await data(). */
  tfjsNs: number;
  /** Median whole call, ns: buffers, upload, the scan passes, read-back (GpuJob.wholeCall). */
  rnncNs: number;
  /** tfjsNs / rnncNs: how many times faster rnnc's whole call is. */
  ratio: number;
  /** Median GPU time of rnnc's scan passes alone (timestamp queries, or wall clock without them). */
  rnncKernelNs: number;
  /** Median whole call of the same buffers without the passes (create, upload, read back): the floor of rnncNs. */
  rnncTransferNs: number;
  /** Compute dispatches per call: TF.js's cumsum runs one per doubling, ceil(log2 T). */
  tfjsDispatches: number;
  rnncDispatches: number;
  /** rnnc's scan schedule (carry, or reduce-then-scan). */
  rnncStrategy: string;
  /** Largest |y - s| over the running sum of |b|, s the float64 running sum: the scale of any float32 summation's rounding error. */
  tfjsMaxErr: number;
  rnncMaxErr: number;
}

export interface PeerReport {
  /** Adapter of rnnc's session and of the TF.js process (the same driver, two devices). */
  adapter: string;
  tfjsAdapter: string;
  tfjsVersion: string;
  /** How rnncKernelNs was measured. */
  kernelTiming: string;
  rows: PeerRow[];
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Largest error of y against the float64 running sums of each row of b ([channels, T]), relative to the running sum of |b|. */
export function cumsumError(b: Float32Array, y: Float32Array, channels: number, T: number): number {
  if (y.length !== b.length) return Infinity;
  let worst = 0;
  for (let c = 0; c < channels; c++) {
    let sum = 0;
    let scale = 0;
    for (let t = c * T; t < (c + 1) * T; t++) {
      sum += b[t]!;
      scale += Math.abs(b[t]!);
      const err = Math.abs(y[t]! - sum) / Math.max(scale, Number.MIN_VALUE);
      if (Number.isNaN(err)) return NaN;
      worst = Math.max(worst, err);
    }
  }
  return worst;
}

/** Runs both sides over every (channels, T) and checks every result; throws if either side's error exceeds the tolerance. */
export async function benchCumsumPeer(partial: Partial<PeerOptions> = {}): Promise<PeerReport> {
  const options = { ...DEFAULT_PEER_OPTIONS, ...partial };
  const { module, analysis } = readCell(CUMSUM_CELL);
  const plan = analysis.plan;
  if (!plan) throw new Error(`${CUMSUM_CELL}: the analysis found no scan plan`);
  const sizes = planCell(module, analysis, { mode: 'seq' }).sizes;
  const configs = options.channels.flatMap((channels) =>
    options.log2T
      .filter((lg) => {
        const fits = channels * 2 ** lg <= options.maxElements;
        if (!fits) options.progress?.(`skipping ${channels} x 2^${lg}: more than ${options.maxElements} elements`);
        return fits;
      })
      .map((lg) => ({ channels, T: 2 ** lg, data: benchData(module, sizes, channels, 2 ** lg) })),
  );
  const rows = new Map<(typeof configs)[number], Partial<PeerRow>>();

  const session = await GpuSession.open();
  let adapter = session.adapter.description;
  let kernelTiming = '';
  try {
    const scanPlan = planCell(module, analysis, { mode: 'scan', target: targetOf(session.adapter) }).plan.decision;
    if (scanPlan.mode !== 'scan') throw new Error(`${CUMSUM_CELL}: not planned as a scan`);
    const kernels = compileScan(module, plan, sizes, { tile: scanPlan.tile, subgroups: scanPlan.subgroups });
    for (const config of configs) {
      const { channels, T, data } = config;
      const scan = buildScanJob(module, kernels, data, { timing: { repeats: options.repeats, warmup: 1 } });
      const wholeCall = { repeats: options.repeats, warmup: options.warmup };
      const result = await session.run({ ...scan.job, wholeCall });
      const transfer = await session.run({ shaders: [], buffers: scan.job.buffers, passes: [], wholeCall });
      kernelTiming = result.timingMethod ?? 'wall';
      adapter = result.adapter.description;
      const row: Partial<PeerRow> = {
        T,
        channels,
        rnncNs: median(result.wholeCallNs!),
        rnncKernelNs: median(result.timingsNs!),
        rnncTransferNs: median(transfer.wholeCallNs!),
        rnncDispatches: scan.schedule.passes.length,
        rnncStrategy: scan.schedule.strategy,
        rnncMaxErr: cumsumError(data.inputs['b']!, scan.decode(result.buffers).outputs['y']!, channels, T),
      };
      rows.set(config, row);
      options.progress?.(
        `rnnc ${channels} x 2^${Math.log2(T)}: ${ms(row.rnncNs!)} ms whole call, ${ms(row.rnncKernelNs!)} ms passes, ${ms(row.rnncTransferNs!)} ms without passes`,
      );
    }
  } finally {
    await session.close();
  }

  const tfjs = await TfjsProcess.start();
  try {
    for (const config of configs) {
      const { channels, T, data } = config;
      const b = data.inputs['b']!;
      const r = await tfjs.cumsum(b, channels === 1 ? [T] : [channels, T], options.repeats, options.warmup);
      const row = rows.get(config)!;
      row.tfjsNs = median(r.timesNs);
      row.tfjsDispatches = Math.ceil(Math.log2(T));
      row.tfjsMaxErr = cumsumError(b, r.result, channels, T);
      row.ratio = row.tfjsNs / row.rnncNs!;
      options.progress?.(`tfjs ${channels} x 2^${Math.log2(T)}: ${ms(row.tfjsNs)} ms whole call (${row.ratio.toFixed(2)}x rnnc's)`);
    }
  } finally {
    await tfjs.close();
  }

  const done = [...rows.values()] as PeerRow[];
  const wrong = done.flatMap((r) =>
    (['tfjs', 'rnnc'] as const)
      .filter((side) => !(r[`${side}MaxErr`] <= options.tolerance))
      .map((side) => `${side} at ${r.channels} x ${r.T}: error ${r[`${side}MaxErr`]}`),
  );
  if (wrong.length) throw new Error(`cumsum peer: results differ from the float64 running sum by more than ${options.tolerance}: ${wrong.join('; ')}`);
  return { adapter, tfjsAdapter: tfjs.adapter, tfjsVersion: tfjs.version, kernelTiming, rows: done };
}

const ms = (ns: number) => (ns / 1e6).toFixed(2);

// ---- the TF.js process (tfjs-host.ts) and its IPC protocol (structured clone) ----

export type TfjsRequest = { id: number; type: 'cumsum'; data: Float32Array; shape: number[]; repeats: number; warmup: number } | { id: number; type: 'close' };
export type TfjsReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

// From sources run tfjs-host.ts through tsx; from dist/ run tfjs-host.js.
const HOST_PATH = fileURLToPath(new URL(fromSource ? './tfjs-host.ts' : './tfjs-host.js', import.meta.url));
// Dawn/loader chatter that says nothing to a user.
const NOISE = /artificially reduced|^Warning: (loader_get_json|vkCreateInstance)|^\s*$/;

type Pending = { resolve: (v: unknown) => void; reject: (e: Error) => void };

class TfjsProcess {
  adapter = '';
  version = '';
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private stderrTail = '';
  private readonly exited: Promise<void>;

  private constructor(private readonly child: ChildProcess) {
    let partial = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderrTail = (this.stderrTail + chunk).slice(-4000);
      const lines = (partial + chunk).split('\n');
      partial = lines.pop()!;
      for (const line of lines) if (!NOISE.test(line)) process.stderr.write(`[tfjs host] ${line}\n`);
    });
    child.on('message', (msg: TfjsReply) => {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.ok) p?.resolve(msg.value);
      else p?.reject(new Error(`TF.js: ${msg.error}`));
    });
    this.exited = new Promise((resolve) =>
      child.on('exit', (code, signal) => {
        const tail = this.stderrTail.trim().split('\n').slice(-8).join('\n');
        const error = new Error(`the TF.js process died (${signal ? `signal ${signal}` : `exit code ${code}`})${tail ? `; its last output:\n${tail}` : ''}`);
        for (const p of this.pending.values()) p.reject(error);
        this.pending.clear();
        resolve();
      }),
    );
  }

  static async start(): Promise<TfjsProcess> {
    const execArgv = ['--no-opt'];
    // Resolve tsx from here, not from the cwd, as src/runtime/dawn/runtime.ts does for its host.
    if (fromSource) execArgv.push('--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href);
    const child = fork(HOST_PATH, [], { execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    const p = new TfjsProcess(child);
    const ready = (await p.expect(0)) as { adapter: string; tfjs: string };
    p.adapter = ready.adapter;
    p.version = ready.tfjs;
    return p;
  }

  private expect(id: number): Promise<unknown> {
    return new Promise((resolve, reject) => this.pending.set(id, { resolve, reject }));
  }

  private get alive() {
    return this.child.exitCode === null && this.child.signalCode === null;
  }

  private request(msg: TfjsRequest): Promise<unknown> {
    if (!this.alive) return Promise.reject(new Error('the TF.js process has exited'));
    const reply = this.expect(msg.id);
    this.child.send(msg);
    return reply;
  }

  cumsum(data: Float32Array, shape: number[], repeats: number, warmup: number): Promise<{ timesNs: number[]; result: Float32Array }> {
    return this.request({ id: this.nextId++, type: 'cumsum', data, shape, repeats, warmup }) as Promise<{ timesNs: number[]; result: Float32Array }>;
  }

  /** Disposes TF.js's backend, destroys the device and waits for the process to exit. */
  async close(): Promise<void> {
    if (this.alive) {
      const killer = setTimeout(() => this.child.kill('SIGKILL'), 10_000);
      await this.request({ id: this.nextId++, type: 'close' }).catch(() => {}); // the exit may beat the reply
      await this.exited;
      clearTimeout(killer);
    }
  }
}
