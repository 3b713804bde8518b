// Lowering: a checked AST to the IR. Each statement becomes a definition whose expression tree is
// hash-consed into a DAG (equal subexpressions share a node), with types, index spaces and the
// dependence of every node computed on the way.
import type * as A from '../syntax/ast.js';
import type { CheckedFile, TensorSymbol } from '../check/symbols.js';
import { constantValue } from '../check/checker.js';
import { callableBuiltins, infixBuiltins, type BinaryFn, type Reducer, type UnaryFn } from '../builtins.js';
import { joinDep, type Def, type DefKind, type Dep, type IndexVar, type Module, type Node, type Phase, type Source, type Tensor } from './ir.js';


interface LowerContext {
  stmtIndex: number;
  /** State name -> index of the statement that updates it. */
  updateOf: Map<string, number>;
  /** Dep of every let defined so far (step lets, or the combine's locals). */
  letDeps: Map<string, Dep>;
  combine?: { left: string; right: string };
  /** The statement is in the `reversed { ... }` block: its input loads read the backward step's position. */
  reversed?: boolean;
}

type DistributiveOmit<T, K extends keyof any> = T extends unknown ? Omit<T, K> : never;
type NodeSpec = DistributiveOmit<Node, 'id'>;

class DefBuilder {
  readonly nodes: Node[] = [];
  private readonly keys = new Map<string, number>();
  constructor(
    readonly vars: IndexVar[],
    private readonly symbols: CheckedFile['symbols'],
    private readonly ctx: LowerContext,
  ) {}

  private add(spec: NodeSpec): number {
    const { span, ...rest } = spec;
    const key = JSON.stringify(rest);
    const existing = this.keys.get(key);
    if (existing !== undefined) return existing;
    const id = this.nodes.length;
    this.nodes.push({ id, ...spec } as Node);
    this.keys.set(key, id);
    return id;
  }

  /** Free indices of a node built from these children, in a canonical order. */
  private spaceOf(args: number[], remove?: string): string[] {
    const all = new Set(args.flatMap((a) => this.nodes[a]!.space));
    if (remove) all.delete(remove);
    const order = this.vars.map((v) => v.name);
    return [...all].sort((a, b) => (order.indexOf(a) === -1 ? 1e9 : order.indexOf(a)) - (order.indexOf(b) === -1 ? 1e9 : order.indexOf(b)) || a.localeCompare(b));
  }

  private op(spec: { span: A.Span; type?: 'f32' | 'bool' } & ({ op: 'unary'; fn: UnaryFn | 'neg'; args: [number] } | { op: 'binary'; fn: any; args: [number, number] } | { op: 'select'; args: [number, number, number] })): number {
    const args = spec.args as number[];
    return this.add({ ...spec, type: spec.type ?? 'f32', space: this.spaceOf(args), dep: joinDep(...args.map((a) => this.nodes[a]!.dep)) } as NodeSpec);
  }

  expr(e: A.Expr, reductionVars: Map<string, IndexVar>): number {
    switch (e.kind) {
      case 'number':
        return this.add({ op: 'const', value: e.value, type: 'f32', space: [], dep: 'const', span: e.span });
      case 'neg': {
        const c = constantValue(e);
        if (c !== undefined) return this.add({ op: 'const', value: c, type: 'f32', space: [], dep: 'const', span: e.span });
        return this.op({ op: 'unary', fn: 'neg', args: [this.expr(e.operand, reductionVars)], span: e.span });
      }
      case 'binary': {
        const l = this.expr(e.left, reductionVars);
        const r = this.expr(e.right, reductionVars);
        const b = infixBuiltins[e.op]!;
        return this.op({ op: 'binary', fn: b.name, args: [l, r], type: b.result, span: e.span });
      }
      case 'call': {
        const args = e.args.map((a) => this.expr(a, reductionVars));
        const b = callableBuiltins[e.fn.name]!;
        if (b.kind === 'select') return this.op({ op: 'select', args: args as [number, number, number], span: e.span });
        if (b.kind === 'binary') return this.op({ op: 'binary', fn: b.name as BinaryFn, args: args as [number, number], span: e.span });
        return this.op({ op: 'unary', fn: b.name as UnaryFn, args: [args[0]!], span: e.span });
      }
      case 'reduce': {
        const dim = this.reductionDim(e);
        const over: IndexVar = { name: e.index.name, dim };
        const inner = new Map(reductionVars).set(e.index.name, over);
        const body = this.expr(e.body, inner);
        const b = this.nodes[body]!;
        return this.add({ op: 'reduce', fn: e.op.name as Reducer, over, args: [body], type: 'f32', space: this.spaceOf([body], e.index.name), dep: b.dep, span: e.span });
      }
      case 'ref':
        return this.load(e);
    }
  }

