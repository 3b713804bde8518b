// Seeded, deterministic data for runs: the same seed gives the same bytes on every machine.
//
// The generator is splitmix32 (a 32-bit variant of Steele, Lea and Flood's SplitMix, as in
// bryc/code's PRNG collection): a Weyl sequence stepped by 0x9e3779b9 and a two-multiply mixer.
// Every operation is a 32-bit integer one (Math.imul, >>>), so no platform float behaviour enters.
// Each tensor draws from its own stream, seeded by mixing the run's seed with a hash of a label
// (`input:x`, `param:W`, ...), so adding a tensor to a spec does not change the others' data.
import { nodeOf, tensorsOf, type Module } from '../compiler/ir/ir.js';
import { tensorSize, type DimSizes } from '../compiler/ir/dims.js';
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

/**
 * The fan-in of each param that a `sum` contracts: the product of the sizes of the dims summed over
 * where it is loaded (the largest over its loads); params no sum contracts are absent.
 */
export function paramFanIn(m: Module, sizes: DimSizes): Map<string, number> {
  const fanIn = new Map<string, number>();
  for (const def of [...m.step, ...(m.monoid ? [...m.monoid.element, ...m.monoid.combine] : [])]) {
    // Each node's factor: the sizes of the enclosing sums whose variable it is loaded through.
    const factor = new Map<number, number>();
    const visit = (id: number, over: { name: string; dim: string }, seen: Set<number>): void => {
      if (seen.has(id)) return;
      seen.add(id);
      const n = nodeOf(def, id);
      if (n.op === 'load' && n.source === 'param' && n.index.includes(over.name)) factor.set(id, (factor.get(id) ?? 1) * (sizes[over.dim] ?? 1));
      if ('args' in n) for (const a of n.args) visit(a, over, seen);
    };
    for (const n of def.nodes) if (n.op === 'reduce' && n.fn === 'sum') visit(n.args[0], n.over, new Set());
    for (const [id, f] of factor) {
      const n = nodeOf(def, id);
      if (n.op === 'load') fanIn.set(n.tensor, Math.max(fanIn.get(n.tensor) ?? 1, f));
    }
  }
  return fanIn;
}

/**
 * The interval a random param is drawn from: [lo, hi) scaled by 1/sqrt(fan-in) where a sum contracts
 * it, as PyTorch initialises its recurrent layers. Unscaled, LSTM's 256-term sums of weights in
 * [-1, 1) make its state chaotic: float32 parts from the float64 reference exponentially in T, and
 * `--verify` would fail at published sizes through no fault of the kernels.
 */
export function paramRange(fanIn: number | undefined, lo = -1, hi = 1): [number, number] {
  const s = fanIn && fanIn > 1 ? 1 / Math.sqrt(fanIn) : 1;
  return [lo * s, hi * s];
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
  const fanIn = paramFanIn(m, shape.sizes);
  const data: RunData = {
    inputs: Object.fromEntries(tensorsOf(m, 'input').map((t) => [t.name, draw(`input:${t.name}`, shape.batch * shape.T * tensorSize(t, shape.sizes))])),
    params: Object.fromEntries(tensorsOf(m, 'param').map((t) => [t.name, uniformFloats(seed, `param:${t.name}`, tensorSize(t, shape.sizes), ...paramRange(fanIn.get(t.name), lo, hi))])),
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
