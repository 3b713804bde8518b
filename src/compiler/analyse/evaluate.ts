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
/** `reversed`: an input load of a bidirectional cell's `reversed` block (LoadNode.reversed). */
export type Resolver<V> = (source: string, tensor: string, reversed?: boolean) => TensorValue<V> | undefined;

export function pointsOf(dims: string[], sizes: DimSizes): number[][] {
  let points: number[][] = [[]];
  for (const d of dims) points = points.flatMap((p) => Array.from({ length: sizes[d]! }, (_, i) => [...p, i]));
  return points;
}

/** Evaluates `defs` in order; each becomes a tensor over its variables' dims, visible to later `let` loads. */
export function evaluateDefs<V>(defs: Def[], resolve: Resolver<V>, sizes: DimSizes, domain: Domain<V>): Map<string, TensorValue<V>> {
  const results = new Map<string, TensorValue<V>>();
  const lookup = (source: string, tensor: string, reversed?: boolean): TensorValue<V> => {
    const t = (source === 'let' ? results.get(tensor) : undefined) ?? resolve(source, tensor, reversed);
    if (!t) throw new Error(`evaluate: nothing to read for ${source} \`${tensor}\``);
    return t;
  };
  for (const def of defs) {
    const dims = def.vars.map((v) => v.dim);
    const { env, root } = evaluator(def, lookup, sizes, domain);
    const data = pointsOf(dims, sizes).map((point) => {
      point.forEach((i, k) => (env[k] = i));
      return root();
    });
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

/**
 * One definition as a tree of closures over a mutable index environment: `env[k]` is the value of
 * the k-th index variable (the definition's own first, then reduction variables). Built once per
 * evaluateDefs call and run at every point, so a point costs the domain's operations and little else.
 */
function evaluator<V>(def: Def, lookup: (source: string, tensor: string, reversed?: boolean) => TensorValue<V>, sizes: DimSizes, domain: Domain<V>): { env: number[]; root: () => V } {
  const entries = builtinsOf(def);
  const env: number[] = def.vars.map(() => 0);
  const slots = new Map(def.vars.map((v, k) => [v.name, k]));
  const slotOf = (name: string): number => {
    let k = slots.get(name);
    if (k === undefined) slots.set(name, (k = env.push(0) - 1));
    return k;
  };
  const built = new Map<number, () => V>();
  const node = (id: number): (() => V) => {
    let f = built.get(id);
    if (!f) built.set(id, (f = build(def.nodes[id]!)));
    return f;
  };
  const build = (n: Node): (() => V) => {
    switch (n.op) {
      case 'const': {
        const value = domain.constant(n.value);
        return () => value;
      }
      case 'load': {
        const index = n.index.map(slotOf);
        // Looked up at the first read: a load in a branch that is never taken needs no tensor.
        let tensor: { data: V[]; strides: number[] } | undefined;
        return () => {
          if (!tensor) {
            const t = lookup(n.source, n.tensor, n.reversed === true);
            tensor = { data: t.data, strides: t.dims.map((_, k) => t.dims.slice(k + 1).reduce((p, d) => p * sizes[d]!, 1)) };
          }
          let offset = 0;
          for (let k = 0; k < index.length; k++) offset += env[index[k]!]! * tensor.strides[k]!;
          return tensor.data[offset]!;
        };
      }
      case 'unary':
      case 'binary': {
        const b = entries[n.id]!;
        if (b.kind !== 'unary' && b.kind !== 'binary') throw new Error(`evaluate: \`${n.fn}\` gives a boolean, which only a select condition may use`);
        const args = n.args.map(node);
        if (args.length === 1) {
          const [x] = args as [() => V];
          return () => domain.apply(b, [x()]);
        }
        const [x, y] = args as [() => V, () => V];
        return () => domain.apply(b, [x(), y()]);
      }
      case 'select': {
        const c = def.nodes[n.args[0]]!;
        const test = entries[c.id];
        if (c.op !== 'binary' || test?.kind !== 'comparison') throw new Error('evaluate: a select condition must be a comparison');
        const [l, r, ifTrue, ifFalse] = [node(c.args[0]), node(c.args[1]), node(n.args[1]), node(n.args[2])];
        return () => {
          const decided = domain.compare(test, l(), r());
          if (decided === undefined) return domain.either(ifTrue(), ifFalse());
          return decided ? ifTrue() : ifFalse();
        };
      }
      case 'reduce': {
        const fold = foldOf(n.fn);
        const slot = slotOf(n.over.name);
        const size = sizes[n.over.dim]!;
        const body = node(n.args[0]);
        return () => {
          // The index is restored afterwards: another reduction may reuse its name.
          const saved = env[slot]!;
          let acc: V | undefined;
          for (let i = 0; i < size; i++) {
            env[slot] = i;
            const v = body();
            acc = acc === undefined ? v : domain.apply(fold, [acc, v]);
          }
          env[slot] = saved;
          return acc!;
        };
      }
    }
  };
  return { env, root: node(def.root) };
}
