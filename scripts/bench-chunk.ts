// Chunked vs sequential kernel for the matrix-affine cells, across T, state size (K = V) and chunk
// size, timed on the GPU (timestamp queries where the device has them, else wall clock) in one Dawn
// session. Prints a markdown table (median of the timed repeats, in ms), with the best chunk size's
// split over the passes (aggregate / carry [/ steps], timestamps only) and the chunk form.
//
//   npx tsx scripts/bench-chunk.ts [--cells deltanet,deltaproduct2] [--T 8192] [--K 64] [--batch 1,8] [--chunk 8,16,32] [--repeats 3] [--replay fused|parallel]
import { readFileSync } from 'node:fs';
import { frontEnd } from '../src/driver/front-end.js';
import { bindDims } from '../src/compiler/ir/dims.js';
import { randomRunData } from '../src/driver/data.js';
import { prepareRun, type PlanOptions } from '../src/driver/compile.js';
import type { Analysis } from '../src/compiler/analyse/types.js';
import type { Module } from '../src/compiler/ir/ir.js';
import type { RunArrays } from '../backends/wgsl-seq/pack.js';
import { GpuSession } from '../src/runtime/dawn/runtime.js';
import { compileChunk, prepareChunk } from '../backends/wgsl-chunk/index.js';

const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return (k > 0 ? process.argv[k + 1]! : fallback).split(',');
};
const cells = arg('cells', 'deltanet,deltaproduct2');
const Ts = arg('T', '8192').map(Number);
const Ks = arg('K', '64').map(Number);
const batches = arg('batch', '1,8').map(Number);
const chunks = arg('chunk', '16,32,64').map(Number);
const repeats = Number(arg('repeats', '3')[0]);
// WY form: 'fused' (the planner's choice: the carry pass replays) or 'parallel' (a steps pass replays the chunks in parallel).
const replay = arg('replay', 'fused')[0] as 'fused' | 'parallel';

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const session = await GpuSession.open();
let method = '';
let split = '';
async function time(cell: { module: Module; analysis: Analysis }, options: PlanOptions, data: RunArrays): Promise<number> {
  const size = { batch: data.batch, T: data.T };
  const prepared =
    options.mode === 'chunk' && replay === 'parallel'
      ? prepareChunk(cell.module, compileChunk(cell.module, options.dims!, { chunk: options.chunk, analysis: cell.analysis, replay }), size)
      : prepareRun(cell, options, size);
  const job = prepared.job(data);
  const result = await session.run({ ...job, timing: { repeats, warmup: 1 } });
  method = result.timingMethod ?? 'wall';
  const total = median(result.timingsNs!);
  const at = result.timingsNs!.indexOf(total);
  split = result.perPassNs?.[at]?.map((ns) => (ns / 1e6).toFixed(1)).join(' / ') ?? '';
  return total / 1e6;
}

const rows: string[] = [];
try {
  for (const cell of cells) {
    const fe = frontEnd(readFileSync(`examples/${cell}.rnn`, 'utf8')) as { module: Module; analysis: Analysis };
    const module = fe.module;
    for (const K of Ks) {
      const sizes = bindDims(module, { K, V: K });
      for (const batch of batches) {
        for (const T of Ts) {
          const d = randomRunData(module, { batch, T, sizes }, 1);
          const data: RunArrays = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array> };
          const seq = await time(fe, { mode: 'seq', dims: sizes }, data);
          const timed: string[] = [];
          let best = Infinity;
          let bestC = 0;
          let bestSplit = '';
          let form = '';
          for (const chunk of chunks) {
            let compiled;
            try {
              compiled = compileChunk(module, sizes, { chunk, analysis: fe.analysis });
            } catch (e) {
              timed.push(`— (${(e as Error).message.slice(0, 40)}…)`);
              continue;
            }
            const C = compiled.geometry.C;
            form = compiled.shape.form;
            if (C !== chunk) {
              timed.push(`— (C≤${C})`);
              continue;
            }
            let ms: number;
            try {
              ms = await time(fe, { mode: 'chunk', chunk, dims: sizes }, data);
            } catch (e) {
              // A limit the run hits (a scratch buffer over the binding size): a cell of the table, not the end of it.
              timed.push(`— (${(e as Error).message.replace(/\(.*$/, '').slice(0, 60)})`);
              continue;
            }
            timed.push(ms.toFixed(2));
            if (ms < best) [best, bestC, bestSplit] = [ms, chunk, split];
          }
          const line = `| ${cell} | ${form} | ${K} | ${batch} | ${T} | ${seq.toFixed(2)} | ${timed.join(' | ')} | ${(seq / best).toFixed(2)}x (C=${bestC}) | ${bestSplit} |`;
          rows.push(line);
          process.stderr.write(line + '\n');
        }
      }
    }
  }
} finally {
  await session.close();
}
console.log(`Timing: ${method}, median of ${repeats} repeats (after 1 warm-up), ms; WY replay: ${replay}.\n`);
console.log(`| cell | form | K=V | batch | T | seq | ${chunks.map((c) => `chunk C=${c}`).join(' | ')} | seq / best chunk | best: per pass |`);
console.log(`|---|---|---|---|---|---|${chunks.map(() => '---|').join('')}---|---|`);
for (const r of rows) console.log(r);
