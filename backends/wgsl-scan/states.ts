// The store phase: states from prefixes (apply), the states a thread walks step by step (State,
// load_state, advance), and the outputs and final states written from them — by the thread that
// holds them (store_step, store_final) or through workgroup memory (store_states, write_output).
import type { Def, Module } from '../../src/compiler/ir/ir.js';
import { assign, bin, call, id, ifS, index, letS, lit, member, u32, type Expr, type Function, type Stmt } from '../wgsl/ast.js';
import { DefEvaluator, offsetExpr, type IndexValue } from './eval.js';
import { safe, type PackedTensor, type ScanLayout } from './layout.js';
import { ret, ELEM, STATE, u, type Ctx, laneCoords, stepLets, stepBase, loadInputOrParam, memberOf, finish } from './kernel.js';

/** Evaluates `apply` (a state from prefix `prefix` and the initial state) into `stmts`. */
export function applyEvaluator(ctx: Ctx, prefix: string, stmts: Stmt[], counter: { next: number }): DefEvaluator {
  // Apply may use the combine's locals (a monoid's state is combine(initial, prefix)): `left` is then the initial state.
  const combineLets = new Map(ctx.plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d]));
  return new DefEvaluator(
    combineLets,
    (n, values) => {
      if (n.source === 'right') return member(id(prefix), memberOf(ctx, n.tensor, values));
      if (n.source === 'state' || n.source === 'left') {
        // A field `h.x` (or a monoid's field named after its state) stands for the state `h`.
        const st = ctx.layout.states.find((x) => x.tensor.name === n.tensor.split('.')[0]);
        if (!st) throw new Error(`scan backend: apply reads \`${n.tensor}\`, not a state`);
        return index(id('init'), offsetExpr(values, st.strides, bin('+', bin('*', id('b'), u(ctx.layout.stateWidth)), u(st.offset))));
      }
      throw new Error(`scan backend: apply reads ${n.source} \`${n.tensor}\``);
    },
    ctx.sizes,
    `${prefix}_`,
    counter,
    stmts,
  );
}

/**
 * Whether each thread can write the outputs of its own steps from the states it holds: always for a
 * whole element; for lanes when every output lies over exactly the lane dims and reads the states at
 * its own coordinates (no reduction over states). Otherwise outputs go through workgroup memory.
 */
export function directOutputs(module: Module, layout: ScanLayout): boolean {
  if (layout.mode === 'whole') return true;
  const lets = stepLets(module);
  const stateDims = new Map(layout.states.map((s) => [s.tensor.name, s.tensor.dims]));
  const readsPointwise = (def: Def, seen: Set<string>): boolean => {
    const dimOfVar = new Map(def.vars.map((v) => [v.name, v.dim]));
    return def.nodes.every((n) => {
      if (n.op === 'reduce') return n.dep !== 'state';
      if (n.op !== 'load') return true;
      if (n.source === 'state') return n.index.every((v, k) => dimOfVar.get(v) === stateDims.get(n.tensor)![k]);
      if (n.source === 'let' && n.dep === 'state' && !seen.has(n.tensor)) {
        const letDef = lets.get(n.tensor);
        return !!letDef && n.index.every((v, k) => dimOfVar.get(v) === letDef.vars[k]!.dim) && readsPointwise(letDef, new Set(seen).add(n.tensor));
      }
      return true;
    });
  };
  return module.step
    .filter((d) => d.kind === 'output')
    .every((d) => {
      const dims = d.vars.map((v) => v.dim);
      return (
        new Set(dims).size === dims.length &&
        dims.length === layout.laneDims.length &&
        dims.every((x) => layout.laneDims.includes(x)) &&
        readsPointwise(d, new Set())
      );
    });
}

/** A member of the `State` struct: one state tensor at the lane's coordinates (lanes), or one state point (whole). */
export interface StateMember {
  name: string;
  state: PackedTensor;
  index: number[];
}

