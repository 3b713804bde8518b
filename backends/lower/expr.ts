// IR definitions to WGSL statements: the one lowering the sequential, scan and chunk emitters share.
//
// A definition's node DAG becomes one `let` per interior node, equal (node, index) pairs emitted once
// (memoised). Index variables are bound to numbers (a point known when the kernel is generated) or
// to run-time u32 expressions (a thread's coordinates, a loop variable). Reductions loop above a
// small size (reduce.ts). Every value goes to the outermost scope that binds its free indices, so
// what does not depend on a reduction's index is computed once, before that reduction's loop.
// Constant operands are folded in float32 (fold.ts). What a load of an input, param, state or
// element field or stored let reads is the caller's business (`LoadResolver`); lets it names are inlined.
import type { Def, Node } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import { reduction } from '../../src/compiler/builtins.js';
import { assign, bin, call, f32, id, letS, lit, member, varS, type Expr, type Stmt } from '../wgsl/ast.js';

const id_ = id;
import { countedLoop } from '../wgsl/unroll-budget.js';
import { printExpr } from '../wgsl/print.js';
import type { MathHelper } from '../wgsl/math.js';
import { applyBuiltin, reductionIdentity, reductionStep } from './builtin.js';
import { f32Constant, foldBuiltin, type Constant } from './fold.js';
import { unrolls } from './reduce.js';

/** A bound index variable: a number (a point known at generation) or a run-time u32 expression. */
export type IndexValue = number | Expr;

export type LoadNode = Extract<Node, { op: 'load' }>;

/** Returns the WGSL expression a load reads, given the values of its index variables; `let` loads are inlined by the lowering itself. */
export type LoadResolver = (node: LoadNode, index: IndexValue[]) => Expr;

/**
 * A `vec4<f32>` of four consecutive elements of a load whose last index is the reduction variable,
 * at `4 * quad .. 4 * quad + 3` (`index` holds `4 * quad` there), read at once from a vec4 view of
 * the buffer; undefined where the caller has no aligned view (the lowering then gathers 4 loads).
 */
export type VectorResolver = (node: LoadNode, index: IndexValue[], quad: Expr) => Expr | undefined;

/** An index variable's value and the depth of the scope that binds it (0: the function's top level). */
interface Binding {
  value: IndexValue;
  depth: number;
}
export type Env = Map<string, Binding>;

/**
 * Asked before a node is computed, with the depth of the scope its value belongs to (0: it depends
 * on no loop of this lowering): an expression to use instead (a value hoisted out of the kernel's
 * loop over steps), or undefined.
 */
export type NodeHook = (def: Def, nodeId: number, env: Env, home: number) => Expr | undefined;

export const indexExpr = (v: IndexValue): Expr => (typeof v === 'number' ? lit.u32(v) : v);
const indexKey = (v: IndexValue): string => (typeof v === 'number' ? String(v) : printExpr(v));

/** Row-major offset `base + Σ index_k * stride_k`, folding the numeric part. */
export function offsetExpr(index: IndexValue[], strides: number[], base: Expr | number = 0): Expr {
  let constant = typeof base === 'number' ? base : 0;
  let dynamic: Expr | undefined = typeof base === 'number' ? undefined : base;
  index.forEach((v, k) => {
    if (typeof v === 'number') constant += v * strides[k]!;
    else {
      const term = strides[k] === 1 ? v : bin('*', v, lit.u32(strides[k]!));
      dynamic = dynamic ? bin('+', dynamic, term) : term;
    }
  });
  if (!dynamic) return lit.u32(constant);
  return constant ? bin('+', dynamic, lit.u32(constant)) : dynamic;
}

interface Scope {
  stmts: Stmt[];
  /** Values computed in this scope, by node and index point. */
  memo: Map<string, Expr>;
}

