// The element functions of a scan: the identity, the combine, and the load phase — `element`, the
// state-independent part of the cell at one step, with `invariants`, what it computes from params
// alone, hoisted to once per thread.
import { countedLoop } from '../wgsl/unroll-budget.js';
import { arrayOf, assign, bool, call, f32, id, index, letS, member, named, u32, varS, type Expr, type Function, type Stmt, type Type } from '../wgsl/ast.js';
import { Lowerer, offsetExpr, type NodeHook } from '../lower/expr.js';
import { printExpr } from '../wgsl/print.js';
import { dedupeLets } from '../wgsl/cse.js';
import type { LoopObserver, PointLoop } from '../lower/points.js';
import { ret, ELEM, u, U, type Ctx, laneCoords, stepLets, loadInputOrParam, elemRef, buildStruct, fieldDef, finish } from './kernel.js';
import { isBidirectional } from '../lower/time.js';

export function elementFunctions(ctx: Ctx): Function[] {
  const { plan } = ctx;
  const fields = ctx.layout.fields;

  const idLw = new Lowerer({
    resolve: () => {
      throw new Error('scan backend: the identity must be constant');
    },
    sizes: ctx.sizes,
    prefix: 'v',
  });
  const idValue = buildStruct(ctx, 'Elem', fields, fieldDef(plan.identity), idLw, undefined).value;
  const identity: Function = {
    name: 'identity',
    params: [],
    returnType: ELEM,
    body: [...finish(ctx, idLw), ret(idValue)],
    comment: 'The identity element: a masked or padding step.',
  };

  const cLw = new Lowerer({
    lets: new Map(plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d])),
    resolve: (n, values) => {
      if (n.source !== 'left' && n.source !== 'right') throw new Error(`scan backend: the combine reads ${n.source} \`${n.tensor}\``);
      return elemRef(ctx, id(n.source === 'left' ? 'l' : 'r'), n.tensor, values);
    },
    sizes: ctx.sizes,
    prefix: 'v',
  });
  // The combine's result must not be named `r`, its right operand: build it as `c`.
  const cValue = buildStruct(ctx, 'Elem', fields, fieldDef(plan.combine.filter((d) => d.kind !== 'let')), cLw, undefined, 'c').value;
  const combine: Function = {
    name: 'combine',
    params: [
      { name: 'l', type: ELEM },
      { name: 'r', type: ELEM },
    ],
    returnType: ELEM,
    body: [...finish(ctx, cLw), ret(cValue)],
    comment: 'l then r: the aggregate of two consecutive spans, l the earlier.',
  };

  // What depends on params alone (Mamba's exp(A_log), LRU's lambda and gamma) is computed once per
  // thread by `invariants`, as the sequential kernel hoists it, not at every step: a value at one
  // point per thread as a scalar member of `Inv`, a value inside the loops over an element field's
  // points as an array member, filled by the same loops in `invariants`. A boolean (a param-only
  // `select` condition) stays a boolean.
  const invStmts: Stmt[] = [varS('inv', named('Inv'))];
  laneCoords(ctx, invStmts); // the same lane_* names as in `element`, which hoisted expressions use
  const invLw = new Lowerer({ lets: stepLets(ctx.module), resolve: (n, values) => loadInputOrParam(ctx, n, values), sizes: ctx.sizes, prefix: 'k', stmts: invStmts });
  const invMembers: { name: string; type: Type }[] = [];
  // The loop nest of the field being built, mirrored in `invariants` where something is hoisted from it.
  const nest: { loop: PointLoop; body: Stmt[]; used: boolean }[] = [];
  const observer: LoopObserver = {
    enter: (loop) => nest.push({ loop, body: invLw.open([]), used: false }),
    exit: () => {
      const { loop, body, used } = nest.pop()!;
      invLw.close();
      if (!used) return;
      invLw.current.push(countedLoop(loop.name, u(0), loop.count, body));
      if (nest.length) nest[nest.length - 1]!.used = true;
    },
  };
  // A value several fields hoist (mamba_s6's core: exp(A_log) in both `a` and `b`) is one member:
  // keyed by its expression over params and constants at the point's index values.
  const hoisted = new Map<string, Expr>();
  const nodeKey = (def: Parameters<NodeHook>[0], nodeId: number, env: Parameters<NodeHook>[2]): string | undefined => {
    const n = def.nodes[nodeId]!;
    switch (n.op) {
      case 'const':
        return String(n.value);
      case 'load': {
        const at = n.index.map((v) => env.get(v)?.value);
        if (n.source !== 'param' || at.some((v) => v === undefined)) return undefined;
        return `${n.tensor}[${at.map((v) => (typeof v === 'number' ? String(v) : printExpr(v!))).join(',')}]`;
      }
      case 'reduce':
        return undefined;
      default: {
        const args = n.args.map((a) => nodeKey(def, a, env));
        return args.some((a) => a === undefined) ? undefined : `${n.op}:${'fn' in n ? n.fn : ''}(${args.join(',')})`;
      }
    }
  };
  const hoist: NodeHook = (def, nodeId, env, home) => {
    const n = def.nodes[nodeId]!;
    if (n.dep !== 'param' || n.op === 'const' || n.op === 'load') return undefined;
    const type = n.type === 'bool' ? bool : f32;
    const name = `i${invMembers.length}`;
    const structural = nodeKey(def, nodeId, env);
    if (home === 0) {
      const key = structural && `0:${structural}`;
      if (key && hoisted.has(key)) return hoisted.get(key)!;
      invMembers.push({ name, type });
      invLw.current.push(assign(member(id('inv'), name), invLw.node(def, nodeId, env)));
      if (key) hoisted.set(key, member(id('inv'), name));
      return member(id('inv'), name);
    }
    // Inside a field's loop nest (depth k is loop k - 1): an array over the loops down to `home`,
    // indexed by their coordinates; not what varies with a reduction's index.
    if (home > nest.length) return undefined;
    const loops = nest.slice(0, home).map((l) => l.loop);
    const at = offsetExpr(
      loops.map((l) => id(l.name)),
      loops.map((_, k) => loops.slice(k + 1).reduce((m, l) => m * l.count, 1)),
    );
    const key = structural && `${loops.map((l) => `${l.name}<${l.count}`).join(',')}:${structural}`;
    if (key && hoisted.has(key)) return hoisted.get(key)!;
    invMembers.push({ name, type: arrayOf(type, loops.reduce((m, l) => m * l.count, 1)) });
    nest[home - 1]!.used = true;
    nest[home - 1]!.body.push(assign(index(member(id('inv'), name), at), invLw.node(def, nodeId, env)));
    if (key) hoisted.set(key, index(member(id('inv'), name), at));
    return index(member(id('inv'), name), at);
  };
  const eStmts: Stmt[] = [];
  // A cell that walks (part of) its steps backward reads `lengths` for each input's position: once, as `len`.
  const backward = ctx.module.reversed === true || isBidirectional(ctx.module);
  if (backward) eStmts.push(letS('len', call('min', index(id('lengths'), id('b')), U('T'))));
  const eCtx: Ctx = backward ? { ...ctx, lenInScope: true } : ctx;
  const coords = laneCoords(ctx, eStmts);
  const eLw = new Lowerer({
    lets: stepLets(ctx.module),
    resolve: (n, values) => {
      if (n.source === 'input' || n.source === 'param') return loadInputOrParam(eCtx, n, values);
      throw new Error(`scan backend: an element field reads ${n.source} \`${n.tensor}\``);
    },
    sizes: ctx.sizes,
    prefix: 'v',
    hook: hoist,
  });
  const eValue = buildStruct(ctx, 'Elem', fields, fieldDef(plan.fields), eLw, coords, 'r', observer).value;
  ctx.invariants = invMembers;
  const element: Function = {
    name: 'element',
    params: [...['b', 't', 's'].map((name) => ({ name, type: u32 })), ...(invMembers.length ? [{ name: 'inv', type: named('Inv') }] : [])],
    returnType: ELEM,
    body: dedupeLets([...eStmts, ...finish(ctx, eLw), ret(eValue)]),
    comment: "Step t's element for lane s of sequence b: the state-independent part of the cell (load phase).",
  };
  if (!invMembers.length) return [identity, combine, element];
  invLw.helpers.forEach((h) => ctx.helpers.add(h));
  const invariants: Function = {
    name: 'invariants',
    params: [{ name: 's', type: u32 }],
    returnType: named('Inv'),
    body: [...invStmts, ret(id('inv'))],
    comment: 'What the elements of lane s compute from params alone, once per thread.',
  };
  return [identity, combine, invariants, element];
}

/** `element(b, t, s[, inv])`: step t's element, with the thread's invariants when the cell has any. */
export const elementCall = (ctx: Ctx): Expr => call('element', id('b'), id('t'), id('s'), ...(ctx.invariants?.length ? [id('inv')] : []));
/** `let inv = invariants(s);` once per thread, where the kernel reads elements. */
export const invariantsLet = (ctx: Ctx): Stmt[] => (ctx.invariants?.length ? [letS('inv', call('invariants', id('s')))] : []);