export function stateMembers(ctx: Ctx): StateMember[] {
  const { layout } = ctx;
  return layout.states.flatMap((st) => {
    if (layout.mode === 'lanes') return [{ name: safe(st.tensor.name), state: st, index: [] }];
    return Array.from({ length: st.size }, (_, flat) => {
      const index = st.tensor.dims.map((d, k) => Math.floor(flat / st.strides[k]!) % ctx.sizes[d]!);
      return { name: `${safe(st.tensor.name)}${index.map((i) => `_${i}`).join('')}`, state: st, index };
    });
  });
}

/** The State member a load of state `tensor` (a field `h.x` stands for the state `h`) at `values` reads. */
export function stateMemberOf(ctx: Ctx, tensor: string, values: IndexValue[]): string {
  const name = tensor.split('.')[0]!;
  const m = stateMembers(ctx).find((x) => x.state.tensor.name === name && (ctx.layout.mode === 'lanes' || x.index.every((i, k) => i === values[k])));
  if (!m) throw new Error(`scan backend: \`${tensor}\` is not a state point this thread holds`);
  return m.name;
}

/** Binds each state member's apply/output definition: lanes at the lane's coordinates, whole elements at the member's point. */
export const statePoint = (ctx: Ctx, m: StateMember, coords: Map<string, Expr>): IndexValue[] =>
  ctx.layout.mode === 'lanes' ? m.state.tensor.dims.map((d) => coords.get(d)!) : m.index;

/** `load_state(b, s)`: this thread's initial states. */
export function loadStateFunction(ctx: Ctx): Function {
  const stmts: Stmt[] = [];
  const coords = laneCoords(ctx, stmts);
  const values = stateMembers(ctx).map((m) =>
    index(id('init'), offsetExpr(statePoint(ctx, m, coords), m.state.strides, bin('+', bin('*', id('b'), u(ctx.layout.stateWidth)), u(m.state.offset)))),
  );
  return {
    name: 'load_state',
    params: ['b', 's'].map((name) => ({ name, type: u32 })),
    returnType: STATE,
    body: [...stmts, ret(call('State', ...values))],
    comment: "This thread's initial states.",
  };
}

/**
 * `advance(h, e)`: the states after the span whose aggregate is e, from the states h before it (the
 * plan's apply with h in place of the initial state; apply(p ⊕ e, h0) = apply(e, apply(p, h0))). The
 * store phase walks the states with it, one step at a time, like the sequential kernel: cheaper than
 * combining prefixes (a dense transition: a matrix-vector product, not a matrix product), and no
 * reads of the initial states per step.
 */
export function advanceFunction(ctx: Ctx): Function {
  const stmts: Stmt[] = [];
  const combineLets = new Map(ctx.plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d]));
  const ev = new DefEvaluator(
    combineLets,
    (n, values) => {
      if (n.source === 'right') return member(id('e'), memberOf(ctx, n.tensor, values));
      if (n.source === 'state' || n.source === 'left') return member(id('h'), stateMemberOf(ctx, n.tensor, values));
      throw new Error(`scan backend: apply reads ${n.source} \`${n.tensor}\``);
    },
    ctx.sizes,
    'v',
    { next: 0 },
    stmts,
  );
  // Lane coordinates only index loads, and every load here names a struct member: bind them to 0.
  const zeros = new Map(ctx.layout.laneDims.map((d) => [d, lit.u32(0) as Expr]));
  const values = stateMembers(ctx).map((m) => {
    const def = ctx.plan.apply.find((d) => d.target === m.state.tensor.name);
    if (!def) throw new Error(`scan backend: no apply definition for state \`${m.state.tensor.name}\``);
    return ev.evaluate(def, statePoint(ctx, m, zeros));
  });
  return {
    name: 'advance',
    params: [
      { name: 'h', type: STATE },
      { name: 'e', type: ELEM },
    ],
    returnType: STATE,
    body: [...finish(ctx, ev), ret(call('State', ...values))],
    comment: 'The states after a span with aggregate e, from the states h before it.',
  };
}

