// Building IR definitions in the passes of src/compiler/grad/: a node DAG with hash-consing (equal
// nodes are one node), index spaces and dependence computed as lowering computes them, fresh names
// that cannot collide with the forward module's, and the phase of a definition.
import { builtin, type BinaryFn, type Reducer, type UnaryFn } from '../builtins.js';
import type { Span } from '../syntax/ast.js';
import { joinDep, type Def, type DefKind, type Dep, type IndexVar, type Node, type Phase, type Source } from '../ir/ir.js';

const argsOf = (n: Node): readonly number[] => ('args' in n ? n.args : []);

/** A spec the gradient pass cannot differentiate (yet), with the reason. */
export class GradError extends Error {}

type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
type NodeSpec = DistributiveOmit<Node, 'id' | 'space' | 'dep' | 'type' | 'span'>;

export class DefBuilder {
  readonly nodes: Node[] = [];
  private readonly keys = new Map<string, number>();

  constructor(
    readonly vars: IndexVar[],
    /** The dependence of what a load reads. */
    private readonly depOf: (source: Source, tensor: string) => Dep,
    private readonly span: Span,
  ) {}

  /** Free indices in a canonical order: the definition's variables first, then the rest by name. */
  private ordered(names: Iterable<string>): string[] {
    const order = this.vars.map((v) => v.name);
    const rank = (a: string) => (order.indexOf(a) === -1 ? 1e9 : order.indexOf(a));
    return [...new Set(names)].sort((a, b) => rank(a) - rank(b) || a.localeCompare(b));
  }

  private add(spec: NodeSpec, space: string[], dep: Dep, type: 'f32' | 'bool' = 'f32'): number {
    const key = JSON.stringify(spec);
    const known = this.keys.get(key);
    if (known !== undefined) return known;
    const id = this.nodes.length;
    this.nodes.push({ id, ...spec, space, dep, type, span: this.span } as Node);
    this.keys.set(key, id);
    return id;
  }

  node(id: number): Node {
    return this.nodes[id]!;
  }

  constant(value: number): number {
    return this.add({ op: 'const', value }, [], 'const');
  }

  load(source: Source, tensor: string, index: string[], version?: 'old' | 'new'): number {
    return this.add({ op: 'load', source, tensor, index, ...(version ? { version } : {}) }, this.ordered(index), source === 'state' ? 'state' : this.depOf(source, tensor));
  }

  private op(spec: NodeSpec & { args: number[] }, type: 'f32' | 'bool' = 'f32'): number {
    const args = spec.args.map((a) => this.nodes[a]!);
    return this.add(spec, this.ordered(args.flatMap((a) => a.space)), joinDep(...args.map((a) => a.dep)), type);
  }

  unary(fn: UnaryFn | 'neg', a: number): number {
    return this.op({ op: 'unary', fn, args: [a] });
  }

  binary(fn: string, a: number, b: number): number {
    return this.op({ op: 'binary', fn: fn as BinaryFn, args: [a, b] }, builtin(fn).result);
  }

  select(c: number, a: number, b: number): number {
    return this.op({ op: 'select', args: [c, a, b] });
  }

  reduce(fn: Reducer, over: IndexVar, a: number): number {
    const body = this.nodes[a]!;
    return this.add({ op: 'reduce', fn, over, args: [a] }, this.ordered(body.space.filter((v) => v !== over.name)), body.dep);
  }

  /** The value of a constant node, if it is one. */
  constantValue(id: number): number | undefined {
    const n = this.nodes[id]!;
    return n.op === 'const' ? n.value : undefined;
  }

  // Arithmetic that folds what the adjoints make trivial (× 1, × 0, + 0), so the backward IR reads as
  // written by hand. × 0 is a structural zero: no gradient flows along that edge.

  mul(a: number, b: number): number {
    const [ca, cb] = [this.constantValue(a), this.constantValue(b)];
    if (ca === 1) return b;
    if (cb === 1) return a;
    if (ca === 0 || cb === 0) return this.constant(0);
    if (ca === -1) return this.unary('neg', b);
    if (cb === -1) return this.unary('neg', a);
    if (ca !== undefined && cb !== undefined) return this.constant(ca * cb);
    return this.binary('mul', a, b);
  }

  add2(a: number, b: number): number {
    if (this.constantValue(a) === 0) return b;
    if (this.constantValue(b) === 0) return a;
    return this.binary('add', a, b);
  }

  /** The sum of terms, left to right (0 for none). */
  sum(terms: number[]): number {
    return terms.reduce((acc, t) => this.add2(acc, t), this.constant(0));
  }

