// Shared by the gradient tests: every example cell, seeded data in float64, upstream gradients and
// the scalar loss they define.
import { readdirSync, readFileSync } from 'node:fs';
import { frontEnd } from '../../src/driver/front-end.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { tensorSize } from '../../src/compiler/ir/dims.js';
import { randomLengths, randomRunData, uniformFloats } from '../../src/driver/data.js';
import { interpret, type RunData, type RunShape } from '../../src/runtime/reference/interpreter.js';
import type { Upstream } from '../../src/runtime/reference/grad.js';

/** Every cell the gradient tests run: examples/*.rnn and bench/cells/*.rnn, as [label, path]. */
export const cellFiles: [string, URL][] = ['examples', 'bench/cells'].flatMap((dir) => {
  const base = new URL(`../../${dir}/`, import.meta.url);
  return readdirSync(base)
    .filter((f) => f.endsWith('.rnn'))
    .sort()
    .map((f): [string, URL] => [`${dir}/${f.slice(0, -4)}`, new URL(f, base)]);
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