export interface LowerOptions {
  /** Definitions whose `let` loads are inlined (step lets, combine locals); other loads go to `resolve`. */
  lets?: Map<string, Def>;
  resolve: LoadResolver;
  sizes: DimSizes;
  /** Prefix of generated names; unique per function scope. */
  prefix: string;
  /** Shared by lowerings that write into one function, so that names stay unique. */
  counter?: { next: number };
  /** Where top-level statements go (default: a fresh list, `stmts`). */
  stmts?: Stmt[];
  hook?: NodeHook;
  /**
   * Sums over a dim whose size is a multiple of 4 run 4 terms per trip as vec4<f32> arithmetic when
   * the term is loads, constants, +, - and * (a dot product): lavapipe compiles a load that differs
   * per invocation into a loop over the SIMD lanes, so one vec4 load costs about what one f32 load
   * does. Off unless given (the terms' order of summation changes: four partial sums).
   */
  vector?: VectorResolver;
  /**
   * With `vector`: the sums `fuseSums` writes keep one f32 accumulator each, adding a trip's four
   * terms to it as ((x + y) + (z + w)), instead of a vec4 of four partial sums: a quarter of the
   * registers per sum, so more sums fit in one loop before they spill (lavapipe, LSTM's pre-pass at
   * X = H = 256: ~25% less CPU). The order of summation differs from the vec4 form.
   */
  scalarAccumulators?: boolean;
  /**
   * Reductions of at most this many terms are unrolled (default UNROLL_MAX, see reduce.ts). A kernel
   * that evaluates every point of a step at known indices (the time-sum kernel) unrolls more, so that
   * a let read inside a sum is the value it already computed at that point, not recomputed per term.
   */
  unrollUpTo?: number;
}

export class Lowerer {
  readonly helpers = new Set<MathHelper>();
  /** The top-level statements. */
  readonly stmts: Stmt[];
  private readonly scopes: Scope[];
  /** Folded values of constant expressions this lowering made. */
  private readonly known = new WeakMap<Expr, Constant>();
  private readonly lets: Map<string, Def>;
  private readonly counter: { next: number };

  constructor(private readonly o: LowerOptions) {
    this.stmts = o.stmts ?? [];
    this.scopes = [{ stmts: this.stmts, memo: new Map() }];
    this.lets = o.lets ?? new Map();
    this.counter = o.counter ?? { next: 0 };
  }

  /**
   * Opens a scope whose statements go to `into` (the body of a loop the caller writes around them).
   * Run-time index values passed to `evaluate` until `close` are taken to vary in it; values that do
   * not depend on them still go to the enclosing scopes.
   */
  open(into: Stmt[]): Stmt[] {
    this.scopes.push({ stmts: into, memo: new Map() });
    return into;
  }

  private unrolls(terms: number): boolean {
    return this.o.unrollUpTo === undefined ? unrolls(terms) : terms <= this.o.unrollUpTo;
  }

  /** Depth of the innermost open scope (0: the top level). */
  get depth(): number {
    return this.scopes.length - 1;
  }

  /** Where statements go now: the innermost open scope, else the top level. */
  get current(): Stmt[] {
    return this.scopes[this.scopes.length - 1]!.stmts;
  }

  close(): void {
    if (this.scopes.length === 1) throw new Error('Lowerer.close: no scope is open');
    this.scopes.pop();
  }

  /**
   * Value of `def` with its variables bound to `values` (in the order of `def.vars`). A run-time
   * value varies in the innermost open scope unless `depths` names an outer one (0: the top level).
   */
  evaluate(def: Def, values: IndexValue[], depths?: number[]): Expr {
    return this.node(def, def.root, this.envOf(def, values, depths));
  }

