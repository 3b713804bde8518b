// Shared by the gradient tests: every example cell, seeded data in float64, upstream gradients and
// the scalar loss they define.
import { readdirSync, readFileSync } from 'node:fs';
import { frontEnd } from '../../src/driver/front-end.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { tensorSize } from '../../src/compiler/ir/dims.js';
import { randomLengths, randomRunData, streamFor, uniformFloats } from '../../src/driver/data.js';
import { interpret, type RunData, type RunShape } from '../../src/runtime/reference/interpreter.js';
import { expect } from 'vitest';
import type { GradResult, Upstream } from '../../src/runtime/reference/grad.js';

/** Every cell the gradient tests run: examples/*.rnn and bench/cells/*.rnn, as [label, path]. */
export const cellFiles: [string, URL][] = ['examples', 'bench/cells'].flatMap((dir) => {
  const base = new URL(`../../${dir}/`, import.meta.url);
  return readdirSync(base)
    .filter((f) => f.endsWith('.rnn'))
    .sort()
    .map((f): [string, URL] => [`${dir}/${f.slice(0, -4)}`, new URL(f, base)]);
});

/** The cells with a time axis (the tape runs over time; a grid cell runs over a 2-D grid, issue 18). */
export const timeCellFiles: [string, URL][] = cellFiles.filter(([, url]) => !moduleAt(url).grid);

/** The cells the compiler's reverse-mode pass takes: not those with a time direction, nor grid cells (it refuses them, src/compiler/grad/reverse.ts). */
export const gradCellFiles: [string, URL][] = cellFiles.filter(([, url]) => {
  const m = moduleAt(url);
  return !m.reversed && !m.tensors.some((t) => t.reversed) && !m.grid;
});

export function moduleAt(url: URL): Module {
  const { module, diagnostics } = frontEnd(readFileSync(url, 'utf8'));
  if (!module) throw new Error(`${url.pathname} does not compile:\n${diagnostics.map((d) => `${d.code} ${d.message}`).join('\n')}`);
  return module;
}

export interface Case {
  label: string;
  shape: RunShape;
  data: RunData;
  upstream: Required<Upstream>;
  /** Whether the initial states are given (their gradients are then checked). */
  initial: boolean;
}

const toF64 = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));

/** T = 1 from the spec's initial states; T = 7 and 17 with variable lengths and given initial states. */
export function casesFor(m: Module, sizes: Record<string, number>): Case[] {
  const configs = [
    { T: 1, batch: 2, lengths: false, initial: false, seed: 1 },
    { T: 7, batch: 3, lengths: true, initial: true, seed: 2 },
    { T: 17, batch: 2, lengths: true, initial: true, seed: 3 },
  ];
  return configs.map(({ T, batch, lengths, initial, seed }) => {
    const shape: RunShape = { batch, T, sizes, ...(lengths ? { lengths: randomLengths(batch, T, seed) } : {}) };
    const raw = randomRunData(m, shape, seed, { initial });
    const data: RunData = { inputs: toF64(raw.inputs), params: toF64(raw.params), ...(raw.initial ? { initial: toF64(raw.initial) } : {}) };
    const upstream = {
      outputs: Object.fromEntries(tensorsOf(m, 'output').map((o) => [o.name, Float64Array.from(uniformFloats(seed, `grad:${o.name}`, batch * T * tensorSize(o, sizes)))])),
      final: Object.fromEntries(tensorsOf(m, 'state').map((s) => [s.name, Float64Array.from(uniformFloats(seed, `grad:${s.name}.final`, batch * tensorSize(s, sizes)))])),
    };
    return { label: `T=${T} batch=${batch}${lengths ? ' lengths' : ''}${initial ? ' initial' : ''}`, shape, data, upstream, initial };
  });
}

/** The scalar loss Σ upstream · outputs + Σ upstream.final · final of a float64 run. */
export function loss(m: Module, shape: RunShape, data: RunData, upstream: Required<Upstream>): number {
  const r = interpret(m, shape, data);
  let total = 0;
  for (const [name, a] of Object.entries(r.outputs)) {
    const u = upstream.outputs[name]!;
    for (let i = 0; i < a.length; i++) total += u[i]! * a[i]!;
  }
  for (const [name, a] of Object.entries(r.final)) {
    const u = upstream.final[name]!;
    for (let i = 0; i < a.length; i++) total += u[i]! * a[i]!;
  }
  return total;
}

const SAMPLES = 3;

/**
 * Sampled coordinates of a gradient against central differences of the float64 loss: inputs,
 * params, and the initial states when given. See reference.test.ts for the step and the tolerance.
 * `someNonzero`: a gradient that is 0 everywhere is a failure (it is for a cell that has one: a
 * generated one whose state saturates).
 */
export function checkFiniteDifferences(m: Module, c: Case, g: GradResult, label: string, { someNonzero = c.initial } = {}): void {
  // Sampled coordinates: inputs within a sequence's valid steps, params, given initial states.
  const next = streamFor(7, label);
  type Coord = { kind: 'inputs' | 'params' | 'initial'; name: string; index: number; grad: number };
  const coords: Coord[] = [];
  // Half of the samples where the gradient is not 0 (past a length, or through a select's condition, it is).
  const sample = (kind: Coord['kind'], name: string, n: number, grads: Float64Array) => {
    const nonzero = Array.from(grads.keys()).filter((i) => grads[i] !== 0);
    for (let s = 0; s < Math.min(SAMPLES, n); s++) {
      const index = s % 2 === 0 && nonzero.length ? nonzero[next() % nonzero.length]! : next() % n;
      coords.push({ kind, name, index, grad: grads[index]! });
    }
  };
  for (const x of tensorsOf(m, 'input')) sample('inputs', x.name, g.inputs[x.name]!.length, g.inputs[x.name]!);
  for (const p of tensorsOf(m, 'param')) sample('params', p.name, g.params[p.name]!.length, g.params[p.name]!);
  if (c.initial) for (const s of tensorsOf(m, 'state')) sample('initial', s.name, g.initial[s.name]!.length, g.initial[s.name]!);
  // (From the spec's initial state, modcount's only input is a select's condition: no gradient at all.)
  if (someNonzero) expect(coords.some((k) => k.grad !== 0), 'some sampled gradient is not 0').toBe(true);
  const scale = Math.max(1e-3, ...coords.map((k) => Math.abs(k.grad)));

  for (const k of coords) {
    const at = (delta: number) => {
      const copy: RunData = { inputs: { ...c.data.inputs }, params: { ...c.data.params }, ...(c.data.initial ? { initial: { ...c.data.initial } } : {}) };
      const table = copy[k.kind]!;
      const a = Float64Array.from(table[k.name]!);
      a[k.index]! += delta;
      table[k.name] = a;
      return loss(m, c.shape, copy, c.upstream);
    };
    const x = c.data[k.kind]![k.name]![k.index]!;
    const h = 1e-5 * Math.max(1, Math.abs(x));
    const fd = (at(h) - at(-h)) / (2 * h);
    expect(Math.abs(k.grad - fd), `${k.kind} ${k.name}[${k.index}]: reverse ${k.grad}, central difference ${fd}`).toBeLessThanOrEqual(1e-6 * Math.max(Math.abs(k.grad), scale));
  }
}
