// Loops the emitter keeps as loops. rnnc decides what to unroll (lower/reduce.ts: four terms or
// fewer); the driver must not undo it. Mesa unrolls every loop of 32 trips or fewer whose trip count
// it can compute, nests included, and lavapipe then compiles each copy of a per-invocation memory
// access on its own: about 15–30 ms of LLVM time per access, cold (a 64-float element copied through
// storage five times took 10.6 s; the same copies as loops, 0.9 s — docs/compile-bench.md). So a
// kept loop's bound is `count + no_unroll`, where `no_unroll` is zero at run time but not to the
// compiler: every grid is 2-D (lower/grid.ts dispatches z = 1), so each entry point sets it to
// `nwg.z - 1u`. A GPU compiler can still unroll partially; it cannot multiply the accesses.
import { assign, bin, forRange, id, letS, lit, member, type Expr, type Module, type Stmt } from './ast.js';

export const NO_UNROLL = 'no_unroll';

/** `count`, as a loop bound the driver cannot see through. */
export const keptBound = (count: number): Expr => bin('+', lit.u32(count), id(NO_UNROLL));

/** `for (var v = from; v < count + no_unroll; v += step) { body }`: a loop of `count` trips kept as a loop (one trip: a block). */
export const keptLoop = (v: string, from: Expr, count: number, body: Stmt[], step?: Expr): Stmt =>
  count === 1 ? { kind: 'block', body: [letS(v, from), ...body] } : forRange(v, from, keptBound(count), body, step);

function exprUses(e: Expr): boolean {
  switch (e.kind) {
    case 'ident':
      return e.name === NO_UNROLL;
    case 'literal':
      return false;
    case 'unary':
      return exprUses(e.arg);
    case 'binary':
      return exprUses(e.left) || exprUses(e.right);
    case 'call':
      return e.args.some(exprUses);
    case 'index':
      return exprUses(e.base) || exprUses(e.index);
    case 'member':
      return exprUses(e.base);
  }
}

function stmtUses(s: Stmt): boolean {
  switch (s.kind) {
    case 'let':
      return exprUses(s.init);
    case 'var':
      return s.init !== undefined && exprUses(s.init);
    case 'assign':
      return exprUses(s.target) || exprUses(s.value);
    case 'increment':
      return exprUses(s.target);
    case 'if':
      return exprUses(s.cond) || s.then.some(stmtUses) || (s.else ?? []).some(stmtUses);
    case 'for':
      return [s.init, s.update].some((x) => x !== undefined && stmtUses(x)) || (s.cond !== undefined && exprUses(s.cond)) || s.body.some(stmtUses);
    case 'loop':
    case 'block':
      return s.body.some(stmtUses);
    case 'return':
      return s.value !== undefined && exprUses(s.value);
    case 'call':
      return exprUses(s.call);
    default:
      return false;
  }
}

/**
 * The module with `no_unroll` declared and set at the top of every entry point, when a kept loop
 * reads it; else the module unchanged. Every entry point must take `nwg` (num_workgroups).
 */
export function withNoUnroll(m: Module): Module {
  const uses = [...m.functions, ...m.entryPoints].some((f) => f.body.some(stmtUses));
  if (!uses) return m;
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
        comment: 'Zero (the grid is 2-D), unknown to the driver: `n + no_unroll` keeps a loop a loop (wgsl/no-unroll.ts).',
      },
    ],
    entryPoints: m.entryPoints.map((e) => ({ ...e, body: [set, ...e.body] })),
  };
}
