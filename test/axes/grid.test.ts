// 2-D grid cells (issue 18), `rnn name grid { ... }`: the front end (parse, check, the IR's neighbour
// loads, explain, fmt), the plan (the wavefront kernel; the time-axis modes refused), and the reference
// interpreter against oracles written here with plain loops over rows and columns.
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { printModule } from '../../src/compiler/ir/print.js';
import { formatRnn } from '../../src/format/index.js';
import { plan } from '../../src/driver/compile.js';
import { RnncError } from '../../src/driver/errors.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { runPipeline } from '../../src/driver/pipeline.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';
import { differentiate, GradError } from '../../src/compiler/grad/reverse.js';

const ssm2d = `rnn ssm2d grid {
  dims D
  input  x[D], a[D], b[D]
  param  h0[D]
  state  h[D] = h0
  h[d] <- a[d] * h.left[d] + b[d] * h.up[d] + x[d]
  output y[d] = h[d]
}
`;

// Nonlinear in both neighbours, two states, a let read before the updates, an output read after them
// (the new value) and a neighbour read after the update.
const gated = `rnn gated2d grid {
  dims D
  input  x[D]
  param  u[D], v[D]
  state  h[D] = 0
  state  c[D] = 0.5
  let g[d] = sigmoid(u[d] * h.left[d] - v[d] * c.up[d])
  h[d] <- tanh(g[d] * h.up[d] + (1 - g[d]) * h.left[d] + x[d])
  c[d] <- c.left[d] * g[d] + h[d]
  output y[d] = h[d] * c[d]
  output z[d] = h.left[d] + c[d]
}
`;

function moduleOf(text: string): Module {
  const r = frontEnd(text);
  expect(r.diagnostics).toEqual([]);
  return r.module!;
}

/** A deterministic pseudo-random array in [lo, hi). */
function random(n: number, seed: number, lo = -1, hi = 1): Float64Array {
  let s = seed >>> 0 || 1;
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    out[i] = lo + ((hi - lo) * s) / 2 ** 32;
  }
  return out;
}