  /** The definition of `target` as `root`, with only the nodes the root uses (folding leaves some unused), renumbered. */
  def(kind: DefKind, target: string, root: number, phase: (nodes: Node[], dep: Dep) => Phase): Def {
    const used = new Set<number>([root]);
    for (let id = root; id >= 0; id--) if (used.has(id)) for (const a of argsOf(this.nodes[id]!)) used.add(a);
    const renumber = new Map<number, number>();
    const nodes: Node[] = [];
    for (const n of this.nodes) {
      if (!used.has(n.id)) continue;
      renumber.set(n.id, nodes.length);
      const copy = { ...n, id: nodes.length } as Node;
      if ('args' in copy) (copy as { args: number[] }).args = copy.args.map((a) => renumber.get(a)!);
      nodes.push(copy);
    }
    const top = renumber.get(root)!;
    const dep = nodes[top]!.dep;
    return { kind, target, vars: this.vars, nodes, root: top, dep, phase: phase(nodes, dep), span: this.span };
  }
}

type LoadNode = Extract<Node, { op: 'load' }>;

/**
 * A memoised copy of `def`'s nodes into b, by node id: index variables renamed by `rename`, each
 * load by `load` (given its renamed index), and a node `replace` gives a value for by that value.
 */
export function nodeCopier(b: DefBuilder, def: Def, rename: (v: string) => string, load: (n: LoadNode, index: string[]) => number, replace: (id: number) => number | undefined = () => undefined): (id: number) => number {
  const memo = new Map<number, number>();
  const copy = (id: number): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const n = def.nodes[id]!;
    let out = replace(id);
    if (out === undefined)
      switch (n.op) {
        case 'const':
          out = b.constant(n.value);
          break;
        case 'load':
          out = load(n, n.index.map(rename));
          break;
        case 'unary':
          out = b.unary(n.fn, copy(n.args[0]));
          break;
        case 'binary':
          out = b.binary(n.fn, copy(n.args[0]), copy(n.args[1]));
          break;
        case 'select':
          out = b.select(copy(n.args[0]), copy(n.args[1]), copy(n.args[2]));
          break;
        case 'reduce':
          out = b.reduce(n.fn, { name: rename(n.over.name), dim: n.over.dim }, copy(n.args[0]));
          break;
      }
    memo.set(id, out);
    return out;
  };
  return copy;
}

/**
 * The primal definition R's values as nodes of `b`, recomputed pointwise and memoised by node: `value(id)`.
 * R's reductions, and its root where `rootIsLet` says so, are R's own let (at R's indices, renamed by
 * `rename`) rather than recomputed. The reverse pass and the Newton linearisation both replay R so.
 */
export function primalValues(b: DefBuilder, R: Def, rename: (v: string) => string, rootIsLet: (root: Node) => boolean): (id: number) => number {
  const own = () => b.load('let', R.target, R.vars.map((x) => rename(x.name)));
  return nodeCopier(
    b,
    R,
    rename,
    (n, index) => b.load(n.source, n.tensor, index),
    (id) => (R.nodes[id]!.op === 'reduce' || (id === R.root && rootIsLet(R.nodes[id]!)) ? own() : undefined),
  );
}

/** Names not yet taken: `base`, else `base_2`, `base_3`, … (identifiers of the language, so a backend can use them as they are). */
/** The definitions without the lets nothing later reads (a let's readers come after it); and the lets read. */
export function withoutUnreadLets(defs: Def[]): { kept: Def[]; read: Set<string> } {
  const read = new Set<string>();
  const kept = defs.reduceRight<Def[]>((acc, d) => {
    if (d.kind !== 'let' || read.has(d.target)) {
      for (const n of d.nodes) if (n.op === 'load' && n.source === 'let') read.add(n.tensor);
      acc.unshift(d);
    }
    return acc;
  }, []);
  return { kept, read };
}

export class Names {
  private readonly used: Set<string>;
  constructor(taken: Iterable<string>) {
    this.used = new Set(taken);
  }
  fresh(base: string): string {
    let name = base;
    for (let k = 2; this.used.has(name); k++) name = `${base}_${k}`;
    this.used.add(name);
    return name;
  }
}

/**
 * The phase of a definition, by the lowering's rule (src/compiler/ir/lower.ts): an update is the
 * core; otherwise what it depends on decides, and a state-dependent definition is core when it reads
 * a state before its update or a core let.
 */
export function phaseRule(coreLets: Set<string>) {
  return (kind: DefKind, target: string) =>
    (nodes: Node[], dep: Dep): Phase => {
      let phase: Phase;
      if (kind === 'update') phase = 'core';
      else if (dep === 'const' || dep === 'param') phase = 'invariant';
      else if (dep === 'input') phase = 'parallel';
      else phase = nodes.some((n) => n.op === 'load' && ((n.source === 'state' && n.version !== 'new') || (n.source === 'let' && coreLets.has(n.tensor)))) ? 'core' : 'after';
      if (phase === 'core' && kind !== 'update') coreLets.add(target);
      return phase;
    };
}
