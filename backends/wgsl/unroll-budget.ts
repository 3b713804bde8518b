// Which counted loops the driver may unroll. Unrolled, a loop over a small array keeps it in
// registers (on lavapipe a kept loop over an 8-float element made LRU's scan 5-10x slower); but Mesa
// unrolls every loop of 32 trips or fewer whose trip count it can compute, nests included, and
// lavapipe compiles each copy of a per-invocation memory access on its own: 15-30 ms of LLVM time
// per access, cold (a 64-float element copied through storage five times took 10.6 s to compile; as
// loops, 0.9 s), while an address the same in every invocation is one cheap scalar load.
//
// So the emitters write counted loops (`countedLoop`, a literal bound), and `budgetUnrolling`
// counts, per entry point, the per-invocation memory accesses (storage and workgroup) the driver
// would compile after inlining every function and unrolling every such loop: an access counts once
// per unrolled copy whose address differs (loads that do not depend on a loop merge across its
// copies). While that is over MAX_UNROLLED_ACCESSES it keeps the loop whose keeping saves the most,
// loops outside the per-step path first: its bound becomes `count + no_unroll`, zero at run time but
// not to the compiler (every grid is 2-D: lower/grid.ts dispatches z = 1, and each entry point sets
// `no_unroll = nwg.z - 1u`). Loops holding barriers or subgroup operations are never kept: a
// private variable is non-uniform to WGSL.
import { assign, bin, childExprs, forRange, id, letS, lit, member, type Expr, type Function, type Module, type Stmt } from './ast.js';

export const NO_UNROLL = 'no_unroll';

/** Per-invocation memory accesses per entry point, after the driver's unrolling, past which loops are kept (about 1.5 s of cold compile on lavapipe). */
export const MAX_UNROLLED_ACCESSES = 64;

/** Mesa's bound: loops of more trips than this are not unrolled in full. */
const DRIVER_UNROLL_TRIPS = 32;

type ForStmt = Extract<Stmt, { kind: 'for' }>;

/** `for (var v = from; v < from + count; ...)` with `count` recorded, for budgetUnrolling; one trip is a block. */
export function countedLoop(v: string, from: Expr, count: number, body: Stmt[], step?: Expr): Stmt {
  if (count === 1) return { kind: 'block', body: [letS(v, from), ...body] };
  return { ...(forRange(v, from, lit.u32(count), body, step) as ForStmt), trips: count };
}

const UNIFORM_ONLY = /^(workgroupBarrier|storageBarrier|textureBarrier|workgroupUniformLoad|subgroup\w*|quad\w*)$/;

/** What budgetUnrolling needs to know of a module: its memory globals, its functions, its counted loops. */
class Census {
  readonly memory: Set<string>;
  readonly functions: Map<string, Function>;
  private readonly functionNames: Set<string>;
  /** A value depends on a loop through names and calls, not through what memory holds (that is the address's business). */
  private readonly loopOpaque: Opaque;
  readonly kept = new Set<ForStmt>();
  private memo = new Map<string, number>();
  private readonly divergence = new Map<Function, Set<string>>();
  /** The names that may differ between invocations in the function being counted. */
  private divergent = new Set<string>();
  /** The unrolled loops around the statement being counted: trips, and the names that depend on the loop's variable. */
  private loops: { trips: number; dep: Set<string>; stores: boolean }[] = [];
  private readonly storing = new Map<string, boolean>();

  constructor(m: Module) {
    this.memory = new Set(m.globals.filter((g) => g.space === 'storage' || g.space === 'workgroup').map((g) => g.name));
    this.functions = new Map(m.functions.map((f) => [f.name, f]));
    this.functionNames = new Set(this.functions.keys());
    this.loopOpaque = { memory: new Set(), functions: this.functionNames };
  }

  /** Accesses the driver compiles for entry point or function `f`, callees inlined. */
  sites(f: Function): number {
    this.memo = new Map();
    return this.within(f, () => this.block(f.body));
  }

