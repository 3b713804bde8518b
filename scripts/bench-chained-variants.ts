// Variants of the chained single pass (`scan_chained`, backends/wgsl-scan/chained.ts) for the
// diagonal (a, b) scan of one channel (bench/cells/affine.rnn), against the elementwise yardstick
// in one Dawn session, interleaved round by round (docs/scan-single-pass.md, "Variants against the
// floor"). Each variant is a text edit of the generated kernel, run in the job buildScanJob makes:
//   fast    a subgroup-uniform branch without per-step masks where every step of the subgroup's
//           tiles is inside every sequence (the masked code for the rest); correct
//   nosync  no subgroup scan and no look-back (wrong results: the tile's own work)
//   ldst    only the tile's vec4 loads and stores (out = a + b)
//   ldstC   ldst with lane-contiguous loads and stores (the j-th vec4 of a lane at base + 8j + lane)
// Per job: CPU time of the Dawn host per run ((CPU at --hi repeats − at 1) / (hi − 1), the least over
// the rounds) and wall time (the least over the rounds of the median of 5 timestamped repeats), each
// as the elementwise kernel's over the variant's (its GB/s relative to the elementwise kernel's).
//
//   npx tsx scripts/bench-chained-variants.ts [--log2-t 22] [--rounds 5] [--hi 21] [--variants fast,nosync,ldst,ldstC] [--check]
import { readFileSync, readdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { openGpu } from '../src/driver/run.js';
import { frontEnd } from '../src/driver/front-end.js';
import { benchData } from '../src/driver/bench.js';
import { elementwiseJob, type ElementwiseShape } from '../backends/wgsl/elementwise-kernel.js';
import { buildScanJob, compileScan, CHAIN_STEPS } from '../backends/wgsl-scan/index.js';
import { interpret } from '../src/runtime/reference/interpreter.js';
import type { GpuJob } from '../backends/job.js';
import type { GpuSession } from '../src/runtime/dawn/runtime.js';

const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return k > 0 ? process.argv[k + 1]! : fallback;
};
const T = 2 ** Number(arg('log2-t', '22'));
const rounds = Number(arg('rounds', '5'));
const hi = Number(arg('hi', '21'));
const wanted = arg('variants', 'fast,nosync,ldst,ldstC').split(',').filter(Boolean);
const SHAPES: ElementwiseShape[] = [{ perInvocation: 4, workgroup: 64 }, { perInvocation: 4, workgroup: 256 }];
if (CHAIN_STEPS !== 32) throw new Error('the variants are text edits of a 32-step tile');

/** Lines from the one starting with `from` (after `start`) to the one starting with `to`, exclusive. */
function cut(lines: string[], start: number, from: string, to: string): [number, number] {
  const a = lines.findIndex((l, i) => i >= start && l.trim().startsWith(from));
  const b = lines.findIndex((l, i) => i > a && l.trim().startsWith(to));
  if (a < 0 || b < 0) throw new Error(`the generated kernel changed: no '${from}' … '${to}'`);
  return [a, b];
}
const indent = (ls: string[]) => ls.map((l) => `    ${l}`);

function variant(name: string, code: string): string {
  const lines = code.split('\n');
  const entry = lines.findIndex((l) => l.startsWith('fn scan_chained'));
  const [r0] = cut(lines, entry, 'var agg = identity();', 'agg = combine(agg, e31);');
  const r1 = lines.findIndex((l, i) => i > r0 && l.trim() === 'agg = combine(agg, e31);') + 1;
  const [s0, s1] = cut(lines, r1, 'var h = advance(', '// The invocation holding the last step');
  const storeEach = (body: (k: number) => string) => Array.from({ length: 8 }, (_, k) => body(k));
  switch (name) {
    case 'fast': {
      const reduce = lines.slice(r0 + 1, r1);
      const masked = reduce.map((l) => l.replace(/var (e\d+) = /, '$1 = '));
      const fastReduce: string[] = [];
      for (let i = 0; i < masked.length; i++) {
        if (/^\s*if t0 \+ \d+u >= len \{/.test(masked[i]!)) i += 2;
        else fastReduce.push(masked[i]!);
      }
      const store = lines.slice(s0 + 1, s1);
      const fastStore: string[] = [];
      let guard = false;
      for (const l of store) {
        const m = /^(\s*)store_step\(prev\d+, h, b, s, t0 \+ \d+u, len\);/.exec(l);
        if (m) fastStore.push(`${m[1]}step_out_0 = h.h;`);
        else if (/^\s*if t0 \+ \d+u < U\.T \{/.test(l)) guard = true;
        else if (guard && l.trim() === '}') guard = false;
        else fastStore.push(l);
      }
      return [
        ...lines.slice(0, r0),
        '    let full = (first % per_run + sg_size) * 32u <= U.min_len;',
        ...Array.from({ length: 32 }, (_, j) => `    var e${j}: Elem;`),
        '    var agg = identity();',
        '    if full {', ...indent(fastReduce), '    } else {', ...indent(masked), '    }',
        ...lines.slice(r1, s0 + 1),
        '    if full {', ...indent(fastStore), '    } else {', ...indent(store), '    }',
        ...lines.slice(s1),
      ].join('\n');
    }
    case 'nosync': {
      const x = lines.findIndex((l, i) => i > r1 && l.trim() === 'var x = agg;');
      const [lb] = cut(lines, x, '// Look back over', 'var k = g;');
      return [...lines.slice(0, x), '    let total = agg;', '    let excl = identity();', ...lines.slice(lb).map((l) => (l.trim() === 'var k = g;' ? '    var k = 0u;' : l))].join('\n');
    }
    case 'ldst':
    case 'ldstC': {
      const [l0] = cut(lines, entry, "// This invocation's 32 steps", 'var agg = identity();');
      const loads =
        name === 'ldst'
          ? lines.slice(l0 + 1, r0)
          : ['    let q0 = (first % per_run) * 8u;', ...storeEach((k) => `    let in_0_${k} = inputs[q0 + ${k}u * sg_size + sg_id];\n    let in_1_${k} = inputs[U.T / 4u + q0 + ${k}u * sg_size + sg_id];`)];
      const stores =
        name === 'ldst'
          ? storeEach((k) => `    if t0 + ${4 * k}u < U.T {\n        outputs[(U.batch * U.T * 0u + (b * U.T + (t0 + ${4 * k}u))) / 4u] = in_0_${k} + in_1_${k};\n    }`)
          : storeEach((k) => `    outputs[q0 + ${k}u * sg_size + sg_id] = in_0_${k} + in_1_${k};`);
      return [...lines.slice(0, l0), ...loads, ...stores, '    var h = State(0.0f);', ...lines.slice(s1)].join('\n');
    }
  }
  throw new Error(`unknown variant '${name}' (fast, nosync, ldst, ldstC)`);
}

/** CPU time (ms) of this process's children, the Dawn host with lavapipe's threads. */
function childCpuMs(): number {
  let total = 0;
  for (const d of readdirSync('/proc')) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const st = readFileSync(`/proc/${d}/stat`, 'utf8');
      const f = st.slice(st.lastIndexOf(')') + 2).split(' ');
      if (Number(f[1]) === process.pid) total += ((Number(f[11]) + Number(f[12])) * 1000) / 100;
    } catch {}
  }
  return total;
}
async function cpuPerRun(gpu: GpuSession, job: GpuJob): Promise<number> {
  const at = async (repeats: number) => {
    const c0 = childCpuMs();
    await gpu.run({ ...job, timing: { repeats, warmup: 0 } });
    return childCpuMs() - c0;
  };
  await at(1);
  const lo = await at(1);
  return ((await at(hi)) - lo) / (hi - 1);
}

