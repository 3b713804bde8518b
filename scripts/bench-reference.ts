// Speed of the reference interpreter on the sizes GPU tests use it at. Run: npx tsx scripts/bench-reference.ts
// Prints one line per case: the best of a few runs, in milliseconds, float64 and float32 modes.
import { readFileSync } from 'node:fs';
import { frontEnd } from '../src/driver/front-end.js';
import { bindDims } from '../src/compiler/ir/dims.js';
import { interpret, type RunShape } from '../src/runtime/reference/interpreter.js';
import { randomRunData } from '../src/driver/data.js';

const cases: { example: string; dims: Record<string, number>; batch: number; T: number }[] = [
  { example: 'mamba_s6', dims: { D: 64, N: 16 }, batch: 2, T: 4096 },
  { example: 'lstm', dims: { H: 64, X: 64 }, batch: 4, T: 1024 },
  { example: 'gru', dims: { H: 64, X: 64 }, batch: 4, T: 1024 },
  { example: 'deltanet', dims: { K: 64, V: 64 }, batch: 2, T: 1024 },
  { example: 'aaren', dims: { D: 64 }, batch: 4, T: 4096 },
];

for (const c of cases) {
  const m = frontEnd(readFileSync(new URL(`../examples/${c.example}.rnn`, import.meta.url), 'utf8')).module!;
  const shape: RunShape = { batch: c.batch, T: c.T, sizes: bindDims(m, c.dims) };
  const data = randomRunData(m, shape, 7);
  const time = (precision: 'f64' | 'f32') => {
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const start = performance.now();
      interpret(m, shape, data, { precision });
      best = Math.min(best, performance.now() - start);
    }
    return best.toFixed(0);
  };
  const dims = Object.entries(c.dims).map(([k, v]) => `${k}=${v}`).join(' ');
  console.log(`${c.example.padEnd(9)} ${dims.padEnd(10)} batch=${c.batch} T=${c.T}: f64 ${time('f64')} ms, f32 ${time('f32')} ms`);
}
