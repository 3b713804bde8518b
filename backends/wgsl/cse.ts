// Common `let`s of a function body, computed once. The emitters lower one definition at a time, so a
// value two definitions share is lowered twice: the decay of a backward core's adjoint,
// `exp(-step·exp(A_log))`, is its scan element's `a` and a factor of its `b` (mamba_s6's core computed
// its 32 decays twice a step, in both passes over the steps); the recomputing rest of a staged backward
// (wgsl-reduce/time-sum.ts) evaluates the rest and the core's update in one step, and both read gla's gate. A `let` whose expression an earlier `let` in scope
// already has (the same text, once earlier duplicates are renamed) is dropped and its uses read the
// earlier one. Only expressions of immutable values qualify: lets, parameters, loop counters and
// loads of read-only buffers; an expression that reads a `var` (a reduction's accumulator, the
// struct being built) keeps its own `let`.
import { childExprs, mapChildren, type Expr, type Stmt } from './ast.js';
import { printExpr } from './print.js';

/** The body with duplicate `let`s removed; `mutable` names globals the body may write (read_write buffers). */
export function dedupeLets(body: Stmt[], mutable: ReadonlySet<string> = new Set()): Stmt[] {
  const vars = new Set(mutable);
  const collect = (stmts: Stmt[]) => {
    for (const s of stmts) {
      if (s.kind === 'var') vars.add(s.name);
      if (s.kind === 'if') collect([...s.then, ...(s.else ?? [])]);
      // A loop's counter is not counted: within one trip of the body (a scope of its own) it is fixed.
      if (s.kind === 'for') collect(s.body);
      if (s.kind === 'loop' || s.kind === 'block') collect(s.body);
    }
  };
  collect(body);
  const rename = new Map<string, string>();
  const sub = (e: Expr): Expr => (e.kind === 'ident' ? (rename.has(e.name) ? { kind: 'ident', name: rename.get(e.name)! } : e) : mapChildren(e, sub));
  const readsVar = (e: Expr): boolean => (e.kind === 'ident' ? vars.has(e.name) : childExprs(e).some(readsVar));
  // A statement with its expressions renamed (no let is dropped here: loop headers).
  const plain = (s: Stmt): Stmt => {
    switch (s.kind) {
      case 'let':
        return { ...s, init: sub(s.init) };
      case 'var':
        return s.init ? { ...s, init: sub(s.init) } : s;
      case 'assign':
        return { ...s, target: sub(s.target), value: sub(s.value) };
      case 'increment':
        return { ...s, target: sub(s.target) };
      default:
        return s;
    }
  };
  const walk = (stmts: Stmt[], scope: ReadonlyMap<string, string>): Stmt[] => {
    const seen = new Map(scope);
    const out: Stmt[] = [];
    for (const s of stmts) {
      switch (s.kind) {
        case 'let': {
          const init = sub(s.init);
          if (!s.type && !readsVar(init)) {
            const key = printExpr(init);
            const prior = seen.get(key);
            if (prior) {
              rename.set(s.name, prior);
              break;
            }
            seen.set(key, s.name);
          }
          out.push({ ...s, init });
          break;
        }
        case 'if':
          out.push({ ...s, cond: sub(s.cond), then: walk(s.then, seen), ...(s.else ? { else: walk(s.else, seen) } : {}) });
          break;
        case 'for':
          out.push({ ...s, ...(s.init ? { init: plain(s.init) } : {}), ...(s.cond ? { cond: sub(s.cond) } : {}), ...(s.update ? { update: plain(s.update) } : {}), body: walk(s.body, seen) });
          break;
        case 'loop':
        case 'block':
          out.push({ ...s, body: walk(s.body, seen) });
          break;
        case 'return':
          out.push(s.value ? { ...s, value: sub(s.value) } : s);
          break;
        case 'call':
          out.push({ ...s, call: sub(s.call) as Expr & { kind: 'call' } });
          break;
        default:
          out.push(plain(s));
      }
    }
    return out;
  };
  return walk(body, new Map());
}