/** `store_step(prev, h, b, s, t, len)`: the outputs of step t that this thread owns, from the states after it (h) and before it (prev). */
export function storeStepFunction(ctx: Ctx): Function {
  const { layout } = ctx;
  const monoid = ctx.module.monoid !== undefined;
  const stmts: Stmt[] = [];
  const coords = laneCoords(ctx, stmts);
  const ev = new DefEvaluator(
    stepLets(ctx.module),
    (n, values) => {
      if (n.source === 'input' || n.source === 'param') return loadInputOrParam(ctx, n, values);
      // A monoid cell's state is its running aggregate: outputs read it after this step's element.
      if (n.source === 'state') return member(id(n.version === 'new' || monoid ? 'h' : 'prev'), stateMemberOf(ctx, n.tensor, values));
      throw new Error(`scan backend: an output reads ${n.source} \`${n.tensor}\``);
    },
    ctx.sizes,
    'o_',
    { next: 0 },
    stmts,
  );
  const writes: Stmt[] = [];
  for (const out of layout.outputs) {
    const def = ctx.module.step.find((d) => d.kind === 'output' && d.target === out.tensor.name)!;
    const points: IndexValue[][] = [];
    if (layout.mode === 'lanes') points.push(def.vars.map((v) => coords.get(v.dim)!));
    else for (let flat = 0; flat < out.size; flat++) points.push(def.vars.map((v, k) => Math.floor(flat / out.strides[k]!) % ctx.sizes[v.dim]!));
    for (const point of points) {
      const value = ev.evaluate(def, point);
      writes.push(
        assign(
          index(id('outputs'), offsetExpr(point, out.strides, stepBase(out.offset, out.size))),
          call('select', value, lit.f32(0), bin('>=', id('t'), id('len'))),
        ),
      );
    }
  }
  ev.helpers.forEach((h) => ctx.helpers.add(h));
  return {
    name: 'store_step',
    params: [{ name: 'prev', type: STATE }, { name: 'h', type: STATE }, ...['b', 's', 't', 'len'].map((n) => ({ name: n, type: u32 }))],
    body: [...stmts, ...writes],
    comment: "Store phase: this thread's outputs of step t from the states after it (h) and before it (prev); zero past the sequence length.",
  };
}

/** `store_final(h, b, s, base)`: the final states, each value written by one owner lane. */
export function storeFinalFunction(ctx: Ctx): Function {
  const stmts: Stmt[] = [];
  const coords = laneCoords(ctx, stmts);
  const body = stateMembers(ctx).map((m) => {
    const point = statePoint(ctx, m, coords);
    const write = assign(index(id('final_state'), offsetExpr(point, m.state.strides, bin('+', id('base'), u(m.state.offset)))), member(id('h'), m.name));
    // A state over fewer dims than the lanes is written by the lanes at coordinate 0 of the others.
    const others = ctx.layout.mode === 'lanes' ? ctx.layout.laneDims.filter((d) => !m.state.tensor.dims.includes(d)) : [];
    const owner = others.map((d) => bin('==', coords.get(d)!, u(0))).reduce<Expr | undefined>((a, c) => (a ? bin('&&', a, c) : c), undefined);
    return owner ? ifS(owner, [write]) : write;
  });
  return {
    name: 'store_final',
    params: [{ name: 'h', type: STATE }, ...['b', 's', 'base'].map((n) => ({ name: n, type: u32 }))],
    body: [...stmts, ...body],
    comment: 'The final states.',
  };
}

