// Seeded, deterministic data for runs: the same seed gives the same bytes on every machine.
//
// The generator is splitmix32 (a 32-bit variant of Steele, Lea and Flood's SplitMix, as in
// bryc/code's PRNG collection): a Weyl sequence stepped by 0x9e3779b9 and a two-multiply mixer.
// Every operation is a 32-bit integer one (Math.imul, >>>), so no platform float behaviour enters.
// Each tensor draws from its own stream, seeded by mixing the run's seed with a hash of a label
// (`input:x`, `param:W`, ...), so adding a tensor to a spec does not change the others' data.
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import { tensorSize } from '../compiler/ir/dims.js';
import type { RunData, RunShape } from '../runtime/reference/interpreter.js';

/** splitmix32: returns a generator of uniformly distributed unsigned 32-bit integers. */
export function splitmix32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x9e3779b9) >>> 0;
    let z = state;
    z = Math.imul(z ^ (z >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    return (z ^ (z >>> 15)) >>> 0;
  };
}

/** FNV-1a over the UTF-16 code units of a label. */
function hashLabel(label: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193);
  return h >>> 0;
}

/** The stream for one labelled tensor of a run. */
export function streamFor(seed: number, label: string): () => number {
  return splitmix32(splitmix32(seed ^ hashLabel(label))());
}

/**
 * `n` values uniform in [lo, hi): the top 24 bits of each draw, so every value of the unit interval
 * is exactly a float32 and the GPU sees the same numbers as the CPU.
 */
export function uniformFloats(seed: number, label: string, n: number, lo = -1, hi = 1): Float32Array {
  // streamFor's draws with splitmix32 inlined: the state in a local int32, not a closure's context,
  // where a value over 2^30 is a heap number allocated at every step (~30 ns a value, against ~2).
  // The same bits: every step is modulo 2^32, and only the state's low 32 bits are ever read.
  let state = splitmix32(seed ^ hashLabel(label))() | 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    state = (state + 0x9e3779b9) | 0;
    let z = Math.imul(state ^ (state >>> 16), 0x21f0aaad);
    z = Math.imul(z ^ (z >>> 15), 0x735a2d97);
    out[i] = lo + (hi - lo) * (((z ^ (z >>> 15)) >>> 8) / 0x1000000);
  }
  return out;
}

export interface RandomDataOptions {
  /** The interval values are drawn from; [-1, 1) by default. */
  range?: [number, number];
  /** Also draw an initial state per sequence (otherwise the spec's initial values apply). */
  initial?: boolean;
}

/** Inputs [batch, T, ...dims] and params [...dims] (and, on request, initial states [batch, ...dims]). */
export function randomRunData(m: Module, shape: RunShape, seed: number, options: RandomDataOptions = {}): RunData {
  const [lo, hi] = options.range ?? [-1, 1];
  const draw = (label: string, n: number) => uniformFloats(seed, label, n, lo, hi);
  const data: RunData = {
    inputs: Object.fromEntries(tensorsOf(m, 'input').map((t) => [t.name, draw(`input:${t.name}`, shape.batch * shape.T * tensorSize(t, shape.sizes))])),
    params: Object.fromEntries(tensorsOf(m, 'param').map((t) => [t.name, draw(`param:${t.name}`, tensorSize(t, shape.sizes))])),
  };
  if (options.initial) {
    data.initial = Object.fromEntries(tensorsOf(m, 'state').map((t) => [t.name, draw(`initial:${t.name}`, shape.batch * tensorSize(t, shape.sizes))]));
  }
  return data;
}

/**
 * Sequence lengths for variable-length tests: the first sequence is full (T), the second short
 * (at most a quarter of T, at least 1), the rest uniform in [1, T].
 */
export function randomLengths(batch: number, T: number, seed: number): Int32Array {
  const next = streamFor(seed, 'lengths');
  const out = new Int32Array(batch);
  for (let b = 0; b < batch; b++) {
    if (b === 0) out[b] = T;
    else if (b === 1) out[b] = 1 + (next() % Math.max(1, Math.floor(T / 4)));
    else out[b] = 1 + (next() % T);
  }
  return out;
}
