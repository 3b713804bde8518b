// Runs in segments (src/driver/segments.ts) give the one-piece result: the sequential kernel bit for
// bit (the same float operations in the same order), the (max, min) scan bit for bit (selections
// only), the (+, ×) scan within rounding (the pieces re-associate the prefix). And a run too big for
// the adapter's buffer limits is cut to fit instead of refused, with lengths and initial states kept.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { emit, plan } from '../../src/driver/compile.js';
import { planSegments, runSegmented, type Segments } from '../../src/driver/segments.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { verifyRun } from '../../src/driver/verify.js';
import type { Mode } from '../../src/compiler/plan/plan.js';
import type { RunArrays, RunResult, RunSize } from '../../backends/backend.js';

const gpu = fileGpu();

function cell(path: string, mode: Mode, dims: Record<string, number> = {}) {
  const r = frontEnd(readFileSync(path, 'utf8'));
  const c = plan(r.module!, r.analysis!, { mode, dims });
  const compiled = emit(c);
  return { c, prepare: (s: RunSize) => compiled.prepare(s) };
}

function maxDiff(a: RunResult, b: RunResult): number {
  let worst = 0;
  for (const group of ['outputs', 'finalState'] as const)
    for (const [name, x] of Object.entries(a[group])) {
      const y = b[group][name]!;
      expect(y.length).toBe(x.length);
      for (let i = 0; i < x.length; i++) worst = Math.max(worst, Math.abs(x[i]! - y[i]!) / (1 + Math.abs(y[i]!)));
    }
  return worst;
}

/** Seeded data in the shared layouts; with `ragged`, a given initial state and lengths of every kind. */
function dataFor(c: ReturnType<typeof cell>['c'], batch: number, T: number, seed: number, ragged = false): RunArrays {
  const d = randomRunData(c.module, { batch, T, sizes: c.sizes }, seed, { initial: ragged });
  const f32 = (r: typeof d.inputs) => r as Record<string, Float32Array>;
  return { batch, T, inputs: f32(d.inputs), params: f32(d.params), ...(d.initial ? { initialState: f32(d.initial) } : {}), ...(ragged ? { lengths: randomLengths(batch, T, seed) } : {}) };
}

const pieces = (data: RunArrays, n: number): Segments => ({ T: Math.ceil(data.T / n), batch: data.batch, count: n });
const whole = (data: RunArrays): Segments => ({ T: data.T, batch: data.batch, count: 1 });

describe('pieces equal the one-piece run', () => {
  it('affine scan: a 1,000,000-step sequence in 64 pieces', async () => {
    const { c, prepare } = cell('bench/cells/affine.rnn', 'scan');
    const data = dataFor(c, 1, 1_000_000, 3);
    const one = await runSegmented(gpu, c.module, prepare, data, c.sizes, whole(data));
    const split = await runSegmented(gpu, c.module, prepare, data, c.sizes, pieces(data, 64));
    expect(maxDiff(split, one)).toBeLessThan(1e-5);
  });

  it.each([
    ['examples/minmax.rnn', 'scan'],
    ['examples/minmax.rnn', 'seq'],
    ['examples/gru.rnn', 'seq'],
  ] as const)('%s (%s): bit for bit, ragged lengths and a given initial state, pieces not dividing T', async (path, mode) => {
    const { c, prepare } = cell(path, mode);
    const [batch, T] = [5, 1000];
    const data = dataFor(c, batch, T, 7, true);
    const one = await runSegmented(gpu, c.module, prepare, data, c.sizes, whole(data));
    const split = await runSegmented(gpu, c.module, prepare, data, c.sizes, { T: 61, batch: 2, count: 17 * 3 });
    expect(maxDiff(split, one)).toBe(0);
  });
});

describe('limits', () => {
  it('a run over the storage-binding limit is cut into pieces that fit, and still matches the reference', async () => {
    const { c, prepare } = cell('examples/mamba_s6.rnn', 'scan');
    const [batch, T] = [3, 500];
    const data = dataFor(c, batch, T, 11, true);
    // A small adapter: every per-step buffer of the whole run is over its binding limit.
    const limits = { ...gpu.adapter.limits, maxStorageBufferBindingSize: 64 * 1024, maxBufferSize: 64 * 1024 };
    const segments = planSegments(prepare, limits, c.sizes, data);
    expect(segments.count).toBeGreaterThan(1);
    const got = await runSegmented(gpu, c.module, prepare, data, c.sizes, segments);
    const ref = interpret(c.module, { batch, T, sizes: c.sizes, lengths: data.lengths! }, { inputs: data.inputs, params: data.params, initial: data.initialState! });
    expect(verifyRun(got, ref, 1e-5).ok).toBe(true);
  });
});
