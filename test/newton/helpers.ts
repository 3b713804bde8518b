// Shared by the newton tests: cells from examples/ or text, and seeded run data in the shared layouts.
import { readFileSync } from 'node:fs';
import { frontEnd } from '../../src/driver/front-end.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import type { RunArrays, RunResult } from '../../backends/backend.js';
import type { RunData } from '../../src/runtime/reference/interpreter.js';

/** The nonlinear examples newton is checked on (mingru is linear: newton solves it in one iteration). */
export const nonlinearExamples = ['gru', 'lstm', 'gru_diag', 'lstm_diag'] as const;

export function cellFrom(textOrExample: string): { module: Module; analysis: Analysis } {
  const text = textOrExample.includes('{') ? textOrExample : readFileSync(new URL(`../../examples/${textOrExample}.rnn`, import.meta.url), 'utf8');
  const r = frontEnd(text);
  if (!r.module || !r.analysis) throw new Error(`does not compile:\n${r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n')}`);
  return { module: r.module, analysis: r.analysis };
}

export interface RunCase {
  label: string;
  arrays: RunArrays;
  /** The same data for the reference interpreter. */
  data: RunData;
  lengths?: Int32Array;
}

/**
 * Lengths 1, a prime (37) and a power of two plus one (65) from the spec's initial state; then
 * variable lengths with given initial states, at 41 steps and at 256 (where the linearisation runs
 * in pieces of 64 steps, and lengths end inside them).
 */
export function runCases(m: Module, sizes: DimSizes, Ts: number[] = [1, 37, 65], raggedTs: number[] = [41, 256]): RunCase[] {
  const configs = [...Ts.map((T, k) => ({ T, batch: 2, ragged: false, seed: 10 + k })), ...raggedTs.map((T, k) => ({ T, batch: 4, ragged: true, seed: 99 + k }))];
  return configs.map(({ T, batch, ragged, seed }) => {
    const data = randomRunData(m, { batch, T, sizes }, seed, { initial: ragged });
    const f32 = (r: RunData['inputs']) => r as Record<string, Float32Array>;
    const lengths = ragged ? randomLengths(batch, T, seed) : undefined;
    const arrays: RunArrays = { batch, T, inputs: f32(data.inputs), params: f32(data.params), ...(data.initial ? { initialState: f32(data.initial) } : {}), ...(lengths ? { lengths } : {}) };
    return { label: ragged ? `T=${T}, variable lengths, given initial states` : `T=${T}`, arrays, data, ...(lengths ? { lengths } : {}) };
  });
}

/** The largest |a − b| / (1 + |b|) over every output and final state, b the reference. */
export function maxRelDiff(a: RunResult, b: { outputs: Record<string, ArrayLike<number>>; final?: Record<string, ArrayLike<number>>; finalState?: Record<string, ArrayLike<number>> }): number {
  let worst = 0;
  const groups: [Record<string, ArrayLike<number>>, Record<string, ArrayLike<number>>][] = [
    [a.outputs, b.outputs],
    [a.finalState, (b.final ?? b.finalState)!],
  ];
  for (const [x, y] of groups)
    for (const [name, want] of Object.entries(y)) {
      const got = x[name];
      if (!got || got.length !== want.length) throw new Error(`${name}: ${got?.length} elements, expected ${want.length}`);
      for (let i = 0; i < want.length; i++) {
        const d = Math.abs(got[i]! - want[i]!) / (1 + Math.abs(want[i]!));
        if (!(d <= worst)) worst = d; // NaN wins
      }
    }
  return worst;
}