const sizes: [H: number, W: number][] = [[1, 1], [1, 7], [7, 1], [5, 3], [3, 5], [2, 11], [13, 2]];
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('grid cells: front end', () => {
  it("the compiler's reverse-mode pass refuses a grid cell itself (its neighbour loads are not the previous step)", () => {
    const m = frontEnd('rnn f grid {\n  input x\n  state h = 0\n  h <- 0.5 * h.left + 0.25 * h.up + x\n}\n').module!;
    expect(() => differentiate(m)).toThrow(GradError);
    expect(() => differentiate(m)).toThrow('it runs over a 2-D grid (`grid`), and the backward pass runs over time only');
  });

  it('parses `grid` after the name into Module.grid and neighbour loads; explain prints both', () => {
    const m = moduleOf(ssm2d);
    expect(m.grid).toBe(true);
    expect(m.reversed).toBeUndefined();
    const loads = m.step[0]!.nodes.filter((n) => n.op === 'load' && n.source === 'state');
    expect(loads.map((n) => (n.op === 'load' ? [n.tensor, n.neighbour] : []))).toEqual([['h', 'left'], ['h', 'up']]);
    const text = printModule(m);
    expect(text.split('\n')[0]).toBe('rnn ssm2d grid');
    expect(text).toContain('load state.old.left h[d]');
    expect(text).toContain('load state.old.up h[d]');
    // After the update a bare `h` is this position's new value.
    expect(text).toContain('load state.new h[d]');
  });

  it('keeps `grid` usable as a name', () => {
    const r = frontEnd('rnn f grid {\n  input grid\n  state h = 0\n  h <- h.left + h.up + grid\n}\n');
    expect(r.diagnostics).toEqual([]);
    expect(r.module!.grid).toBe(true);
  });

  it('a bare state before its update asks which neighbour (RNN0508), also in a let', () => {
    const r = frontEnd('rnn f grid {\n  input x\n  state h = 0\n  let p = h * 2\n  h <- p + h.left + x\n}\n');
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([['RNN0508', 'in a grid cell, state `h` is read before its update: say which neighbour, `h.left` or `h.up`']]);
  });

  it('`.left`/`.up` in a cell over time is an error (RNN0509); another neighbour is unknown (RNN0510)', () => {
    expect(frontEnd('rnn f {\n  input x\n  state h = 0\n  h <- h.up + x\n}\n').diagnostics.map((d) => d.code)).toEqual(['RNN0509']);
    expect(frontEnd('rnn f reversed {\n  input x\n  state h = 0\n  h <- h.left + x\n}\n').diagnostics.map((d) => d.code)).toEqual(['RNN0509']);
    expect(frontEnd('rnn f grid {\n  input x\n  state h = 0\n  h <- h.right + x\n}\n').diagnostics.map((d) => d.code)).toEqual(['RNN0510']);
    // A field of a name that is not a state keeps the combine's rule.
    expect(frontEnd('rnn f grid {\n  input x\n  state h = 0\n  h <- h.left + x.left\n}\n').diagnostics.map((d) => d.code)).toEqual(['RNN0211']);
  });

  it('a grid cell has no monoid (RNN0511) and no `reversed` block (RNN0505)', () => {
    const monoid = 'rnn g grid {\n  input x\n  state s = 0\n  monoid {\n    element s = x\n    identity s = 0\n    combine(a, b) { s = a.s + b.s }\n  }\n}\n';
    expect(frontEnd(monoid).diagnostics.map((d) => d.code)).toEqual(['RNN0511']);
    const block = 'rnn g grid {\n  input x\n  state h = 0\n  h <- h.left + x\n  reversed {\n    state k = 0\n    k <- k + x\n  }\n}\n';
    const r = frontEnd(block);
    // The block's own bare `k` before its update is a grid cell's error too.
    expect(r.diagnostics.map((d) => d.code)).toEqual(['RNN0505', 'RNN0508']);
    expect(r.diagnostics[0]!.message).toBe('a `reversed { ... }` block cannot be in a grid cell');
  });

  it('is kept by the formatter, idempotently', async () => {
    const once = (await formatRnn('rnn   f   grid{\n input x\n state h = 0\n h <- h.left+h.up + x\n}\n')).formatted;
    expect(once).toBe('rnn f grid {\n  input  x\n  state  h = 0\n  h <- h.left + h.up + x\n}\n');
    expect((await formatRnn(once!)).formatted).toBe(once);
  });

  it('seq and auto plan the wavefront kernel; scan and chunk (one time axis) are refused with the reason', () => {
    const r = frontEnd(ssm2d);
    for (const mode of ['seq', 'auto'] as const) {
      const c = plan(r.module!, r.analysis!, { mode, dims: { D: 4 }, verb: 'run' });
      expect(c.plan.mode).toBe('seq');
      expect(c.plan.why).toMatch(/wavefront kernel runs the anti-diagonals/);
    }
    for (const mode of ['scan', 'chunk'] as const) {
      let error: unknown;
      try {
        plan(r.module!, r.analysis!, { mode, dims: { D: 4 }, verb: 'run' });
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(RnncError);
      expect((error as RnncError).message).toMatch(new RegExp(`^rnnc: ssm2d cannot take --mode ${mode}: ssm2d is a grid cell, and the ${mode} kernels run one time axis: .*--grid H,W --mode ${mode}`));
    }
  });

  it('a let past a WGSL array (the wavefront keeps each position\'s lets in arrays) is RNN0803 at the let, not an internal error', () => {
    const text = 'rnn wide grid {\n  dims D = 4\n  input  x[D]\n  state  h = 0\n  let g[d] = x[d] * 2\n  h <- 0.5 * h.left + 0.5 * h.up + sum(d: g[d])\n  output y = h\n}\n';
    const source = new SourceFile('wide.rnn', text);
    const r = frontEnd(source);
    expect(plan(r.module!, r.analysis!, { dims: { D: 65535 } }, source).plan.mode).toBe('seq');
    expect(() => plan(r.module!, r.analysis!, { dims: { D: 65536 } }, source)).toThrow(/wide\.rnn:5:3: error RNN0803: the wavefront kernel of a grid cell keeps `g` for each position in an array of 65536 floats, over the 65535 a WGSL array holds[\s\S]*rnnc: wide is too costly to run at these sizes/);
  });

  it('explain --after grad refuses it too (the reverse pass knows no neighbours)', () => {
    expect(() => runPipeline(new SourceFile('g.rnn', ssm2d), 'grad')).toThrow(/^rnnc: RNN0512: ssm2d is a grid cell .*its gradients are not built yet/);
  });
});

describe('grid cells: the reference interpreter', () => {
  it.each(sizes)('a 2-D SSM at %i x %i = hand loops (given initial params, batch 3)', (H, W) => {
    const m = moduleOf(ssm2d);
    const batch = 3;
    const D = 3;
    const n = batch * H * W * D;
    const x = random(n, 1 + H * 31 + W);
    const a = random(n, 2 + H, 0, 0.9);
    const b = random(n, 3 + W, 0, 0.9);
    const h0 = random(D, 4);
    const got = interpret(m, { batch, T: H * W, sizes: { D }, grid: { H, W } }, { inputs: { x, a, b }, params: { h0 } });

    const at = (bi: number, r: number, c: number, d: number) => ((bi * H + r) * W + c) * D + d;
    const h = new Float64Array(n);
    for (let bi = 0; bi < batch; bi++)
      for (let r = 0; r < H; r++)
        for (let c = 0; c < W; c++)
          for (let d = 0; d < D; d++) {
            const left = c > 0 ? h[at(bi, r, c - 1, d)]! : h0[d]!;
            const up = r > 0 ? h[at(bi, r - 1, c, d)]! : h0[d]!;
            const i = at(bi, r, c, d);
            h[i] = a[i]! * left + b[i]! * up + x[i]!;
          }
    expect(got.outputs['y']!.length).toBe(n);
    for (let i = 0; i < n; i++) expect(got.outputs['y']![i]).toBeCloseTo(h[i]!, 12);
    for (let bi = 0; bi < batch; bi++)
      for (let d = 0; d < D; d++) expect(got.final['h']![bi * D + d]).toBeCloseTo(h[at(bi, H - 1, W - 1, d)]!, 12);
  });

  it.each(sizes)('a gated cell with two states at %i x %i = hand loops (given initial states)', (H, W) => {
    const m = moduleOf(gated);
    const batch = 2;
    const D = 2;
    const n = batch * H * W * D;
    const x = random(n, 7 + H * 5 + W);
    const u = random(D, 8);
    const v = random(D, 9);
    const hInit = random(batch * D, 10);
    const cInit = random(batch * D, 11);
    const got = interpret(m, { batch, T: H * W, sizes: { D }, grid: { H, W } }, { inputs: { x }, params: { u, v }, initial: { h: hInit, c: cInit } });

    const at = (bi: number, r: number, c: number, d: number) => ((bi * H + r) * W + c) * D + d;
    const h = new Float64Array(n);
    const cs = new Float64Array(n);
    const y = new Float64Array(n);
    const z = new Float64Array(n);
    for (let bi = 0; bi < batch; bi++)
      for (let r = 0; r < H; r++)
        for (let c = 0; c < W; c++)
          for (let d = 0; d < D; d++) {
            const hL = c > 0 ? h[at(bi, r, c - 1, d)]! : hInit[bi * D + d]!;
            const hU = r > 0 ? h[at(bi, r - 1, c, d)]! : hInit[bi * D + d]!;
            const cL = c > 0 ? cs[at(bi, r, c - 1, d)]! : cInit[bi * D + d]!;
            const cU = r > 0 ? cs[at(bi, r - 1, c, d)]! : cInit[bi * D + d]!;
            const i = at(bi, r, c, d);
            const g = sigmoid(u[d]! * hL - v[d]! * cU);
            h[i] = Math.tanh(g * hU + (1 - g) * hL + x[i]!);
            cs[i] = cL * g + h[i]!;
            y[i] = h[i]! * cs[i]!;
            z[i] = hL + cs[i]!;
          }
    for (let i = 0; i < n; i++) {
      expect(got.outputs['y']![i]).toBeCloseTo(y[i]!, 12);
      expect(got.outputs['z']![i]).toBeCloseTo(z[i]!, 12);
    }
    for (let bi = 0; bi < batch; bi++)
      for (let d = 0; d < D; d++) {
        expect(got.final['h']![bi * D + d]).toBeCloseTo(h[at(bi, H - 1, W - 1, d)]!, 12);
        expect(got.final['c']![bi * D + d]).toBeCloseTo(cs[at(bi, H - 1, W - 1, d)]!, 12);
      }
  });

  it('an empty grid leaves the initial state; a shape that does not match, or lengths, is refused', () => {
    const m = moduleOf(ssm2d);
    const h0 = Float64Array.of(0.25, -0.5);
    const empty = interpret(m, { batch: 1, T: 0, sizes: { D: 2 }, grid: { H: 0, W: 3 } }, { inputs: { x: new Float64Array(0), a: new Float64Array(0), b: new Float64Array(0) }, params: { h0 } });
    expect([...empty.final['h']!]).toEqual([0.25, -0.5]);
    const data = { inputs: { x: new Float64Array(12), a: new Float64Array(12), b: new Float64Array(12) }, params: { h0 } };
    expect(() => interpret(m, { batch: 1, T: 6, sizes: { D: 2 }, grid: { H: 2, W: 2 } }, data)).toThrow(/T must be H\*W/);
    expect(() => interpret(m, { batch: 1, T: 6, sizes: { D: 2 } }, data)).toThrow(/needs shape.grid/);
    expect(() => interpret(m, { batch: 1, T: 6, sizes: { D: 2 }, grid: { H: 2, W: 3 }, lengths: Int32Array.of(6) }, data)).toThrow(/no lengths/);
  });

  it('a grid cell whose update reads only `h.left` is W-step scans along each row, rows independent', () => {
    const m = moduleOf('rnn rows grid {\n  input x\n  state h = 0\n  h <- 0.5 * h.left + x\n  output y = h\n}\n');
    const H = 3;
    const W = 4;
    const x = random(H * W, 21);
    const got = interpret(m, { batch: 1, T: H * W, sizes: {}, grid: { H, W } }, { inputs: { x }, params: {} });
    for (let r = 0; r < H; r++) {
      let h = 0;
      for (let c = 0; c < W; c++) {
        h = 0.5 * h + x[r * W + c]!;
        expect(got.outputs['y']![r * W + c]).toBeCloseTo(h, 12);
      }
    }
  });
});
