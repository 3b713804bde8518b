// IR definitions to straight-line WGSL: one `let` per interior node, equal (node, index) pairs
// emitted once. Index variables are bound either to numbers (reductions and small dense elements
// are unrolled, dims being known when a kernel is generated) or to run-time u32 expressions (a
// thread's lane coordinates). What a load reads is the caller's business (`LoadResolver`): the
// same cell expression reads global inputs in a scan's load phase, the struct members of the left
// and right operands in the combine, and workgroup memory in the store phase.
import type { Def, Node } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import { bin, call, id, letS, lit, un, type Expr, type Stmt } from '../wgsl/ast.js';
import { printExpr } from '../wgsl/print.js';
import { callHelper, type MathHelper } from '../wgsl/math.js';

/** A bound index variable: a number (unrolled) or a run-time u32 expression. */
export type IndexValue = number | Expr;

export type LoadNode = Extract<Node, { op: 'load' }>;

/** Returns the WGSL expression a load reads, given the values of its index variables; `let` loads are inlined by the evaluator itself. */
export type LoadResolver = (node: LoadNode, index: IndexValue[]) => Expr;

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

const unaryBuiltin: Record<string, string> = { exp: 'exp', log: 'log', sqrt: 'sqrt', abs: 'abs' };
const compareOp = { lt: '<', le: '<=', gt: '>', ge: '>=', eq: '==', ne: '!=' } as const;
const arithOp = { add: '+', sub: '-', mul: '*', div: '/' } as const;

/** Asked before a node is computed: an expression to use instead (a value hoisted out of the loop), or undefined. */
export type NodeHook = (def: Def, nodeId: number, env: Map<string, IndexValue>) => Expr | undefined;

/** Emits definitions into one straight-line block of statements. */
export class DefEvaluator {
  readonly helpers = new Set<MathHelper>();
  private readonly memo = new Map<string, Expr>();

  constructor(
    /** Definitions a `let` load may name (step lets, combine locals). */
    private readonly lets: Map<string, Def>,
    private readonly resolve: LoadResolver,
    private readonly sizes: DimSizes,
    /** Prefix of generated names; unique per function scope. */
    private readonly prefix: string,
    private readonly counter = { next: 0 },
    /** Where statements go; evaluators that share a block share this. */
    readonly stmts: Stmt[] = [],
    private readonly hook?: NodeHook,
  ) {}

  /** Value of `def` with its variables bound to `values` (in the order of `def.vars`). */
  evaluate(def: Def, values: IndexValue[]): Expr {
    const env = new Map(def.vars.map((v, k) => [v.name, values[k]!]));
    return this.node(def, def.root, env);
  }

  private fresh(init: Expr): Expr {
    const name = `${this.prefix}${this.counter.next++}`;
    this.stmts.push(letS(name, init));
    return id(name);
  }

  /** Value of one node of `def` under the index bindings `env`. */
  node(def: Def, nodeId: number, env: Map<string, IndexValue>): Expr {
    const n = def.nodes[nodeId]!;
    const key = `${def.kind}:${def.target}:${nodeId}:${n.space.map((v) => indexKey(env.get(v)!)).join(',')}`;
    const known = this.memo.get(key);
    if (known) return known;
    const value = this.hook?.(def, nodeId, env) ?? this.compute(def, n, env);
    this.memo.set(key, value);
    return value;
  }

  private compute(def: Def, n: Node, env: Map<string, IndexValue>): Expr {
    const arg = (k: number) => this.node(def, (n as { args: number[] }).args[k]!, env);
    switch (n.op) {
      case 'const':
        if (n.value === Infinity) return callHelper(this.use('inf'));
        if (n.value === -Infinity) return un('-', callHelper(this.use('inf')));
        return lit.f32(n.value);
      case 'load': {
        const values = n.index.map((v) => env.get(v)!);
        if (n.source === 'let') {
          const letDef = this.lets.get(n.tensor);
          if (!letDef) throw new Error(`scan backend: no definition for let \`${n.tensor}\``);
          return this.evaluate(letDef, values);
        }
        return this.resolve(n, values);
      }
      case 'unary':
        return this.fresh(this.unary(n.fn, arg(0)));
      case 'binary': {
        const [a, b] = [arg(0), arg(1)];
        if (n.fn in arithOp) return this.fresh(bin(arithOp[n.fn as keyof typeof arithOp], a, b));
        if (n.fn in compareOp) return this.fresh(bin(compareOp[n.fn as keyof typeof compareOp], a, b));
        if (n.fn === 'logaddexp') return this.fresh(callHelper(this.use('logaddexp'), a, b));
        return this.fresh(call(n.fn, a, b));
      }
      case 'select':
        return this.fresh(call('select', arg(2), arg(1), arg(0)));
      case 'reduce': {
        // Unrolled: the reduced dim's size is known when the kernel is generated.
        const size = this.sizes[n.over.dim]!;
        let acc: Expr | undefined;
        for (let k = 0; k < size; k++) {
          const term = this.node(def, n.args[0], new Map(env).set(n.over.name, k));
          acc = acc === undefined ? term : this.fresh(this.reducePair(n.fn, acc, term));
        }
        return acc!;
      }
    }
  }

  private reducePair(fn: string, a: Expr, b: Expr): Expr {
    switch (fn) {
      case 'sum':
        return bin('+', a, b);
      case 'logsumexp':
        return callHelper(this.use('logaddexp'), a, b);
      default:
        return call(fn, a, b);
    }
  }

  private unary(fn: string, a: Expr): Expr {
    switch (fn) {
      case 'neg':
        return un('-', a);
      case 'relu':
        return call('max', a, lit.f32(0));
      case 'sigmoid':
      case 'softplus':
      case 'tanh':
        return callHelper(this.use(fn), a);
      default:
        return call(unaryBuiltin[fn]!, a);
    }
  }

  private use(h: MathHelper): MathHelper {
    this.helpers.add(h);
    return h;
  }
}