  /**
   * Sums of several items (definitions, or points of one) over the same dim, written as one loop per
   * dim and scope: every vectorizable sum (LowerOptions.vector) of each item that sits outside other
   * reductions, with the term loads the items share (the same address) read once per trip — four gates'
   * products with the state read the state's vec4 once, a weight row read once serves several
   * sequences. A later `evaluate` of an item finds its sums computed. The summation order of each sum
   * is the one `evaluate` alone would use. Sums go to loops in the order of `items`; a sum that reads a
   * load `unready` names (a value the caller has not computed yet) is left to `evaluate`.
   */
  fuseSums(items: { def: Def; values: IndexValue[]; depths?: number[]; unready?: (n: LoadNode) => boolean }[], most = Infinity): void {
    if (!this.o.vector) return;
    type Found = { def: Def; n: Extract<Node, { op: 'reduce' }>; env: Env; home: number; key: string };
    const groups = new Map<string, Found[]>();
    for (const item of items) {
      const env = this.envOf(item.def, item.values, item.depths);
      const seen = new Set<number>();
      const visit = (nodeId: number): void => {
        if (seen.has(nodeId)) return;
        seen.add(nodeId);
        const n = item.def.nodes[nodeId]!;
        if (n.op === 'reduce') {
          const size = this.o.sizes[n.over.dim]!;
          if (n.fn !== 'sum' || size % 4 !== 0 || this.unrolls(size) || !this.vectorizable(item.def, n.args[0], n.over.name)) return;
          if (item.unready && this.loadsUnder(item.def, n.args[0]).some(item.unready)) return;
          const home = Math.max(0, ...n.space.map((v) => env.get(v)!.depth));
          const key = this.memoKey(item.def, nodeId, n, env);
          if (this.scopes[home]!.memo.has(key)) return;
          const group = `${home}:${n.over.dim}`;
          groups.set(group, [...(groups.get(group) ?? []), { def: item.def, n, env, home, key }]);
          return;
        }
        if (n.op === 'load' || n.op === 'const') return;
        n.args.forEach(visit);
      };
      visit(item.def.root);
    }
    // At most `most` sums per loop: each is a vec4 accumulator (on lavapipe four SIMD registers per
    // invocation), and past a few of them they spill; whether sharing the loads pays for that is the caller's measurement.
    const loops = [...groups.values()].flatMap((found) => Array.from({ length: Math.ceil(found.length / most) }, (_, k) => found.slice(k * most, (k + 1) * most)));
    for (const found of loops) {
      const home = found[0]!.home;
      const size = this.o.sizes[found[0]!.n.over.dim]!;
      const accs = found.map(() => this.name('acc'));
      const quad = this.name(`${found[0]!.n.over.name}4_`);
      const vec4f = { kind: 'vec', size: 4, elem: f32 } as const;
      const scalar = this.o.scalarAccumulators === true;
      for (const acc of accs) this.scopes[home]!.stmts.push(scalar ? varS(acc, f32, lit.f32(0)) : varS(acc, vec4f, call('vec4<f32>')));
      const aside = this.scopes.splice(home + 1);
      const body: Stmt[] = [];
      this.scopes.push({ stmts: body, memo: new Map() });
      const loads = new Map<string, Expr>();
      found.forEach((f, k) => {
        const term = this.vnode(f.def, f.n.args[0], f.env, f.n.over.name, id_(quad), home + 1, new Map(), loads);
        if (scalar) {
          const t = this.name('t');
          const c = (x: string) => member(id_(t), x);
          body.push(letS(t, term), assign(id_(accs[k]!), bin('+', id_(accs[k]!), bin('+', bin('+', c('x'), c('y')), bin('+', c('z'), c('w'))))));
        } else body.push(assign(id_(accs[k]!), bin('+', id_(accs[k]!), term)));
      });
      this.scopes.pop();
      this.scopes.push(...aside);
      this.scopes[home]!.stmts.push(countedLoop(quad, lit.u32(0), size / 4, body));
      found.forEach((f, k) => {
        const a = (c: string) => member(id_(accs[k]!), c);
        this.scopes[home]!.memo.set(f.key, scalar ? this.bind(id_(accs[k]!), home) : this.bind(bin('+', bin('+', a('x'), a('y')), bin('+', a('z'), a('w'))), home));
      });
    }
  }

  /** The loads in the subtree under `root`. */
  private loadsUnder(def: Def, root: number): LoadNode[] {
    const out: LoadNode[] = [];
    const seen = new Set<number>();
    const visit = (k: number): void => {
      if (seen.has(k)) return;
      seen.add(k);
      const n = def.nodes[k]!;
      if (n.op === 'load') out.push(n);
      else if (n.op !== 'const') n.args.forEach(visit);
    };
    visit(root);
    return out;
  }