const gpu = (await openGpu()) as GpuSession;
const load0 = loadavg()[0]!;
try {
  const fe = frontEnd(readFileSync(fileURLToPath(new URL('../bench/cells/affine.rnn', import.meta.url)), 'utf8'));
  const module = fe.module!;
  const plan = fe.analysis!.plan as Parameters<typeof compileScan>[1];
  const kernels = compileScan(module, plan, { C: 1 }, { tile: { split: 'stripe', chained: true }, subgroups: true });
  const data = benchData(module, { C: 1 }, 1, T);
  const base = buildScanJob(module, kernels, data, {});
  if (base.schedule.passes.some((p) => p.kernel !== 'scan_chained')) throw new Error('the schedule is not the chained pass');
  const jobs: Record<string, GpuJob> = {};
  for (const sh of SHAPES) jobs[`elementwise ${sh.perInvocation}x${sh.workgroup}`] = elementwiseJob(8 * T, 4 * T, { bindingLimit: gpu.adapter.limits.maxStorageBufferBindingSize, shapes: [sh] }).job;
  jobs['chained'] = base.job;
  for (const v of wanted) jobs[v] = { ...base.job, shaders: base.job.shaders.map((s) => (s.label === 'scan_chained' ? { ...s, code: variant(v, s.code) } : s)) };
  if (process.argv.includes('--check')) {
    const ref = interpret(module, { batch: 1, T, sizes: { C: 1 } }, { inputs: data.inputs, params: data.params });
    for (const name of ['chained', ...wanted]) {
      const y = base.decode((await gpu.run(jobs[name]!)).buffers as Record<string, ArrayBuffer>).outputs['y']!;
      const r = ref.outputs['y']!;
      let err = 0;
      for (let i = 0; i < T; i++) err = Math.max(err, Math.abs(y[i]! - r[i]!) / (1 + Math.abs(r[i]!)));
      console.error(`${name}: max |gpu - ref| / (1 + |ref|) = ${err.toExponential(2)}`);
    }
  }
  const cpu: Record<string, number> = {};
  const wall: Record<string, number> = {};
  for (let r = 0; r < rounds; r++)
    for (const [name, job] of Object.entries(jobs)) {
      cpu[name] = Math.min(cpu[name] ?? Infinity, await cpuPerRun(gpu, job));
      const ns = [...(await gpu.run({ ...job, timing: { repeats: 5, warmup: 1 } })).timingsNs!].sort((a, b) => a - b);
      wall[name] = Math.min(wall[name] ?? Infinity, ns[2]! / 1e6);
    }
  const best = (m: Record<string, number>) => Math.min(...Object.entries(m).filter(([k]) => k.startsWith('elementwise')).map(([, v]) => v));
  console.log(`T = 2^${Math.log2(T)}, ${rounds} rounds; load average ${load0.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after. Ratios: the best elementwise shape's time over the job's.\n`);
  console.log('| job | CPU ms per run | CPU ratio | wall ms | wall ratio |\n|---|---:|---:|---:|---:|');
  for (const name of Object.keys(jobs)) console.log(`| ${name} | ${cpu[name]!.toFixed(1)} | ${(best(cpu) / cpu[name]!).toFixed(2)} | ${wall[name]!.toFixed(2)} | ${(best(wall) / wall[name]!).toFixed(2)} |`);
} finally {
  await gpu.close();
}
