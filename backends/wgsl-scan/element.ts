// The element functions of a scan: the identity, the combine, and the load phase — `element`, the
// state-independent part of the cell at one step, with `invariants`, what it computes from params
// alone, hoisted to once per thread.
import { call, id, letS, member, named, u32, type Expr, type Function, type Stmt } from '../wgsl/ast.js';
import { DefEvaluator, type NodeHook } from './eval.js';
import { ret, ELEM, type Ctx, laneCoords, stepLets, loadInputOrParam, memberOf, perMember, finish } from './kernel.js';

export function elementFunctions(ctx: Ctx): Function[] {
  const { plan } = ctx;
  const elem = (values: Expr[]) => call('Elem', ...values);

  const idEv = new DefEvaluator(
    new Map(),
    () => {
      throw new Error('scan backend: the identity must be constant');
    },
    ctx.sizes,
    'v',
  );
  const idValues = perMember(ctx, plan.identity, idEv, undefined);
  const identity: Function = {
    name: 'identity',
    params: [],
    returnType: ELEM,
    body: [...finish(ctx, idEv), ret(elem(idValues))],
    comment: 'The identity element: a masked or padding step.',
  };

  const combineLets = new Map(plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d]));
  const cEv = new DefEvaluator(
    combineLets,
    (n, values) => {
      if (n.source !== 'left' && n.source !== 'right') throw new Error(`scan backend: the combine reads ${n.source} \`${n.tensor}\``);
      return member(id(n.source === 'left' ? 'l' : 'r'), memberOf(ctx, n.tensor, values));
    },
    ctx.sizes,
    'v',
  );
  const cValues = perMember(
    ctx,
    plan.combine.filter((d) => d.kind !== 'let'),
    cEv,
    undefined,
  );
  const combine: Function = {
    name: 'combine',
    params: [
      { name: 'l', type: ELEM },
      { name: 'r', type: ELEM },
    ],
    returnType: ELEM,
    body: [...finish(ctx, cEv), ret(elem(cValues))],
    comment: 'l then r: the aggregate of two consecutive spans, l the earlier.',
  };

  // What depends on params alone (Mamba's exp(A_log), LRU's lambda and gamma) is computed once per
  // thread by `invariants`, as the sequential kernel hoists it, not at every step.
  const invStmts: Stmt[] = [];
  laneCoords(ctx, invStmts); // the same lane_* names as in `element`, which hoisted expressions use
  const invEv = new DefEvaluator(stepLets(ctx.module), (n, values) => loadInputOrParam(ctx, n, values), ctx.sizes, 'k', { next: 0 }, invStmts);
  const invMembers: Expr[] = [];
  const hoist: NodeHook = (def, nodeId, env) => {
    const n = def.nodes[nodeId]!;
    if (n.dep !== 'param' || n.op === 'const' || n.op === 'load') return undefined;
    invMembers.push(invEv.node(def, nodeId, env));
    return member(id('inv'), `i${invMembers.length - 1}`);
  };
  const eStmts: Stmt[] = [];
  const coords = laneCoords(ctx, eStmts);
  const eEv = new DefEvaluator(
    stepLets(ctx.module),
    (n, values) => {
      if (n.source === 'input' || n.source === 'param') return loadInputOrParam(ctx, n, values);
      throw new Error(`scan backend: an element field reads ${n.source} \`${n.tensor}\``);
    },
    ctx.sizes,
    'v',
    { next: 0 },
    [],
    hoist,
  );
  const eValues = perMember(ctx, plan.fields, eEv, coords);
  ctx.invariants = invMembers.map((_, k) => `i${k}`);
  const element: Function = {
    name: 'element',
    params: [...['b', 't', 's'].map((name) => ({ name, type: u32 })), ...(invMembers.length ? [{ name: 'inv', type: named('Inv') }] : [])],
    returnType: ELEM,
    body: [...eStmts, ...finish(ctx, eEv), ret(elem(eValues))],
    comment: "Step t's element for lane s of sequence b: the state-independent part of the cell (load phase).",
  };
  if (!invMembers.length) return [identity, combine, element];
  invEv.helpers.forEach((h) => ctx.helpers.add(h));
  const invariants: Function = {
    name: 'invariants',
    params: [{ name: 's', type: u32 }],
    returnType: named('Inv'),
    body: [...invStmts, ret(call('Inv', ...invMembers))],
    comment: 'What the elements of lane s compute from params alone, once per thread.',
  };
  return [identity, combine, invariants, element];
}

/** `element(b, t, s[, inv])`: step t's element, with the thread's invariants when the cell has any. */
export const elementCall = (ctx: Ctx): Expr => call('element', id('b'), id('t'), id('s'), ...(ctx.invariants?.length ? [id('inv')] : []));
/** `let inv = invariants(s);` once per thread, where the kernel reads elements. */
export const invariantsLet = (ctx: Ctx): Stmt[] => (ctx.invariants?.length ? [letS('inv', call('invariants', id('s')))] : []);