  private within(f: Function, count: () => number): number {
    const [outerDivergent, outerLoops] = [this.divergent, this.loops];
    let d = this.divergence.get(f);
    if (!d) this.divergence.set(f, (d = divergentNames(f, { memory: this.memory, functions: this.functionNames })));
    this.divergent = d;
    this.loops = [];
    try {
      return count();
    } finally {
      this.divergent = outerDivergent;
      this.loops = outerLoops;
    }
  }

  /** Whether `stmts` (callees included) store to memory. */
  private stores(stmts: Stmt[]): boolean {
    return someStmt(
      stmts,
      (x) => x.kind === 'assign' && this.memory.has(rootOf(x.target) ?? ''),
      (e) => {
        if (e.kind !== 'call' || !this.functions.has(e.fn)) return false;
        let known = this.storing.get(e.fn);
        if (known === undefined) {
          this.storing.set(e.fn, false);
          this.storing.set(e.fn, (known = this.stores(this.functions.get(e.fn)!.body)));
        }
        return known;
      },
    );
  }

  /** Copies of everything in the loops around: a call's inlined body, a store. */
  private allCopies(): number {
    return this.loops.reduce((n, l) => n * l.trips, 1);
  }

  private call(name: string): number {
    const f = this.functions.get(name);
    if (!f) return 0;
    let n = this.memo.get(name);
    if (n === undefined) this.memo.set(name, (n = this.within(f, () => this.block(f.body))));
    return n * this.allCopies();
  }

  /**
   * An access counts once per copy the driver's unrolling makes of it that reads a different
   * address: loads whose address does not depend on a loop are merged across its copies. An address
   * the same in every invocation is one scalar load, cheap to compile: not counted.
   */
  private access(e: Expr, store: boolean): number {
    if (!this.varies(e)) return 0;
    const address = addressOf(e);
    // Loads merge across the copies of a loop that stores nothing: to the compiler a store may alias them.
    return this.loops.reduce((n, l) => (store || l.stores || mentions(address, l.dep, this.loopOpaque) ? n * l.trips : n), 1);
  }

  private expr(e: Expr): number {
    switch (e.kind) {
      case 'literal':
      case 'ident':
        return 0;
      case 'unary':
        return this.expr(e.arg);
      case 'binary':
        return this.expr(e.left) + this.expr(e.right);
      case 'call':
        return this.call(e.fn) + e.args.reduce((n, a) => n + this.expr(a), 0);
      case 'index':
      case 'member': {
        // One access however deep the path (`aggs[i].h[m]`), plus what its subscripts compute.
        const root = rootOf(e);
        if (root !== undefined && this.memory.has(root)) return this.access(e, false) + this.subscripts(e);
        return e.kind === 'index' ? this.expr(e.base) + this.expr(e.index) : this.expr(e.base);
      }
    }
  }

  /** Whether the address of access `e` may differ between invocations. */
  private varies(e: Expr): boolean {
    if (e.kind === 'index') return mentions(e.index, this.divergent, { memory: this.memory, functions: this.functionNames }) || this.varies(e.base);
    if (e.kind === 'member') return this.varies(e.base);
    return false;
  }

  private subscripts(e: Expr): number {
    if (e.kind === 'index') return this.expr(e.index) + this.subscripts(e.base);
    if (e.kind === 'member') return this.subscripts(e.base);
    return 0;
  }

  private block(stmts: Stmt[]): number {
    return stmts.reduce((n, s) => n + this.stmt(s), 0);
  }

  /** `name` now holds `value`: it depends on each loop around whose variable `value` reads. */
  private define(name: string, value: Expr | undefined): void {
    for (const l of this.loops) if (value && mentions(value, l.dep, this.loopOpaque)) l.dep.add(name);
  }

