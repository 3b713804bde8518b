// A small evaluator of IR definitions over any number domain: the law checker runs the same combine
// definitions over exact rationals and over float32 with a running error bound. Tensors are dense
// row-major arrays over known dim sizes.
import type { Def, Node } from '../ir/ir.js';
import type { DimSizes } from '../ir/dims.js';
import { builtin, foldOf, type BinaryBuiltin, type ComparisonBuiltin, type ScalarBuiltin, type UnaryBuiltin } from '../builtins.js';

/** A number domain: what each builtin of the table (src/compiler/builtins.ts) means over its values. */
export interface Domain<V> {
  constant(x: number): V;
  /** A numeric builtin (arithmetic, min, max, logaddexp, exp, …) on its operands. */
  apply(fn: UnaryBuiltin | BinaryBuiltin, args: V[]): V;
  /** true, false, or undefined when the domain cannot decide (a comparison within rounding error). */
  compare(fn: ComparisonBuiltin, a: V, b: V): boolean | undefined;
  /** `select` whose condition is undecided: both branch values are known. */
  either(ifTrue: V, ifFalse: V): V;
}

export interface TensorValue<V> {
  dims: string[];
  data: V[];
}

/** What a load reads, by source and tensor name; `let` loads fall back to definitions evaluated earlier. */
export type Resolver<V> = (source: string, tensor: string) => TensorValue<V> | undefined;

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

/** Per definition, the table entry of each unary and binary node, looked up once: the law checker evaluates a combine thousands of times. */
const builtinsCache = new WeakMap<Def, (ScalarBuiltin | undefined)[]>();
function builtinsOf(def: Def): (ScalarBuiltin | undefined)[] {
  let entries = builtinsCache.get(def);
  if (!entries) builtinsCache.set(def, (entries = def.nodes.map((n) => (n.op === 'unary' || n.op === 'binary' ? builtin(n.fn) : undefined))));
  return entries;
}

function evaluateAt<V>(def: Def, env: Map<string, number>, lookup: (source: string, tensor: string) => TensorValue<V>, sizes: DimSizes, domain: Domain<V>): V {
  const entries = builtinsOf(def);
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
      case 'binary': {
        const b = entries[id]!;
        if (b.kind !== 'unary' && b.kind !== 'binary') throw new Error(`evaluate: \`${n.fn}\` gives a boolean, which only a select condition may use`);
        return domain.apply(b, n.args.map((a) => node(a, env)));
      }
      case 'select': {
        const c = def.nodes[n.args[0]]!;
        const test = entries[c.id];
        if (c.op !== 'binary' || test?.kind !== 'comparison') throw new Error('evaluate: a select condition must be a comparison');
        const decided = domain.compare(test, node(c.args[0], env), node(c.args[1], env));
        if (decided === undefined) return domain.either(node(n.args[1], env), node(n.args[2], env));
        return node(decided ? n.args[1] : n.args[2], env);
      }
      case 'reduce': {
        const fold = foldOf(n.fn);
        let acc: V | undefined;
        for (let i = 0; i < sizes[n.over.dim]!; i++) {
          const v = node(n.args[0], new Map(env).set(n.over.name, i));
          acc = acc === undefined ? v : domain.apply(fold, [acc, v]);
        }
        return acc!;
      }
    }
  };
  return node(def.root, env);
}