  /** The dim a reduction index ranges over: read off the first tensor subscript that uses it. */
  private reductionDim(e: Extract<A.Expr, { kind: 'reduce' }>): string {
    const find = (x: A.Expr): string | undefined => {
      switch (x.kind) {
        case 'ref': {
          const k = x.indices.findIndex((i) => i.name === e.index.name);
          if (k < 0) return undefined;
          const sym = this.tensorSymbol(x);
          return sym?.dims[k];
        }
        case 'neg':
          return find(x.operand);
        case 'binary':
          return find(x.left) ?? find(x.right);
        case 'call':
          return x.args.map(find).find((d) => d !== undefined);
        case 'reduce':
          return x.index.name === e.index.name ? undefined : find(x.body);
        case 'number':
          return undefined;
      }
    };
    return find(e.body)!;
  }

  private tensorSymbol(x: Extract<A.Expr, { kind: 'ref' }>): { dims: string[] } | undefined {
    // `a.m` in a combine names state m; `h.left` in a grid cell names state h.
    const combineField = x.field !== undefined && this.ctx.combine !== undefined;
    const sym = this.symbols.get(combineField ? x.field!.name : x.name.name);
    if (x.field) return sym as TensorSymbol;
    return this.localDims.get(x.name.name) ?? (sym as TensorSymbol | undefined);
  }

  /** Dims of the combine's local lets. */
  readonly localDims = new Map<string, { dims: string[] }>();

  private load(e: Extract<A.Expr, { kind: 'ref' }>): number {
    const index = e.indices.map((i) => i.name);
    const space = [...new Set(index)];
    const order = this.vars.map((v) => v.name);
    space.sort((a, b) => (order.indexOf(a) === -1 ? 1e9 : order.indexOf(a)) - (order.indexOf(b) === -1 ? 1e9 : order.indexOf(b)) || a.localeCompare(b));
    if (e.field && !this.ctx.combine) {
      // A grid cell's neighbour read (the checker allows a field outside a combine only there).
      const neighbour = e.field.name as 'left' | 'up';
      return this.add({ op: 'load', source: 'state', tensor: e.name.name, index, version: 'old', neighbour, type: 'f32', space, dep: 'state', span: e.span });
    }
    if (e.field) {
      const source: Source = e.name.name === this.ctx.combine!.left ? 'left' : 'right';
      return this.add({ op: 'load', source, tensor: e.field.name, index, type: 'f32', space, dep: 'state', span: e.span });
    }
    const name = e.name.name;
    if (this.localDims.has(name)) {
      return this.add({ op: 'load', source: 'let', tensor: name, index, type: 'f32', space, dep: this.ctx.letDeps.get(name) ?? 'state', span: e.span });
    }
    const sym = this.symbols.get(name) as TensorSymbol;
    switch (sym.kind) {
      case 'input':
        return this.add({ op: 'load', source: 'input', tensor: name, index, ...(this.ctx.reversed ? { reversed: true as const } : {}), type: 'f32', space, dep: 'input', span: e.span });
      case 'param':
        return this.add({ op: 'load', source: 'param', tensor: name, index, type: 'f32', space, dep: 'param', span: e.span });
      case 'state': {
        const updatedAt = this.ctx.updateOf.get(name);
        const version = updatedAt !== undefined && updatedAt < this.ctx.stmtIndex ? 'new' : 'old';
        return this.add({ op: 'load', source: 'state', tensor: name, index, version, type: 'f32', space, dep: 'state', span: e.span });
      }
      case 'let':
      case 'output':
        return this.add({ op: 'load', source: 'let', tensor: name, index, type: 'f32', space, dep: this.ctx.letDeps.get(name)!, span: e.span });
    }
  }
}

/** Which phase of the time loop a definition belongs to (see Phase). */
function phaseOf(kind: DefKind, nodes: Node[], dep: Dep, readsOld: (n: Node) => boolean): Phase {
  if (kind === 'update') return 'core';
  if (dep === 'const' || dep === 'param') return 'invariant';
  if (dep === 'input') return 'parallel';
  return nodes.some(readsOld) ? 'core' : 'after';
}