  private stmt(s: Stmt): number {
    switch (s.kind) {
      case 'let':
        return this.define(s.name, s.init), this.expr(s.init);
      case 'var':
        return this.define(s.name, s.init), s.init ? this.expr(s.init) : 0;
      case 'assign': {
        if (s.target.kind === 'ident') this.define(s.target.name, s.value);
        const root = rootOf(s.target);
        const target = root !== undefined && this.memory.has(root) ? this.access(s.target, true) + this.subscripts(s.target) : this.expr(s.target);
        return target + this.expr(s.value);
      }
      case 'increment':
        return this.expr(s.target);
      case 'if':
        return this.expr(s.cond) + this.block(s.then) + this.block(s.else ?? []);
      case 'for': {
        const init = s.init ? this.stmt(s.init) : 0;
        const unrolled = s.trips !== undefined && s.trips <= DRIVER_UNROLL_TRIPS && !this.kept.has(s);
        const v = s.init && (s.init.kind === 'var' || s.init.kind === 'let') ? s.init.name : undefined;
        if (unrolled) this.loops.push({ trips: s.trips!, dep: new Set(v ? [v] : []), stores: this.stores(s.body) });
        try {
          return init + this.block(s.body) + (s.cond ? this.expr(s.cond) : 0);
        } finally {
          if (unrolled) this.loops.pop();
        }
      }
      case 'loop':
      case 'block':
        return this.block(s.body);
      case 'return':
        return s.value ? this.expr(s.value) : 0;
      case 'call':
        return this.expr(s.call);
      default:
        return 0;
    }
  }
}

const INVOCATION_BUILTIN = /builtin\((local_invocation_id|local_invocation_index|global_invocation_id|subgroup_invocation_id)\)/;

/** What `mentions` takes as varying besides the names: values read from memory, results of the module's functions. */
interface Opaque {
  memory: ReadonlySet<string>;
  functions: ReadonlySet<string>;
}

/** Whether `e` reads a name in `names`, a value from `opaque` memory, or calls one of the module's functions. */
function mentions(e: Expr, names: ReadonlySet<string>, opaque: Opaque): boolean {
  switch (e.kind) {
    case 'literal':
      return false;
    case 'ident':
      return names.has(e.name);
    case 'unary':
      return e.op !== '&' && mentions(e.arg, names, opaque);
    case 'binary':
      return mentions(e.left, names, opaque) || mentions(e.right, names, opaque);
    case 'call':
      // WGSL builtins and type constructors vary with their arguments; workgroupUniformLoad never does.
      return e.fn !== 'workgroupUniformLoad' && (opaque.functions.has(e.fn) || e.args.some((a) => mentions(a, names, opaque)));
    case 'index':
    case 'member': {
      const root = rootOf(e);
      if (root !== undefined && opaque.memory.has(root)) return true;
      return e.kind === 'index' ? mentions(e.base, names, opaque) || mentions(e.index, names, opaque) : mentions(e.base, names, opaque);
    }
  }
}

/**
 * The names of `f` that may differ between its invocations: invocation builtins, a function's
 * parameters (whatever its callers pass), and what is computed from them or from memory, in order.
 */
function divergentNames(f: Function, opaque: Opaque): Set<string> {
  const d = new Set<string>();
  for (const p of f.params) if (!('stage' in f) || (p.attributes ?? []).some((a) => INVOCATION_BUILTIN.test(a))) d.add(p.name);
  const visit = (stmts: Stmt[]): void => {
    for (const s of stmts) {
      if ((s.kind === 'let' || s.kind === 'var') && (s.kind === 'var' && !s.init ? false : mentions(s.init!, d, opaque))) d.add(s.name);
      else if (s.kind === 'assign' && s.target.kind === 'ident' && mentions(s.value, d, opaque)) d.add(s.target.name);
      else if (s.kind === 'for') {
        if (s.init) visit([s.init]);
        visit(s.body);
      } else if (s.kind === 'loop' || s.kind === 'block') visit(s.body);
      else if (s.kind === 'if') visit([...s.then, ...(s.else ?? [])]);
    }
  };
  // Twice: a value assigned late in a loop body flows to the uses before it on the next trip.
  visit(f.body);
  visit(f.body);
  return d;
}

