// A small evaluator of IR definitions over any number domain: the law checker runs the same combine
// definitions over exact rationals and over float32 with a running error bound. Tensors are dense
// row-major arrays over known dim sizes.
import type { Def, Node } from '../ir/ir.js';
import type { DimSizes } from '../ir/dims.js';

export interface Domain<V> {
  constant(x: number): V;
  unary(fn: string, a: V): V;
  /** Arithmetic (add, sub, mul, div) and min, max, logaddexp. */
  binary(fn: string, a: V, b: V): V;
  /** true, false, or undefined when the domain cannot decide (a comparison within rounding error). */
  compare(fn: string, a: V, b: V): boolean | undefined;
  /** `select` whose condition is undecided: both branch values are known. */
  either(ifTrue: V, ifFalse: V): V;
}

export interface TensorValue<V> {
  dims: string[];
  data: V[];
}

/** What a load reads, by source and tensor name; `let` loads fall back to definitions evaluated earlier. */
export type Resolver<V> = (source: string, tensor: string) => TensorValue<V> | undefined;

const reduceFn: Record<string, string> = { sum: 'add', max: 'max', min: 'min', logsumexp: 'logaddexp' };

export function offsetOf(dims: string[], index: number[], sizes: DimSizes): number {
  let off = 0;
  dims.forEach((d, k) => (off = off * sizes[d]! + index[k]!));
  return off;
}

export function pointsOf(dims: string[], sizes: DimSizes): number[][] {
  let points: number[][] = [[]];
  for (const d of dims) points = points.flatMap((p) => Array.from({ length: sizes[d]! }, (_, i) => [...p, i]));
  return points;
}

/** Evaluates `defs` in order; each becomes a tensor over its variables' dims, visible to later `let` loads. */
export function evaluateDefs<V>(defs: Def[], resolve: Resolver<V>, sizes: DimSizes, domain: Domain<V>): Map<string, TensorValue<V>> {
  const results = new Map<string, TensorValue<V>>();
  const lookup = (source: string, tensor: string): TensorValue<V> => {
    const t = (source === 'let' ? results.get(tensor) : undefined) ?? resolve(source, tensor);
    if (!t) throw new Error(`evaluate: nothing to read for ${source} \`${tensor}\``);
    return t;
  };
  for (const def of defs) {
    const dims = def.vars.map((v) => v.dim);
    const data = pointsOf(dims, sizes).map((point) => evaluateAt(def, new Map(def.vars.map((v, k) => [v.name, point[k]!])), lookup, sizes, domain));
    results.set(def.target, { dims, data });
  }
  return results;
}

function evaluateAt<V>(def: Def, env: Map<string, number>, lookup: (source: string, tensor: string) => TensorValue<V>, sizes: DimSizes, domain: Domain<V>): V {
  const node = (id: number, env: Map<string, number>): V => {
    const n: Node = def.nodes[id]!;
    switch (n.op) {
      case 'const':
        return domain.constant(n.value);
      case 'load': {
        const t = lookup(n.source, n.tensor);
        return t.data[offsetOf(t.dims, n.index.map((v) => env.get(v)!), sizes)]!;
      }
      case 'unary':
        return domain.unary(n.fn, node(n.args[0], env));
      case 'binary':
        return domain.binary(n.fn, node(n.args[0], env), node(n.args[1], env));
      case 'select': {
        const c = def.nodes[n.args[0]]!;
        if (c.op !== 'binary') throw new Error('evaluate: a select condition must be a comparison');
        const decided = domain.compare(c.fn, node(c.args[0], env), node(c.args[1], env));
        if (decided === undefined) return domain.either(node(n.args[1], env), node(n.args[2], env));
        return node(decided ? n.args[1] : n.args[2], env);
      }
      case 'reduce': {
        let acc: V | undefined;
        for (let i = 0; i < sizes[n.over.dim]!; i++) {
          const v = node(n.args[0], new Map(env).set(n.over.name, i));
          acc = acc === undefined ? v : domain.binary(reduceFn[n.fn]!, acc, v);
        }
        return acc!;
      }
    }
  };
  return node(def.root, env);
}