export function lower(file: A.RnnFile, checked: CheckedFile): Module {
  const tensors: Tensor[] = [];
  for (const t of file.tensors) {
    const tensor: Tensor = { name: t.shape.name.name, role: t.role, dims: t.shape.indices.map((d) => d.name), span: t.shape.name.span, ...(t.reversed ? { reversed: true as const } : {}) };
    if (t.init) {
      const c = constantValue(t.init);
      tensor.init = c !== undefined ? { kind: 'const', value: c } : { kind: 'param', name: (t.init as Extract<A.Expr, { kind: 'ref' }>).name.name };
    }
    tensors.push(tensor);
  }
  const letDeps = new Map<string, Dep>();
  // Which lets read the state before its update: a let that does is part of the core.
  const coreLets = new Set<string>();
  const readsOld = (n: Node) => (n.op === 'load' && ((n.source === 'state' && n.version === 'old') || (n.source === 'let' && coreLets.has(n.tensor))));

  const build = (kind: DefKind, target: string, lhs: A.Shape, rhs: A.Expr, dims: string[], ctx: LowerContext, span: A.Span, locals?: Map<string, { dims: string[] }>): Def => {
    const vars = lhs.indices.map((i, k) => ({ name: i.name, dim: dims[k]! }));
    const b = new DefBuilder(vars, checked.symbols, ctx);
    for (const [n, d] of locals ?? []) b.localDims.set(n, d);
    const root = b.expr(rhs, new Map());
    const dep = b.nodes[root]!.dep;
    const phase = phaseOf(kind, b.nodes, dep, readsOld);
    return { kind, target, vars, nodes: b.nodes, root, dep, phase, span };
  };

  // A monoid cell has no `<-`: each state becomes combine(state, element) at the start of the step,
  // so every statement of the step reads the combined (new) state.
  const updateOf = file.monoid ? new Map(file.tensors.filter((t) => t.role === 'state').map((t) => [t.shape.name.name, -1])) : checked.updateOf;
  const step: Def[] = file.stmts.map((s, stmtIndex) => {
    const dims = checked.lhsDims.get(s)!;
    const def = build(s.kind, s.lhs.name.name, s.lhs, s.rhs, dims, { stmtIndex, updateOf, letDeps, ...(s.reversed ? { reversed: true } : {}) }, s.span);
    if (s.kind !== 'update') {
      letDeps.set(def.target, def.dep);
      if (def.phase === 'core') coreLets.add(def.target);
      tensors.push({ name: def.target, role: s.kind === 'let' ? 'let' : 'output', dims, span: s.lhs.name.span, ...(s.reversed ? { reversed: true as const } : {}) });
    }
    return def;
  });

  const module: Module = {
    name: file.name.name,
    ...(file.direction?.name === 'reversed' ? { reversed: true as const } : {}),
    ...(file.direction?.name === 'grid' ? { grid: true as const } : {}),
    dims: file.dims.map((d) => ({ name: d.name.name, ...(d.size !== undefined ? { size: d.size } : {}) })),
    tensors,
    step,
    structures: file.structures.map((s) => ({
      kind: s.kind.name,
      span: s.span,
      ...(s.state ? { state: s.state.name } : {}),
      ...(s.rank !== undefined ? { rank: s.rank } : {}),
      ...(s.semiring ? { semiring: s.semiring.name } : {}),
    })),
  };

  if (file.monoid?.combine) {
    const m = file.monoid;
    const stateDims = (name: string) => (checked.symbols.get(name) as TensorSymbol).dims;
    const endCtx = (): LowerContext => ({ stmtIndex: file.stmts.length, updateOf: new Map(), letDeps });
    const fieldDefs = (kind: DefKind, fields: A.FieldAssign[]) =>
      fields.map((f) => build(kind, f.lhs.name.name, f.lhs, f.rhs, stateDims(f.lhs.name.name), endCtx(), f.span));
    const combine: Def[] = [];
    const localDeps = new Map<string, Dep>(letDeps);
    const locals = new Map<string, { dims: string[] }>();
    const combineCtx: LowerContext = { stmtIndex: file.stmts.length, updateOf: new Map(), letDeps: localDeps, combine: { left: m.combine!.left.name, right: m.combine!.right.name } };
    for (const b of m.combine!.body) {
      if (b.kind === 'let') {
        const dims = inferLocalDims(b, checked, locals);
        const def = build('let', b.lhs.name.name, b.lhs, b.rhs, dims, combineCtx, b.span, locals);
        locals.set(def.target, { dims });
        localDeps.set(def.target, def.dep);
        combine.push(def);
      } else combine.push(build('combine', b.lhs.name.name, b.lhs, b.rhs, stateDims(b.lhs.name.name), combineCtx, b.span, locals));
    }
    module.monoid = { left: m.combine!.left.name, right: m.combine!.right.name, element: fieldDefs('element', m.element), identity: fieldDefs('identity', m.identity), combine, span: m.span };
  }
  return module;
}

/** Dims of a combine-local `let v[i] = ...`, read off the subscripts that use each index. */
function inferLocalDims(b: A.FieldAssign, checked: CheckedFile, locals: Map<string, { dims: string[] }>): string[] {
  return b.lhs.indices.map((index) => {
    let dim = '?';
    const walk = (x: A.Expr): void => {
      if (dim !== '?') return;
      if (x.kind === 'ref') {
        const k = x.indices.findIndex((i) => i.name === index.name);
        if (k >= 0) {
          const dims = x.field ? (checked.symbols.get(x.field.name) as TensorSymbol).dims : (locals.get(x.name.name) ?? (checked.symbols.get(x.name.name) as TensorSymbol)).dims;
          dim = dims[k] ?? '?';
        }
      } else if (x.kind === 'neg') walk(x.operand);
      else if (x.kind === 'binary') (walk(x.left), walk(x.right));
      else if (x.kind === 'call') x.args.forEach(walk);
      else if (x.kind === 'reduce' && x.index.name !== index.name) walk(x.body);
    };
    walk(b.rhs);
    return dim;
  });
}