/** The subscripts of an access path, as one expression to test (`a[i].m[j]` → i, j). */
function addressOf(e: Expr): Expr {
  const subs: Expr[] = [];
  for (let x = e; x.kind === 'index' || x.kind === 'member'; x = x.base) if (x.kind === 'index') subs.push(x.index);
  return subs.reduce<Expr>((a, b) => bin('+', a, b), lit.u32(0));
}

/** The global an access `base[...]`, `base.m[...]` reads, if any. */
function rootOf(e: Expr): string | undefined {
  if (e.kind === 'ident') return e.name;
  if (e.kind === 'member' || e.kind === 'index') return rootOf(e.base);
  return undefined;
}

function someStmt(stmts: Stmt[], test: (s: Stmt) => boolean, exprTest: (e: Expr) => boolean): boolean {
  const inExpr = (e: Expr | undefined): boolean => e !== undefined && (exprTest(e) || childExprs(e).some(inExpr));
  const visit = (s: Stmt): boolean => {
    if (test(s)) return true;
    switch (s.kind) {
      case 'let':
        return inExpr(s.init);
      case 'var':
        return inExpr(s.init);
      case 'assign':
        return inExpr(s.target) || inExpr(s.value);
      case 'increment':
        return inExpr(s.target);
      case 'if':
        return inExpr(s.cond) || s.then.some(visit) || (s.else ?? []).some(visit);
      case 'for':
        return [s.init, s.update].some((x) => x !== undefined && visit(x)) || inExpr(s.cond) || s.body.some(visit);
      case 'loop':
      case 'block':
        return s.body.some(visit);
      case 'return':
        return inExpr(s.value);
      case 'call':
        return inExpr(s.call);
      default:
        return false;
    }
  };
  return stmts.some(visit);
}

/** Every counted loop of `stmts`, outermost first. */
function countedLoops(stmts: Stmt[], out: ForStmt[] = []): ForStmt[] {
  for (const s of stmts) {
    if (s.kind === 'for' && s.trips !== undefined) out.push(s);
    if (s.kind === 'for' || s.kind === 'loop' || s.kind === 'block') countedLoops(s.body, out);
    if (s.kind === 'if') countedLoops([...s.then, ...(s.else ?? [])], out);
  }
  return out;
}

/**
 * The counted loops that run inside a loop of run-time length (over steps or tiles), directly or
 * in a function called there: keeping those costs time at every step, keeping the others once.
 */
function hotLoops(m: Module, functions: Map<string, Function>): Set<ForStmt> {
  const hot = new Set<ForStmt>();
  const hotFunctions = new Set<string>();
  const visit = (stmts: Stmt[], inLoop: boolean): void => {
    for (const s of stmts) {
      const calls: string[] = [];
      someStmt([s], () => false, (e) => (e.kind === 'call' && functions.has(e.fn) && calls.push(e.fn), false));
      if (inLoop)
        for (const f of calls)
          if (!hotFunctions.has(f)) {
            hotFunctions.add(f);
            visit(functions.get(f)!.body, true);
          }
      if (s.kind === 'for') {
        if (s.trips !== undefined && inLoop) hot.add(s);
        visit(s.body, inLoop || s.trips === undefined);
      } else if (s.kind === 'loop') visit(s.body, true);
      else if (s.kind === 'block') visit(s.body, inLoop);
      else if (s.kind === 'if') visit([...s.then, ...(s.else ?? [])], inLoop);
    }
  };
  for (const e of m.entryPoints) visit(e.body, false);
  return hot;
}

/** Whether a loop may be kept: nothing in it (callees included) needs uniform control flow. */
function keepable(loop: ForStmt, functions: Map<string, Function>): boolean {
  const seen = new Set<string>();
  const needsUniform = (stmts: Stmt[]): boolean =>
    someStmt(
      stmts,
      () => false,
      (e) => {
        if (e.kind !== 'call') return false;
        if (UNIFORM_ONLY.test(e.fn)) return true;
        const f = functions.get(e.fn);
        if (!f || seen.has(e.fn)) return false;
        seen.add(e.fn);
        return needsUniform(f.body);
      },
    );
  return !needsUniform(loop.body);
}

