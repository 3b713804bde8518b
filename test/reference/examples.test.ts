// Every example runs through the reference interpreter on random data and produces finite values,
// in both precisions, with variable lengths and given initial states.
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { interpret, type RunShape } from '../../src/runtime/reference/interpreter.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { exampleModule } from './helpers.js';

const examples = readdirSync(new URL('../../examples/', import.meta.url))
  .filter((f) => f.endsWith('.rnn'))
  .map((f) => f.slice(0, -4))
  .sort();

describe.each(examples)('%s', (name) => {
  const m = exampleModule(name);
  const lengths = randomLengths(3, 12, 5);
  // A grid cell (issue 18) runs on a 3 x 4 grid (T = H * W): every position runs, no lengths.
  const shape: RunShape = m.grid ? { batch: 3, T: 12, sizes: bindDims(m), grid: { H: 3, W: 4 } } : { batch: 3, T: 12, sizes: bindDims(m), lengths };
  const data = randomRunData(m, shape, 11, { initial: true });

  it('gives finite outputs and final states in float64 and float32, close to each other', () => {
    const r64 = interpret(m, shape, data);
    const r32 = interpret(m, shape, data, { precision: 'f32' });
    expect(Object.keys(r64.outputs).sort()).toEqual(tensorsOf(m, 'output').map((t) => t.name).sort());
    for (const [kind, of64, of32] of [['output', r64.outputs, r32.outputs], ['state', r64.final, r32.final]] as const) {
      for (const [tensor, a] of Object.entries(of64)) {
        const b = of32[tensor]!;
        for (let i = 0; i < a.length; i++) {
          if (!Number.isFinite(a[i]!) || !Number.isFinite(b[i]!)) throw new Error(`${kind} ${tensor}[${i}] is ${a[i]} (f64), ${b[i]} (f32)`);
          expect(Math.abs(a[i]! - b[i]!)).toBeLessThan(1e-4 * (1 + Math.abs(a[i]!)));
        }
      }
    }
  });

  it('writes 0 past each sequence length (a grid cell: refuses lengths)', () => {
    if (m.grid) return expect(() => interpret(m, { ...shape, lengths }, data)).toThrow(/a grid cell takes no lengths/);
    const r = interpret(m, shape, data);
    const short = shape.lengths![1]!;
    expect(short).toBeLessThan(shape.T);
    for (const o of tensorsOf(m, 'output')) {
      const a = r.outputs[o.name]!;
      const perStep = a.length / (shape.batch * shape.T);
      const tail = a.subarray((shape.T + short) * perStep, 2 * shape.T * perStep);
      expect(tail.every((x) => x === 0)).toBe(true);
    }
  });
});
