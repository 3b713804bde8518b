// Chunked vs sequential kernel for the matrix-affine cells, across T, state size (K = V) and chunk
// size, timed on the GPU (timestamp queries where the device has them, else wall clock) in one Dawn
// session. Prints a markdown table (median of the timed repeats, in ms).
//
//   npx tsx scripts/bench-chunk.ts [--cells deltanet,rwkv7] [--T 1000,10000] [--K 4,8,16] [--batch 1,16] [--chunk 8,16,32,64] [--repeats 5]
import { readFileSync } from 'node:fs';
import { frontEnd } from '../src/driver/front-end.js';
import { bindDims } from '../src/compiler/ir/dims.js';
import { randomRunData } from '../src/driver/data.js';
import { prepareRun, type PlanOptions } from '../src/driver/compile.js';
import type { Analysis } from '../src/compiler/analyse/types.js';
import type { Module } from '../src/compiler/ir/ir.js';
import type { RunArrays } from '../backends/wgsl-seq/pack.js';
import { GpuSession } from '../src/runtime/dawn/runtime.js';
import { compileChunk } from '../backends/wgsl-chunk/index.js';

const arg = (name: string, fallback: string) => {
  const k = process.argv.indexOf(`--${name}`);
  return (k > 0 ? process.argv[k + 1]! : fallback).split(',');
};
const cells = arg('cells', 'deltanet,deltaproduct2,rwkv7');
const Ts = arg('T', '1000,10000').map(Number);
const Ks = arg('K', '4,8,16').map(Number);
const batches = arg('batch', '1,16').map(Number);
const chunks = arg('chunk', '8,16,32,64').map(Number);
const repeats = Number(arg('repeats', '5')[0]);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

const session = await GpuSession.open();
let method = '';
async function time(cell: { module: Module; analysis: Analysis }, options: PlanOptions, data: RunArrays): Promise<number> {
  const job = prepareRun(cell, options, { batch: data.batch, T: data.T }).job(data);
  const result = await session.run({ ...job, timing: { repeats, warmup: 1 } });
  method = result.timingMethod ?? 'wall';
  return median(result.timingsNs!) / 1e6;
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
          for (const chunk of chunks) {
            const C = compileChunk(module, sizes, { chunk }).geometry.C;
            if (C !== chunk) {
              timed.push(`— (C≤${C})`);
              continue;
            }
            const ms = await time(fe, { mode: 'chunk', chunk, dims: sizes }, data);
            timed.push(ms.toFixed(2));
            if (ms < best) [best, bestC] = [ms, chunk];
          }
          const line = `| ${cell} | ${K} | ${batch} | ${T} | ${seq.toFixed(2)} | ${timed.join(' | ')} | ${(seq / best).toFixed(2)}x (C=${bestC}) |`;
          rows.push(line);
          process.stderr.write(line + '\n');
        }
      }
    }
  }
} finally {
  await session.close();
}
console.log(`Timing: ${method}, median of ${repeats} repeats (after 1 warm-up), ms.\n`);
console.log(`| cell | K=V | batch | T | seq | ${chunks.map((c) => `chunk C=${c}`).join(' | ')} | seq / best chunk |`);
console.log(`|---|---|---|---|---|${chunks.map(() => '---|').join('')}---|`);
for (const r of rows) console.log(r);
