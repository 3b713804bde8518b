// Front-end benchmark: parse, check and lower (frontEnd) each example in a warm process.
// Per example: warm up, then time many runs; print the median and p95 in milliseconds.
// Usage: npm run bench:frontend [-- --iterations 500 --warmup 100]
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { performance } from 'node:perf_hooks';
import { frontEnd } from '../src/driver/front-end.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '300' }, warmup: { type: 'string', default: '50' } } });
const iterations = Number(values.iterations);
const warmup = Number(values.warmup);

const examplesDir = join(import.meta.dirname, '../examples');
const files = readdirSync(examplesDir).filter((f) => f.endsWith('.rnn')).sort();

const quantile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;

// The very first call also builds the parser (chevrotain's self-analysis): reported apart, not in the table.
const coldStart = performance.now();
frontEnd(readFileSync(join(examplesDir, files[0]!), 'utf8'));
const cold = performance.now() - coldStart;

const rows: string[][] = [];
for (const file of files) {
  const text = readFileSync(join(examplesDir, file), 'utf8');
  for (let i = 0; i < warmup; i++) frontEnd(text);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const start = performance.now();
    const result = frontEnd(text);
    times.push(performance.now() - start);
    if (!result.module) throw new Error(`${file} does not compile`);
  }
  times.sort((a, b) => a - b);
  rows.push([basename(file, '.rnn'), String(text.split('\n').length), quantile(times, 0.5).toFixed(3), quantile(times, 0.95).toFixed(3), times.at(-1)!.toFixed(3)]);
}

const header = ['example', 'lines', 'median ms', 'p95 ms', 'max ms'];
const widths = header.map((h, k) => Math.max(h.length, ...rows.map((r) => r[k]!.length)));
const line = (cells: string[]) => `| ${cells.map((c, k) => (k === 0 ? c.padEnd(widths[k]!) : c.padStart(widths[k]!))).join(' | ')} |`;
console.log(`frontEnd (parse + check + lower), ${warmup} warm-up runs then ${iterations} timed runs per example, node ${process.version}`);
console.log(line(header));
console.log(`|${widths.map((w, k) => (k === 0 ? '-'.repeat(w + 2) : `${'-'.repeat(w + 1)}:`)).join('|')}|`);
for (const r of rows) console.log(line(r));
console.log(`first call in the process (${files[0]}, includes building the parser): ${cold.toFixed(1)} ms`);