  private envOf(def: Def, values: IndexValue[], depths?: number[]): Env {
    const top = this.scopes.length - 1;
    return new Map(def.vars.map((v, k) => [v.name, { value: values[k]!, depth: typeof values[k] === 'number' ? 0 : Math.min(top, depths?.[k] ?? top) }]));
  }

  private memoKey(def: Def, nodeId: number, n: Node, env: Env): string {
    return `${def.kind}:${def.target}:${nodeId}:${n.space.map((v) => indexKey(env.get(v)!.value)).join(',')}`;
  }

  /** A fresh name for a generated value. */
  name(stem = ''): string {
    return `${this.o.prefix}${stem}${this.counter.next++}`;
  }

  use(h: MathHelper): MathHelper {
    this.helpers.add(h);
    return h;
  }

  /** Value of one node of `def` under the index bindings `env`. */
  node(def: Def, nodeId: number, env: Env): Expr {
    const n = def.nodes[nodeId]!;
    const home = Math.max(0, ...n.space.map((v) => env.get(v)!.depth));
    const key = this.memoKey(def, nodeId, n, env);
    const scope = this.scopes[home]!;
    const seen = scope.memo.get(key);
    if (seen) return seen;
    const value = this.o.hook?.(def, nodeId, env, home) ?? this.compute(def, n, env, home);
    scope.memo.set(key, value);
    return value;
  }

  private constant(value: Constant): Expr {
    const e = typeof value === 'boolean' ? lit.bool(value) : f32Constant(value, (h) => this.use(h));
    this.known.set(e, value);
    return e;
  }

  private bind(init: Expr, home: number): Expr {
    const name = this.name();
    this.scopes[home]!.stmts.push(letS(name, init));
    return id(name);
  }

  private compute(def: Def, n: Node, env: Env, home: number): Expr {
    switch (n.op) {
      case 'const':
        return this.constant(n.value);
      case 'load': {
        const bound = n.index.map((v) => env.get(v)!);
        const letDef = n.source === 'let' ? this.lets.get(n.tensor) : undefined;
        if (letDef) return this.node(letDef, letDef.root, new Map(letDef.vars.map((v, k) => [v.name, bound[k]!])));
        return this.o.resolve(n, bound.map((b) => b.value));
      }
      case 'reduce':
        return this.reduce(def, n, env, home);
      case 'select': {
        // A constant condition picks its branch (args: condition, value if true, value if false).
        const condition = this.node(def, n.args[0], env);
        const known = this.known.get(condition);
        if (known !== undefined) return this.node(def, n.args[known ? 1 : 2], env);
        return this.bind(applyBuiltin('select', n.args.map((a) => this.node(def, a, env)), (h) => this.use(h)), home);
      }
      default: {
        const operands = n.args.map((a) => this.node(def, a, env));
        const constants = operands.map((e) => this.known.get(e));
        if (constants.every((c) => c !== undefined)) return this.constant(foldBuiltin(n.fn, constants as Constant[]));
        return this.bind(applyBuiltin(n.fn, operands, (h) => this.use(h)), home);
      }
    }
  }

  /** Whether the term under `id` can be evaluated 4 indices of `over` at a time (see LowerOptions.vector). */
  private vectorizable(def: Def, id: number, over: string): boolean {
    const n = def.nodes[id]!;
    if (!n.space.includes(over)) return n.type === 'f32';
    if (n.type !== 'f32') return false;
    switch (n.op) {
      case 'load':
        return !(n.source === 'let' && this.lets.has(n.tensor)) && n.index.indexOf(over) === n.index.length - 1 && n.index.filter((v) => v === over).length === 1;
      case 'binary':
        return (n.fn === 'add' || n.fn === 'sub' || n.fn === 'mul') && n.args.every((a) => this.vectorizable(def, a, over));
      default:
        return false;
    }
  }