/** `store_states(p, b, s, base)`: the states after prefix p, written at `base` (workgroup memory or the final-state buffer); each value by one owner lane. */
export function applyFunction(ctx: Ctx, name: string, target: 'st' | 'final_state'): Function {
  const stmts: Stmt[] = [];
  const coords = laneCoords(ctx, stmts);
  const ev = applyEvaluator(ctx, 'p', stmts, { next: 0 });
  const body: Stmt[] = [];
  for (const st of ctx.layout.states) {
    const def = ctx.plan.apply.find((d) => d.target === st.tensor.name);
    if (!def) throw new Error(`scan backend: no apply definition for state \`${st.tensor.name}\``);
    const points: IndexValue[][] = [];
    if (ctx.layout.mode === 'lanes') points.push(st.tensor.dims.map((d) => coords.get(d)!));
    else for (let flat = 0; flat < st.size; flat++) points.push(st.tensor.dims.map((d, k) => Math.floor(flat / st.strides[k]!) % ctx.sizes[d]!));
    for (const point of points) {
      const value = ev.evaluate({ ...def, vars: def.vars }, point);
      const write = assign(index(id(target), offsetExpr(point, st.strides, bin('+', id('base'), u(st.offset)))), value);
      // A state over fewer dims than the lanes is written by the lanes at coordinate 0 of the others.
      const others = ctx.layout.laneDims.filter((d) => !st.tensor.dims.includes(d));
      const owner = others.map((d) => bin('==', coords.get(d)!, u(0))).reduce<Expr | undefined>((a, c) => (a ? bin('&&', a, c) : c), undefined);
      body.push(owner ? ifS(owner, [write]) : write);
    }
  }
  return {
    name,
    params: [{ name: 'p', type: ELEM }, ...['b', 's', 'base'].map((n) => ({ name: n, type: u32 }))],
    body: [...finish(ctx, ev), ...body],
    comment: target === 'st' ? 'The states after prefix p, into workgroup memory (store phase).' : 'The final states after prefix p.',
  };
}

/** `write_output(b, t, slot, k, len)`: output element k (over all outputs of a step) at step t, from the states in workgroup memory. */
export function outputFunction(ctx: Ctx): Function {
  const { layout } = ctx;
  const monoid = ctx.module.monoid !== undefined;
  const body: Stmt[] = [];
  const counter = { next: 0 };
  for (const out of layout.outputs) {
    const def = ctx.module.step.find((d) => d.kind === 'output' && d.target === out.tensor.name)!;
    const stmts: Stmt[] = [letS('q', bin('-', id('k'), u(out.offset)))];
    const coords: Expr[] = def.vars.map((v, k) => {
      const name = `o_${v.name}`;
      stmts.push(letS(name, bin('%', bin('/', id('q'), u(out.strides[k]!)), u(ctx.sizes[v.dim]!))));
      return id(name);
    });
    const ev = new DefEvaluator(
      stepLets(ctx.module),
      (n, values) => {
        if (n.source === 'input' || n.source === 'param') return loadInputOrParam(ctx, n, values);
        if (n.source === 'state') {
          const st = layout.states.find((x) => x.tensor.name === n.tensor)!;
          // A monoid cell's state is its running aggregate: outputs read it after this step's element.
          const slot = n.version === 'new' || monoid ? bin('+', id('slot'), u(1)) : id('slot');
          return index(id('st'), offsetExpr(values, st.strides, bin('+', bin('*', slot, u(layout.stateWidth)), u(st.offset))));
        }
        throw new Error(`scan backend: an output reads ${n.source} \`${n.tensor}\``);
      },
      ctx.sizes,
      'v',
      counter,
    );
    const value = ev.evaluate(def, coords);
    stmts.push(...finish(ctx, ev));
    const at = bin('+', stepBase(out.offset, out.size), id('q'));
    stmts.push(assign(index(id('outputs'), at), call('select', value, lit.f32(0), bin('>=', id('t'), id('len')))));
    stmts.push({ kind: 'return' });
    body.push(ifS(bin('<', id('k'), u(out.offset + out.size)), stmts));
  }
  return {
    name: 'write_output',
    params: ['b', 't', 'slot', 'k', 'len'].map((name) => ({ name, type: u32 })),
    body,
    comment: 'Output element k of step t (store phase); zero past the sequence length.',
  };
}