/** Each kept loop's bound made `count + no_unroll`; other statements unchanged. */
function rewrite(stmts: Stmt[], kept: Set<ForStmt>): Stmt[] {
  return stmts.map((s): Stmt => {
    switch (s.kind) {
      case 'for': {
        const body = rewrite(s.body, kept);
        if (!kept.has(s) || !s.cond || s.cond.kind !== 'binary') return { ...s, body };
        return { ...s, cond: bin(s.cond.op, s.cond.left, bin('+', s.cond.right, id(NO_UNROLL))), body };
      }
      case 'if':
        return { ...s, then: rewrite(s.then, kept), ...(s.else ? { else: rewrite(s.else, kept) } : {}) };
      case 'loop':
      case 'block':
        return { ...s, body: rewrite(s.body, kept) };
      default:
        return s;
    }
  });
}

/** Accesses per entry point after the driver's unrolling, with the loops in `kept` kept (for tests and reports). */
export function unrolledAccesses(m: Module, kept: ReadonlySet<ForStmt> = new Set()): number[] {
  const census = new Census(m);
  kept.forEach((l) => census.kept.add(l));
  return m.entryPoints.map((e) => census.sites(e));
}

/**
 * The module with loops kept until every entry point is within `budget` accesses (see the top of
 * this file), `no_unroll` declared and set where any is; else the module unchanged.
 */
export function budgetUnrolling(m: Module, budget = MAX_UNROLLED_ACCESSES): Module {
  const census = new Census(m);
  const all = [...m.functions, ...m.entryPoints];
  const candidates = all.flatMap((f) => countedLoops(f.body)).filter((l) => keepable(l, census.functions));
  const total = () => Math.max(0, ...m.entryPoints.map((e) => census.sites(e)));
  // Loops that run once per invocation are kept first; those in the per-step path only if that is not enough.
  const hot = hotLoops(m, census.functions);
  let current = total();
  while (current > budget) {
    let best: { loop: ForStmt; total: number } | undefined;
    const cold = candidates.filter((l) => !hot.has(l) && !census.kept.has(l));
    for (const loop of cold.length ? cold : candidates) {
      if (census.kept.has(loop)) continue;
      census.kept.add(loop);
      const t = total();
      census.kept.delete(loop);
      if (t < current && (!best || t < best.total)) best = { loop, total: t };
    }
    if (!best && cold.length) {
      cold.forEach((l) => hot.add(l)); // keeping any of them saves nothing: try the others
      continue;
    }
    if (!best) break; // nothing left to keep: what remains is straight-line code
    census.kept.add(best.loop);
    current = best.total;
  }
  if (!census.kept.size) return m;
  for (const e of m.entryPoints)
    if (!e.params.some((p) => p.name === 'nwg' && p.attributes?.includes('builtin(num_workgroups)')))
      throw new Error(`WGSL module: entry point ${e.name} has kept loops but no num_workgroups parameter \`nwg\``);
  const set = assign(id(NO_UNROLL), bin('-', member(id('nwg'), 'z'), lit.u32(1)));
  return {
    ...m,
    globals: [
      ...m.globals,
      {
        name: NO_UNROLL,
        space: 'private',
        type: { kind: 'scalar', name: 'u32' },
        comment: 'Zero (the grid is 2-D), unknown to the driver: `n + no_unroll` keeps a loop a loop (wgsl/unroll-budget.ts).',
      },
    ],
    functions: m.functions.map((f) => ({ ...f, body: rewrite(f.body, census.kept) })),
    entryPoints: m.entryPoints.map((e) => ({ ...e, body: [set, ...rewrite(e.body, census.kept)] })),
  };
}