  /** The term under `id` at `over` = 4·quad + (0, 1, 2, 3) as a vec4 (or a scalar, where it does not depend on `over`). */
  private vnode(def: Def, id: number, env: Env, over: string, quad: Expr, depth: number, memo: Map<number, Expr>, loads?: Map<string, Expr>): Expr {
    const n = def.nodes[id]!;
    if (!n.space.includes(over)) return this.node(def, id, env);
    const seen = memo.get(id);
    if (seen) return seen;
    let value: Expr;
    if (n.op === 'load') {
      const at = (k: number): IndexValue[] => n.index.map((v) => (v === over ? (k === 0 ? bin('*', quad, lit.u32(4)) : bin('+', bin('*', quad, lit.u32(4)), lit.u32(k))) : env.get(v)!.value));
      value = this.o.vector!(n, at(0), quad) ?? call('vec4<f32>', ...[0, 1, 2, 3].map((k) => this.o.resolve(n, at(k))));
      // The same address in another item of a fused loop (fuseSums): read once.
      const shared = loads?.get(printExpr(value));
      if (shared) {
        memo.set(id, shared);
        return shared;
      }
    } else if (n.op === 'binary') {
      const [a, b] = n.args.map((x) => this.vnode(def, x, env, over, quad, depth, memo, loads)) as [Expr, Expr];
      value = applyBuiltin(n.fn, [a, b], (h) => this.use(h));
    } else throw new Error(`Lowerer.vnode: ${n.op} is not vectorizable`);
    const name = this.name();
    this.scopes[depth]!.stmts.push(letS(name, value));
    if (n.op === 'load') loads?.set(printExpr(value), id_(name));
    memo.set(id, id_(name));
    return id_(name);
  }

  private reduce(def: Def, n: Extract<Node, { op: 'reduce' }>, env: Env, home: number): Expr {
    const size = this.o.sizes[n.over.dim]!;
    if (this.o.vector && n.fn === 'sum' && size % 4 === 0 && !this.unrolls(size) && this.vectorizable(def, n.args[0], n.over.name)) {
      const acc = this.name('acc');
      const quad = this.name(`${n.over.name}4_`);
      const vec4f = { kind: 'vec', size: 4, elem: f32 } as const;
      this.scopes[home]!.stmts.push(varS(acc, vec4f, call('vec4<f32>')));
      const aside = this.scopes.splice(home + 1);
      const body: Stmt[] = [];
      this.scopes.push({ stmts: body, memo: new Map() });
      const term = this.vnode(def, n.args[0], env, n.over.name, id_(quad), home + 1, new Map());
      body.push(assign(id_(acc), bin('+', id_(acc), term)));
      this.scopes.pop();
      this.scopes.push(...aside);
      this.scopes[home]!.stmts.push(countedLoop(quad, lit.u32(0), size / 4, body));
      const a = (c: string) => member(id_(acc), c);
      return this.bind(bin('+', bin('+', a('x'), a('y')), bin('+', a('z'), a('w'))), home);
    }
    if (this.unrolls(size)) {
      let acc: Expr | undefined;
      for (let k = 0; k < size; k++) {
        const term = this.node(def, n.args[0], new Map(env).set(n.over.name, { value: k, depth: 0 }));
        if (acc === undefined) acc = term;
        else {
          const [a, b] = [this.known.get(acc), this.known.get(term)];
          acc = a !== undefined && b !== undefined ? this.constant(foldBuiltin(reduction(n.fn).fold, [a, b])) : this.bind(reductionStep(n.fn, acc, term, (h) => this.use(h)), home);
        }
      }
      return acc ?? this.constant(0);
    }
    // A loop in `home`: scopes deeper than it (the caller's, or an enclosing reduction's) are set
    // aside while the body is written, since nothing in the body depends on their variables.
    const acc = this.name('acc');
    const index = this.name(`${n.over.name}_`);
    this.scopes[home]!.stmts.push(varS(acc, f32, reductionIdentity(n.fn, (h) => this.use(h))));
    const aside = this.scopes.splice(home + 1);
    const body: Stmt[] = [];
    this.scopes.push({ stmts: body, memo: new Map() });
    const term = this.node(def, n.args[0], new Map(env).set(n.over.name, { value: id(index), depth: home + 1 }));
    body.push(assign(id(acc), reductionStep(n.fn, id(acc), term, (h) => this.use(h))));
    this.scopes.pop();
    this.scopes.push(...aside);
    this.scopes[home]!.stmts.push(countedLoop(index, lit.u32(0), size, body));
    return id(acc);
  }
}
