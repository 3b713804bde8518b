// The scan kernels, as WGSL modules. One tile-scan skeleton serves four entry points:
//   scan_steps    load elements from the inputs, scan, store states and outputs (optionally carrying in a prefix per block)
//   reduce_steps  load elements from the inputs, write one aggregate per block
//   reduce_aggs   aggregates of one level to aggregates of the next
//   scan_aggs     exclusive scan of one level of aggregates in place (optionally carrying in the level above)
// A workgroup holds G sequences × S lanes × P runs; each thread scans R steps in registers, the P runs
// of a lane are combined with subgroup shuffles (or in workgroup memory), and the tile's total is
// carried to the next tile of the same block.
import type { ScanPlan } from '../../src/analyse/types.js';
import type { Def, Module } from '../../src/ir/ir.js';
import type { DimSizes } from '../../src/ir/dims.js';
import {
  arrayOf,
  assign,
  bin,
  blank,
  call,
  callS,
  comment,
  emptyModule,
  f32,
  forRange,
  id,
  ifS,
  index,
  letS,
  lit,
  member,
  named,
  u32,
  varS,
  type Expr,
  type Function,
  type Global,
  type Module as WgslModule,
  type Stmt,
} from '../wgsl/ast.js';
import { mathPrelude, type MathHelper } from '../wgsl/math.js';
import { printModule } from '../wgsl/print.js';
import { DefEvaluator, offsetExpr, type IndexValue, type LoadNode, type NodeHook } from './eval.js';
import { safe, sharedFloatsOf, threadsOf, tileSteps, type PackedTensor, type ScanLayout, type TileShape } from './layout.js';

export type KernelName = 'scan_steps' | 'reduce_steps' | 'reduce_aggs' | 'scan_aggs';
export const kernelNames: KernelName[] = ['scan_steps', 'reduce_steps', 'reduce_aggs', 'scan_aggs'];

export type Binding = 'uniforms' | 'inputs' | 'params' | 'init' | 'lengths' | 'outputs' | 'final_state' | 'aggs';
export const bindingIndex: Record<Binding, number> = { uniforms: 0, inputs: 1, params: 2, init: 3, lengths: 4, outputs: 5, final_state: 6, aggs: 7 };

/** Fields of the per-pass uniform block, in order (all u32). */
export const uniformFields = ['T', 'batch', 'groups', 'n', 'block_len', 'blocks', 'in_offset', 'out_offset', 'carry_in', 'min_len'] as const;

export interface ScanKernel {
  name: KernelName;
  code: string;
  bindings: Binding[];
}

export interface EmitOptions {
  /** Combine a lane's runs with subgroup shuffles (needs the `subgroups` feature) instead of workgroup memory. */
  subgroups: boolean;
  /** Force outputs through workgroup memory (false) or per thread (true, only where directOutputs allows). */
  direct?: boolean;
}

const globalName: Record<Binding, string> = { uniforms: 'U', inputs: 'inputs', params: 'params', init: 'init', lengths: 'lengths', outputs: 'outputs', final_state: 'final_state', aggs: 'aggs' };

const U = (f: (typeof uniformFields)[number]) => member(id('U'), f);
const ret = (value: Expr): Stmt => ({ kind: 'return', value });
const ELEM = named('Elem');
const STATE = named('State');
const u = (n: number) => lit.u32(n);

interface Ctx {
  module: Module;
  plan: ScanPlan;
  layout: ScanLayout;
  tile: TileShape;
  sizes: DimSizes;
  helpers: Set<MathHelper>;
  /** Outputs written by the thread that holds the states (see directOutputs), not through workgroup memory. */
  direct: boolean;
  /** Members of the `Inv` struct (hoisted param-only values), set once `element` is built. */
  invariants?: string[];
}

/** Lane coordinates of lane `s` as run-time expressions, by dim. */
function laneCoords(ctx: Ctx, stmts: Stmt[]): Map<string, Expr> {
  const coords = new Map<string, Expr>();
  ctx.layout.laneDims.forEach((d, k) => {
    const name = `lane_${d}`;
    stmts.push(letS(name, bin('%', bin('/', id('s'), u(ctx.layout.laneStrides[k]!)), u(ctx.sizes[d]!))));
    coords.set(d, id(name));
  });
  return coords;
}

const stepLets = (m: Module) => new Map(m.step.filter((d) => d.kind === 'let').map((d) => [d.target, d]));

/** Index of tensor element `t`'s per-step region in a [batch, T, width] packed buffer. */
const stepBase = (offset: number, size: number) => bin('+', bin('*', bin('*', U('batch'), U('T')), u(offset)), bin('*', bin('+', bin('*', id('b'), U('T')), id('t')), u(size)));

function loadInputOrParam(ctx: Ctx, n: LoadNode, values: IndexValue[]): Expr {
  const group = n.source === 'input' ? ctx.layout.inputs : ctx.layout.params;
  const p = group.find((x) => x.tensor.name === n.tensor);
  if (!p) throw new Error(`scan backend: unknown ${n.source} \`${n.tensor}\``);
  if (n.source === 'param') return index(id('params'), offsetExpr(values, p.strides, p.offset));
  return index(id('inputs'), offsetExpr(values, p.strides, stepBase(p.offset, p.size)));
}

function memberOf(ctx: Ctx, field: string, values: IndexValue[]): string {
  if (ctx.layout.mode === 'lanes') return ctx.layout.members.find((m) => m.field === field)!.name;
  if (values.some((v) => typeof v !== 'number')) throw new Error('scan backend: whole-mode element read at a run-time index');
  const m = ctx.layout.members.find((x) => x.field === field && x.index.every((i, k) => i === values[k]));
  if (!m) throw new Error(`scan backend: no element member for ${field}[${values.join(', ')}]`);
  return m.name;
}

/** Evaluates one definition per element member (lane mode: at the lane's coordinates). */
function perMember(ctx: Ctx, defs: Def[], ev: DefEvaluator, coords: Map<string, Expr> | undefined): Expr[] {
  return ctx.layout.members.map((m) => {
    const def = defs.find((d) => d.target === m.field);
    if (!def) throw new Error(`scan backend: no definition for field \`${m.field}\``);
    const values: IndexValue[] = ctx.layout.mode === 'lanes' ? def.vars.map((v) => coords?.get(v.dim) ?? 0) : m.index;
    return ev.evaluate(def, values);
  });
}

function finish(ctx: Ctx, ev: DefEvaluator): Stmt[] {
  ev.helpers.forEach((h) => ctx.helpers.add(h));
  return ev.stmts;
}

function elementFunctions(ctx: Ctx): Function[] {
  const { plan } = ctx;
  const elem = (values: Expr[]) => call('Elem', ...values);

  const idEv = new DefEvaluator(new Map(), () => {
    throw new Error('scan backend: the identity must be constant');
  }, ctx.sizes, 'v');
  const idValues = perMember(ctx, plan.identity, idEv, undefined);
  const identity: Function = { name: 'identity', params: [], returnType: ELEM, body: [...finish(ctx, idEv), ret(elem(idValues))], comment: 'The identity element: a masked or padding step.' };

  const combineLets = new Map(plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d]));
  const cEv = new DefEvaluator(combineLets, (n, values) => {
    if (n.source !== 'left' && n.source !== 'right') throw new Error(`scan backend: the combine reads ${n.source} \`${n.tensor}\``);
    return member(id(n.source === 'left' ? 'l' : 'r'), memberOf(ctx, n.tensor, values));
  }, ctx.sizes, 'v');
  const cValues = perMember(ctx, plan.combine.filter((d) => d.kind !== 'let'), cEv, undefined);
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
    comment: "What the elements of lane s compute from params alone, once per thread.",
  };
  return [identity, combine, invariants, element];
}

/** Evaluates `apply` (a state from prefix `prefix` and the initial state) into `stmts`. */
function applyEvaluator(ctx: Ctx, prefix: string, stmts: Stmt[], counter: { next: number }): DefEvaluator {
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
      return new Set(dims).size === dims.length && dims.length === layout.laneDims.length && dims.every((x) => layout.laneDims.includes(x)) && readsPointwise(d, new Set());
    });
}

/** A member of the `State` struct: one state tensor at the lane's coordinates (lanes), or one state point (whole). */
interface StateMember {
  name: string;
  state: PackedTensor;
  index: number[];
}

function stateMembers(ctx: Ctx): StateMember[] {
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
function stateMemberOf(ctx: Ctx, tensor: string, values: IndexValue[]): string {
  const name = tensor.split('.')[0]!;
  const m = stateMembers(ctx).find((x) => x.state.tensor.name === name && (ctx.layout.mode === 'lanes' || x.index.every((i, k) => i === values[k])));
  if (!m) throw new Error(`scan backend: \`${tensor}\` is not a state point this thread holds`);
  return m.name;
}

/** Binds each state member's apply/output definition: lanes at the lane's coordinates, whole elements at the member's point. */
const statePoint = (ctx: Ctx, m: StateMember, coords: Map<string, Expr>): IndexValue[] => (ctx.layout.mode === 'lanes' ? m.state.tensor.dims.map((d) => coords.get(d)!) : m.index);

/** `load_state(b, s)`: this thread's initial states. */
function loadStateFunction(ctx: Ctx): Function {
  const stmts: Stmt[] = [];
  const coords = laneCoords(ctx, stmts);
  const values = stateMembers(ctx).map((m) => index(id('init'), offsetExpr(statePoint(ctx, m, coords), m.state.strides, bin('+', bin('*', id('b'), u(ctx.layout.stateWidth)), u(m.state.offset)))));
  return { name: 'load_state', params: ['b', 's'].map((name) => ({ name, type: u32 })), returnType: STATE, body: [...stmts, ret(call('State', ...values))], comment: "This thread's initial states." };
}

/**
 * `advance(h, e)`: the states after the span whose aggregate is e, from the states h before it (the
 * plan's apply with h in place of the initial state; apply(p ⊕ e, h0) = apply(e, apply(p, h0))). The
 * store phase walks the states with it, one step at a time, like the sequential kernel: cheaper than
 * combining prefixes (a dense transition: a matrix-vector product, not a matrix product), and no
 * reads of the initial states per step.
 */
function advanceFunction(ctx: Ctx): Function {
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
function storeStepFunction(ctx: Ctx): Function {
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
      writes.push(assign(index(id('outputs'), offsetExpr(point, out.strides, stepBase(out.offset, out.size))), call('select', value, lit.f32(0), bin('>=', id('t'), id('len')))));
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
function storeFinalFunction(ctx: Ctx): Function {
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
  return { name: 'store_final', params: [{ name: 'h', type: STATE }, ...['b', 's', 'base'].map((n) => ({ name: n, type: u32 }))], body: [...stmts, ...body], comment: 'The final states.' };
}

/** `store_states(p, b, s, base)`: the states after prefix p, written at `base` (workgroup memory or the final-state buffer); each value by one owner lane. */
function applyFunction(ctx: Ctx, name: string, target: 'st' | 'final_state'): Function {
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
    params: [
      { name: 'p', type: ELEM },
      ...['b', 's', 'base'].map((n) => ({ name: n, type: u32 })),
    ],
    body: [...finish(ctx, ev), ...body],
    comment: target === 'st' ? 'The states after prefix p, into workgroup memory (store phase).' : 'The final states after prefix p.',
  };
}

/** `write_output(b, t, slot, k, len)`: output element k (over all outputs of a step) at step t, from the states in workgroup memory. */
function outputFunction(ctx: Ctx): Function {
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
    const ev = new DefEvaluator(stepLets(ctx.module), (n, values) => {
      if (n.source === 'input' || n.source === 'param') return loadInputOrParam(ctx, n, values);
      if (n.source === 'state') {
        const st = layout.states.find((x) => x.tensor.name === n.tensor)!;
        // A monoid cell's state is its running aggregate: outputs read it after this step's element.
        const slot = n.version === 'new' || monoid ? bin('+', id('slot'), u(1)) : id('slot');
        return index(id('st'), offsetExpr(values, st.strides, bin('+', bin('*', slot, u(layout.stateWidth)), u(st.offset))));
      }
      throw new Error(`scan backend: an output reads ${n.source} \`${n.tensor}\``);
    }, ctx.sizes, 'v', counter);
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

/**
 * Exclusive scan of each lane's run aggregates, and the lane's total. Threads are numbered run-major
 * (tid = c·L + lane), so that neighbouring invocations read neighbouring lanes of the same step.
 * With subgroups, the runs of a lane that share a subgroup (L < subgroup size) are first scanned
 * with shuffles; then one thread per lane rakes the segment totals in workgroup memory, in run order.
 * Without subgroups every run is its own segment. Three barriers, whatever P.
 */
function laneScanFunction(ctx: Ctx, subgroups: boolean): Function {
  const P = ctx.tile.runs;
  const L = ctx.tile.groups * ctx.layout.lanes;
  const shuffle = (v: Expr, delta: Expr) => call('Elem', ...ctx.layout.members.map((m) => call('subgroupShuffleUp', member(v, m.name), delta)));
  const params = [
    { name: 'agg', type: ELEM },
    { name: 'tid', type: u32 },
    { name: 'c', type: u32 },
    { name: 'lane', type: u32 },
    ...(subgroups ? [{ name: 'sg_id', type: u32 }, { name: 'sg_size', type: u32 }] : []),
  ];
  const at = (run: Expr) => index(id('scratch'), bin('+', bin('*', run, u(L)), id('lane')));
  const segEnd = (run: Expr, sgId: Expr): Expr => (subgroups ? bin('||', bin('>=', bin('+', sgId, u(L)), id('sg_size')), bin('==', run, u(P - 1))) : lit.bool(true));
  const body: Stmt[] = [];
  if (subgroups) {
    body.push(
      comment('Inclusive scan over the runs of this lane within the subgroup (invocations are numbered consecutively in subgroups).'),
      varS('v', undefined, id('agg')),
      {
        kind: 'for',
        init: varS('d', undefined, u(L)),
        cond: bin('<', id('d'), id('sg_size')),
        update: assign(id('d'), bin('*', id('d'), u(2))),
        body: [letS('up', shuffle(id('v'), id('d'))), ifS(bin('>=', id('sg_id'), id('d')), [assign(id('v'), call('combine', id('up'), id('v')))])],
      },
      letS('prev', shuffle(id('v'), u(L))),
      varS('in_seg', undefined, call('identity')),
      ifS(bin('>=', id('sg_id'), u(L)), [assign(id('in_seg'), id('prev'))]),
      ifS(segEnd(id('c'), id('sg_id')), [assign(at(id('c')), id('v'))]),
    );
  } else body.push(assign(at(id('c')), id('agg')));
  // The raking thread of each lane knows where segments end from the run's position in its subgroup.
  const rakeSgId = bin('%', bin('+', bin('*', id('k'), u(L)), id('lane')), id('sg_size'));
  body.push(
    callS('workgroupBarrier'),
    ifS(bin('==', id('c'), u(0)), [
      varS('running', undefined, call('identity')),
      forRange('k', u(0), u(P), [
        letS('seg_total', at(id('k'))),
        assign(at(id('k')), id('running')),
        ...(subgroups ? [ifS(segEnd(id('k'), rakeSgId), [assign(id('running'), call('combine', id('running'), id('seg_total')))])] : [assign(id('running'), call('combine', id('running'), id('seg_total')))]),
      ]),
      assign(index(id('lane_total'), id('lane')), id('running')),
    ]),
    callS('workgroupBarrier'),
    letS('before', at(id('c'))),
    letS('total', index(id('lane_total'), id('lane'))),
    callS('workgroupBarrier'),
    ret(call('LaneScan', subgroups ? call('combine', id('before'), id('in_seg')) : id('before'), id('total'))),
  );
  return { name: 'lane_scan', params, returnType: named('LaneScan'), body, comment: `Across the ${P} runs of each of the ${L} lanes: the exclusive prefix of this run and the lane's total.` };
}

interface KernelSpec {
  name: KernelName;
  /** Elements come from the inputs (steps) or from a level of aggregates. */
  source: 'steps' | 'aggs';
  /** Store every step's state and outputs (steps), every exclusive prefix in place (aggs), or only the block's aggregate. */
  store: boolean;
}

const specs: Record<KernelName, KernelSpec> = {
  scan_steps: { name: 'scan_steps', source: 'steps', store: true },
  reduce_steps: { name: 'reduce_steps', source: 'steps', store: false },
  reduce_aggs: { name: 'reduce_aggs', source: 'aggs', store: false },
  scan_aggs: { name: 'scan_aggs', source: 'aggs', store: true },
};

function kernelBindings(spec: KernelSpec): Binding[] {
  if (spec.source === 'aggs') return ['uniforms', 'aggs'];
  if (!spec.store) return ['uniforms', 'inputs', 'params', 'lengths', 'aggs'];
  return ['uniforms', 'inputs', 'params', 'init', 'lengths', 'outputs', 'final_state', 'aggs'];
}

function globalsFor(ctx: Ctx, bindings: Binding[], spec: KernelSpec, subgroups: boolean): Global[] {
  const f32s = arrayOf(f32);
  const decl: Record<Binding, Global> = {
    uniforms: { name: 'U', space: 'uniform', type: named('Uniforms'), group: 0, binding: 0 },
    inputs: { name: 'inputs', space: 'storage', access: 'read', type: f32s, group: 0, binding: 1, comment: 'Every input, [batch, T, ...dims] each, one after another.' },
    params: { name: 'params', space: 'storage', access: 'read', type: f32s, group: 0, binding: 2 },
    init: { name: 'init', space: 'storage', access: 'read', type: f32s, group: 0, binding: 3, comment: 'Initial states, [batch, state floats].' },
    lengths: { name: 'lengths', space: 'storage', access: 'read', type: arrayOf(u32), group: 0, binding: 4 },
    outputs: { name: 'outputs', space: 'storage', access: 'read_write', type: f32s, group: 0, binding: 5 },
    final_state: { name: 'final_state', space: 'storage', access: 'read_write', type: f32s, group: 0, binding: 6 },
    aggs: { name: 'aggs', space: 'storage', access: 'read_write', type: arrayOf(ELEM), group: 0, binding: 7, comment: 'Block aggregates, one region per level: [batch, lanes, blocks].' },
  };
  const globals = bindings.map((b) => decl[b]);
  const { tile, layout } = ctx;
  if (spec.source === 'steps' && spec.store && !ctx.direct) {
    globals.push({ name: 'st', space: 'workgroup', type: arrayOf(f32, tile.groups * (tileSteps(tile) + 1) * layout.stateWidth), comment: 'States of every step of the tile, slot 0 the state before it: [groups, TILE + 1, state floats].' });
  }
  if (tile.runs > 1) globals.push({ name: 'scratch', space: 'workgroup', type: arrayOf(ELEM, threadsOf(tile, layout)), comment: 'Run aggregates, then the prefix before each run: [runs, lanes].' });
  if (tile.runs > 1) globals.push({ name: 'lane_total', space: 'workgroup', type: arrayOf(ELEM, tile.groups * layout.lanes) });
  return globals;
}

function entryPoint(ctx: Ctx, spec: KernelSpec, subgroups: boolean) {
  const { tile, layout } = ctx;
  const S = layout.lanes;
  const P = tile.runs;
  const R = tile.runLength;
  const TILE = tileSteps(tile);
  const G = tile.groups;
  const threads = threadsOf(tile, layout);
  const steps = spec.source === 'steps';
  const laneIndex = bin('+', bin('*', id('b'), u(S)), id('s'));
  const aggAt = (offset: Expr, count: Expr, i: Expr) => index(id('aggs'), bin('+', bin('+', offset, bin('*', laneIndex, count)), i));

  // The stripe split's passes over the aggregates are the thread split's (stripeEntryPoint does the steps).
  const perThread = tile.split !== 'tile';
  const wgIndex = [
    comment('Workgroups are numbered across a 2-D grid so that any count fits (65,535 per dimension).'),
    letS('wg', bin('+', member(id('wid'), 'x'), bin('*', member(id('wid'), 'y'), member(id('nwg'), 'x')))),
  ];
  const body: Stmt[] = perThread
    ? [
        letS('tid', member(id('lid'), 'x')),
        ...wgIndex,
        comment('Invocations take (sequence, lane, block), block fastest: neighbours walk neighbouring blocks of one lane.'),
        letS('gid', bin('+', bin('*', id('wg'), u(threads)), id('tid'))),
        ifS(bin('>=', id('gid'), bin('*', bin('*', U('batch'), u(S)), U('blocks'))), [{ kind: 'return' }]),
        letS('blk', bin('%', id('gid'), U('blocks'))),
        letS('seq_lane', bin('/', id('gid'), U('blocks'))),
        letS('s', bin('%', id('seq_lane'), u(S))),
        letS('b', bin('/', id('seq_lane'), u(S))),
      ]
    : [
        letS('tid', member(id('lid'), 'x')),
        // Run-major: neighbouring invocations take neighbouring lanes of the same steps.
        letS('c', bin('/', id('tid'), u(G * S))),
        letS('lane', bin('%', id('tid'), u(G * S))),
        letS('g', bin('/', id('lane'), u(S))),
        letS('s', bin('%', id('lane'), u(S))),
        ...wgIndex,
        ifS(bin('>=', id('wg'), bin('*', U('groups'), U('blocks'))), [{ kind: 'return' }]),
        letS('grp', bin('/', id('wg'), U('blocks'))),
        letS('blk', bin('%', id('wg'), U('blocks'))),
        letS('live', bin('<', bin('+', bin('*', id('grp'), u(G)), id('g')), U('batch'))),
        letS('b', call('min', bin('+', bin('*', id('grp'), u(G)), id('g')), bin('-', U('batch'), u(1)))),
      ];
  if (steps) body.push(...invariantsLet(ctx));
  body.push(letS('count', steps ? U('T') : U('n')), letS('start', bin('*', id('blk'), U('block_len'))), letS('end', call('min', bin('+', id('start'), U('block_len')), id('count'))));
  // Threads past the batch (only with the 'tile' split) compute a clamped copy of the last sequence with length 0.
  const lenOf = steps ? call('min', index(id('lengths'), id('b')), U('T')) : id('count');
  body.push(letS('len', perThread ? lenOf : call('select', u(0), lenOf, id('live'))));
  const liveAnd = (cond: Expr): Expr => (perThread ? cond : bin('&&', id('live'), cond));
  body.push(varS('carry', undefined, call('identity')));
  if (spec.store) body.push(ifS(bin('!=', U('carry_in'), u(0)), [assign(id('carry'), aggAt(U('in_offset'), U('blocks'), id('blk')))]));
  // The direct store phase walks the states (see advance): from the carried-in prefix with one run
  // per lane, else from each run's prefix.
  const walk = steps && spec.store && ctx.direct;
  const oneRun = P === 1 && spec.store;
  if (walk) body.push(letS('h0', call('load_state', id('b'), id('s'))));
  if (walk && oneRun) body.push(varS('h', undefined, call('advance', id('h0'), id('carry'))));

  const t = perThread ? bin('+', id('tile0'), id('r')) : bin('+', bin('+', id('tile0'), bin('*', id('c'), u(R))), id('r'));
  // Aggregates are scanned in place (scan_aggs) or reduced into the next level (reduce_aggs).
  const load = steps ? elementCall(ctx) : aggAt(spec.store ? U('out_offset') : U('in_offset'), U('n'), id('t'));
  // A step's element, or the identity past the block, the sequence's length or the batch. Read twice
  // (reduce, then rescan): the second read hits the cache, and registers stay free for the state.
  // In full tiles (every step of every sequence of the workgroup valid; the bound is uniform) the
  // guards go: lavapipe turns each guarded load and store into masked, scalarised accesses.
  const tileBody = (guarded: boolean): Stmt[] => {
  const elementAt = (into: string): Stmt[] =>
    guarded
      ? [letS('t', t), varS(into, undefined, call('identity')), ifS(bin('&&', bin('<', id('t'), id('end')), bin('<', id('t'), id('len'))), [assign(id(into), load)])]
      : [letS('t', t), letS(into, load)];
  // Unguarded tiles still skip the threads past the batch when a workgroup holds several sequences
  // (they compute a clamped copy of the last sequence, with its length taken as 0).
  const storeIf = (cond: Expr, stmts: Stmt[]): Stmt[] => (guarded ? [ifS(cond, stmts)] : G > 1 ? [ifS(id('live'), stmts)] : stmts);
  // With one run per lane the carry is the run's prefix: scan straight from it, one element per step.
  // Otherwise reduce the run, scan the runs across the workgroup, then rescan the run from its prefix.
  const tileBody: Stmt[] = [];
  if (!oneRun) tileBody.push(varS('agg', undefined, call('identity')), forRange('r', u(0), u(R), [...elementAt('e'), assign(id('agg'), call('combine', id('agg'), id('e')))]));
  if (P > 1) tileBody.push(letS('scan', call('lane_scan', id('agg'), id('tid'), id('c'), id('lane'), ...(subgroups ? [id('sg_id'), id('sg_size')] : []))));
  const slotBase = (slot: Expr) => bin('*', bin('+', bin('*', id('g'), u(TILE + 1)), slot), u(layout.stateWidth));
  const runPrefix = oneRun ? id('carry') : call('combine', id('carry'), member(id('scan'), 'excl'));
  if (walk) {
    if (!oneRun) tileBody.push(varS('h', undefined, call('advance', id('h0'), runPrefix)));
    const perStep: Stmt[] = [...elementAt('e'), letS('prev', id('h')), assign(id('h'), call('advance', id('h'), id('e')))];
    if (layout.outputWidth > 0) perStep.push(...storeIf(liveAnd(bin('<', id('t'), id('end'))), [callS('store_step', id('prev'), id('h'), id('b'), id('s'), id('t'), id('len'))]));
    tileBody.push(forRange('r', u(0), u(R), perStep));
  } else if (spec.store) {
    tileBody.push(varS('p', undefined, runPrefix));
    const viaShared = steps;
    if (viaShared) tileBody.push(ifS(bin('==', id('c'), u(0)), [callS('store_states', id('carry'), id('b'), id('s'), slotBase(u(0)))]));
    const perStep: Stmt[] = elementAt('e');
    if (!steps) perStep.push(...storeIf(liveAnd(bin('<', id('t'), id('end'))), [assign(aggAt(U('out_offset'), U('n'), id('t')), id('p'))]));
    perStep.push(assign(id('p'), call('combine', id('p'), id('e'))));
    if (viaShared) perStep.push(callS('store_states', id('p'), id('b'), id('s'), slotBase(bin('+', bin('+', bin('*', id('c'), u(R)), id('r')), u(1)))));
    tileBody.push(forRange('r', u(0), u(R), perStep));
  }
  // The carry is the prefix through this tile (unused once a single run walks the states).
  if (!(walk && oneRun)) tileBody.push(assign(id('carry'), oneRun ? id('p') : call('combine', id('carry'), P > 1 ? member(id('scan'), 'total') : id('agg'))));
  if (steps && spec.store && !ctx.direct && layout.outputWidth > 0) {
    const OW = layout.outputWidth;
    tileBody.push(
      callS('workgroupBarrier'),
      comment('Store phase: every output element of the tile, spread over the workgroup.'),
      forRange(
        'w',
        id('tid'),
        u(G * TILE * OW),
        [
          letS('og', bin('/', id('w'), u(TILE * OW))),
          letS('tl', bin('%', bin('/', id('w'), u(OW)), u(TILE))),
          letS('ob', bin('+', bin('*', id('grp'), u(G)), id('og'))),
          letS('ot', bin('+', id('tile0'), id('tl'))),
          ifS(bin('&&', bin('<', id('ob'), U('batch')), bin('<', id('ot'), call('min', bin('+', id('start'), U('block_len')), U('T')))), [
            callS('write_output', id('ob'), id('ot'), bin('+', bin('*', id('og'), u(TILE + 1)), id('tl')), bin('%', id('w'), u(OW)), call('min', index(id('lengths'), id('ob')), U('T'))),
          ]),
        ],
        u(threads),
      ),
      callS('workgroupBarrier'),
    );
  } else if (steps && spec.store && !ctx.direct) tileBody.push(callS('workgroupBarrier'));
  return tileBody;
  };
  // Full tiles end where the shortest sequence (U.min_len, uniform) or the block ends; the rest is guarded.
  body.push(letS('full_end', bin('+', id('start'), bin('*', bin('/', bin('-', call('max', call('min', id('end'), steps ? U('min_len') : id('end')), id('start')), id('start')), u(TILE)), u(TILE)))));
  body.push({ kind: 'for', init: varS('tile0', undefined, id('start')), cond: bin('<', id('tile0'), id('full_end')), update: assign(id('tile0'), u(TILE), '+='), body: tileBody(false) });
  body.push({ kind: 'for', init: varS('tile0', undefined, id('full_end')), cond: bin('<', id('tile0'), id('end')), update: assign(id('tile0'), u(TILE), '+='), body: tileBody(true) });

  if (steps && spec.store) {
    const final = walk ? (oneRun ? id('h') : call('advance', id('h0'), id('carry'))) : id('carry');
    body.push(ifS(liveAnd(bin('==', id('blk'), bin('-', U('blocks'), u(1)))), [callS('store_final', final, id('b'), id('s'), bin('*', id('b'), u(layout.stateWidth)))]));
  } else if (!spec.store) {
    const write = assign(aggAt(U('out_offset'), U('blocks'), id('blk')), id('carry'));
    body.push(perThread ? write : ifS(bin('&&', id('live'), bin('==', id('c'), u(0))), [write]));
  }
  const params = [
    { name: 'lid', type: named('vec3<u32>'), attributes: ['builtin(local_invocation_id)'] },
    { name: 'wid', type: named('vec3<u32>'), attributes: ['builtin(workgroup_id)'] },
    { name: 'nwg', type: named('vec3<u32>'), attributes: ['builtin(num_workgroups)'] },
    ...(subgroups
      ? [
          { name: 'sg_id', type: u32, attributes: ['builtin(subgroup_invocation_id)'] },
          { name: 'sg_size', type: u32, attributes: ['builtin(subgroup_size)'] },
        ]
      : []),
  ];
  return { name: spec.name, stage: 'compute' as const, workgroupSize: [threads] as [number], params, body };
}

/** `element(b, t, s[, inv])`: step t's element, with the thread's invariants when the cell has any. */
const elementCall = (ctx: Ctx): Expr => call('element', id('b'), id('t'), id('s'), ...(ctx.invariants?.length ? [id('inv')] : []));
/** `let inv = invariants(s);` once per thread, where the kernel reads elements. */
const invariantsLet = (ctx: Ctx): Stmt[] => (ctx.invariants?.length ? [letS('inv', call('invariants', id('s')))] : []);

/** Member-wise subgroup operation on a struct value (`Elem` or `State`). */
function shuffled(type: 'Elem' | 'State', members: string[], fn: string, v: Expr, arg: Expr): Expr {
  return call(type, ...members.map((m) => call(fn, member(v, m), arg)));
}

/** `team_scan(e, sg_id)`: inclusive scan of the team's elements, lane sg_id holding steps 0..sg_id of the stripe (log2 W shuffles). */
function teamScanFunction(ctx: Ctx): Function {
  const W = ctx.tile.width!;
  const names = ctx.layout.members.map((m) => m.name);
  const body: Stmt[] = [varS('x', undefined, id('e'))];
  for (let d = 1; d < W; d *= 2) {
    // The shuffle runs in every lane (uniform control flow); only lanes with a lane d below combine.
    body.push(letS(`up${d}`, shuffled('Elem', names, 'subgroupShuffleUp', id('x'), u(d))), ifS(bin('>=', id('sg_id'), u(d)), [assign(id('x'), call('combine', id(`up${d}`), id('x')))]));
  }
  body.push(ret(id('x')));
  return {
    name: 'team_scan',
    params: [
      { name: 'e', type: ELEM },
      { name: 'sg_id', type: u32 },
    ],
    returnType: ELEM,
    body,
    comment: `Inclusive scan across the ${W} lanes of a stripe: lane i gets the aggregate of the stripe's steps 0..i.`,
  };
}

/**
 * The 'stripe' split's passes over the steps: a team of W invocations (one subgroup) owns a block
 * of one lane and walks it W consecutive steps at a time, one step per invocation — loads and stores
 * of neighbouring steps side by side — scanning each stripe with subgroup shuffles and carrying the
 * states (scan_steps) or the aggregate (reduce_steps) from one stripe to the next in registers.
 */
function stripeEntryPoint(ctx: Ctx, spec: KernelSpec) {
  const { layout } = ctx;
  const W = ctx.tile.width!;
  const S = layout.lanes;
  const stateNames = stateMembers(ctx).map((m) => m.name);
  const elemNames = layout.members.map((m) => m.name);
  const laneIndex = bin('+', bin('*', id('b'), u(S)), id('s'));
  const aggAt = (offset: Expr, count: Expr, i: Expr) => index(id('aggs'), bin('+', bin('+', offset, bin('*', laneIndex, count)), i));
  const body: Stmt[] = [
    comment('Workgroups are numbered across a 2-D grid so that any count fits (65,535 per dimension).'),
    letS('wg', bin('+', member(id('wid'), 'x'), bin('*', member(id('wid'), 'y'), member(id('nwg'), 'x')))),
    comment(`A workgroup is one team (one subgroup of at least ${W} invocations, numbered as in the workgroup) on one block of one lane.`),
    ifS(bin('>=', id('wg'), bin('*', bin('*', U('batch'), u(S)), U('blocks'))), [{ kind: 'return' }]),
    letS('blk', bin('%', id('wg'), U('blocks'))),
    letS('seq_lane', bin('/', id('wg'), U('blocks'))),
    letS('s', bin('%', id('seq_lane'), u(S))),
    letS('b', bin('/', id('seq_lane'), u(S))),
    letS('start', bin('*', id('blk'), U('block_len'))),
    letS('end', call('min', bin('+', id('start'), U('block_len')), U('T'))),
    letS('len', call('min', index(id('lengths'), id('b')), U('T'))),
    ...invariantsLet(ctx),
    varS('carry', undefined, call('identity')),
  ];
  if (spec.store) {
    body.push(ifS(bin('!=', U('carry_in'), u(0)), [assign(id('carry'), aggAt(U('in_offset'), U('blocks'), id('blk')))]));
    body.push(varS('h', undefined, call('advance', call('load_state', id('b'), id('s')), id('carry'))));
  }
  // One stripe: every lane's step, the team's scan, then the carried states or aggregate.
  const stripe = (guarded: boolean): Stmt[] => {
    const out: Stmt[] = [letS('t', bin('+', id('tile0'), id('sg_id')))];
    if (guarded) out.push(varS('e', undefined, call('identity')), ifS(bin('&&', bin('<', id('t'), id('end')), bin('<', id('t'), id('len'))), [assign(id('e'), elementCall(ctx))]));
    else out.push(letS('e', elementCall(ctx)));
    out.push(letS('x', call('team_scan', id('e'), id('sg_id'))));
    if (spec.store) {
      out.push(letS('hx', call('advance', id('h'), id('x'))));
      if (layout.outputWidth > 0) {
        // The state before this step: the previous lane's, or the carried one in lane 0.
        out.push(varS('prev', undefined, shuffled('State', stateNames, 'subgroupShuffleUp', id('hx'), u(1))), ifS(bin('==', id('sg_id'), u(0)), [assign(id('prev'), id('h'))]));
        const store = callS('store_step', id('prev'), id('hx'), id('b'), id('s'), id('t'), id('len'));
        out.push(guarded ? ifS(bin('<', id('t'), id('end')), [store]) : store);
      }
      out.push(assign(id('h'), shuffled('State', stateNames, 'subgroupShuffle', id('hx'), u(W - 1))));
    } else out.push(assign(id('carry'), call('combine', id('carry'), shuffled('Elem', elemNames, 'subgroupShuffle', id('x'), u(W - 1)))));
    return out;
  };
  // Stripes where every lane's step is valid (below the block's end and the shortest length: a bound uniform across the team) load unguarded.
  body.push(letS('full_end', bin('+', id('start'), bin('*', bin('/', bin('-', call('max', call('min', id('end'), U('min_len')), id('start')), id('start')), u(W)), u(W)))));
  body.push({ kind: 'for', init: varS('tile0', undefined, id('start')), cond: bin('<', id('tile0'), id('full_end')), update: assign(id('tile0'), u(W), '+='), body: stripe(false) });
  body.push({ kind: 'for', init: varS('tile0', undefined, id('full_end')), cond: bin('<', id('tile0'), id('end')), update: assign(id('tile0'), u(W), '+='), body: stripe(true) });
  if (spec.store) body.push(ifS(bin('&&', bin('==', id('sg_id'), u(0)), bin('==', id('blk'), bin('-', U('blocks'), u(1)))), [callS('store_final', id('h'), id('b'), id('s'), bin('*', id('b'), u(layout.stateWidth)))]));
  else body.push(ifS(bin('==', id('sg_id'), u(0)), [assign(aggAt(U('out_offset'), U('blocks'), id('blk')), id('carry'))]));
  const params = [
    { name: 'wid', type: named('vec3<u32>'), attributes: ['builtin(workgroup_id)'] },
    { name: 'nwg', type: named('vec3<u32>'), attributes: ['builtin(num_workgroups)'] },
    { name: 'sg_id', type: u32, attributes: ['builtin(subgroup_invocation_id)'] },
  ];
  return { name: spec.name, stage: 'compute' as const, workgroupSize: [W] as [number], params, body };
}

function header(ctx: Ctx, spec: KernelSpec, subgroups: boolean): string {
  const { tile, layout } = ctx;
  return [
    `${ctx.module.name}: ${spec.name} (generated by rnnc, scan backend)`,
    `element: ${layout.mode === 'lanes' ? `${layout.members.length} floats per lane, lanes over [${layout.laneDims.join(', ')}] (${layout.lanes} per sequence)` : `${layout.members.length} floats per sequence (whole)`}`,
    tile.split === 'stripe' && spec.source === 'steps'
      ? `split: a team of ${tile.width} invocations (one subgroup) walks a block of one lane ${tile.width} steps at a time, scanning each stripe with subgroup shuffles; no barriers`
      : tile.split !== 'tile'
      ? `split: each of ${tile.width} invocations scans its own block of one lane, ${tile.runLength} steps per loop trip; no barriers`
      : `tile: ${tile.groups} sequence(s) x ${layout.lanes} lane(s) x ${tile.runs} runs x ${tile.runLength} steps = ${tileSteps(tile)} steps${tile.runs > 1 ? `; runs combined with ${subgroups ? 'subgroup shuffles' : 'workgroup memory'}` : ''}`,
  ].join('\n');
}

export interface ScanKernels {
  kernels: Record<KernelName, ScanKernel>;
  layout: ScanLayout;
  tile: TileShape;
  subgroups: boolean;
}

export function emitScanKernels(module: Module, plan: ScanPlan, sizes: DimSizes, layout: ScanLayout, tile: TileShape, emitOptions: EmitOptions): ScanKernels {
  const kernels = {} as Record<KernelName, ScanKernel>;
  // Subgroup operations only combine runs across threads: without runs the kernels need no feature.
  const striped = tile.split === 'stripe';
  if (striped && !emitOptions.subgroups) throw new Error(`scan backend: ${module.name}: the 'stripe' split needs subgroups`);
  const options = { ...emitOptions, subgroups: striped || (emitOptions.subgroups && tile.split === 'tile' && tile.runs > 1) };
  const direct = options.direct ?? directOutputs(module, layout);
  if (tile.split !== 'tile' && !direct) throw new Error(`scan backend: ${module.name}: the 'thread' split needs outputs each thread can write itself`);
  for (const name of kernelNames) {
    const spec = specs[name];
    const ctx: Ctx = { module, plan, layout, tile, sizes, helpers: new Set(), direct };
    // `element` and `invariants` read the inputs and params: only the passes over the steps have them.
    const functions = [...elementFunctions(ctx), ...(tile.runs > 1 ? [laneScanFunction(ctx, options.subgroups)] : [])].filter(
      (f) => spec.source === 'steps' || (f.name !== 'element' && f.name !== 'invariants'),
    );
    if (spec.source === 'steps' && spec.store) {
      if (ctx.direct) {
        functions.push(loadStateFunction(ctx), advanceFunction(ctx));
        if (layout.outputWidth > 0) functions.push(storeStepFunction(ctx));
        functions.push(storeFinalFunction(ctx));
      } else {
        functions.push(applyFunction(ctx, 'store_states', 'st'));
        if (layout.outputWidth > 0) functions.push(outputFunction(ctx));
        functions.push(applyFunction(ctx, 'store_final', 'final_state'));
      }
    }
    const stripeSteps = striped && spec.source === 'steps';
    if (stripeSteps) functions.push(teamScanFunction(ctx));
    const prelude = mathPrelude(ctx.helpers);
    const entry = stripeSteps ? stripeEntryPoint(ctx, spec) : entryPoint(ctx, spec, options.subgroups && !striped);
    // With 'auto' pipeline layouts only the bindings the entry point uses exist: declare exactly those.
    const used = printModule({ ...emptyModule(), functions, entryPoints: [entry] });
    const bindings = kernelBindings(spec).filter((b) => new RegExp(`\\b${globalName[b]}\\b`).test(used));
    const wgsl: WgslModule = {
      ...emptyModule(),
      header: header(ctx, spec, options.subgroups),
      enables: options.subgroups && (stripeSteps || !striped) ? ['subgroups'] : [],
      structs: [
        { name: 'Elem', members: layout.members.map((m) => ({ name: m.name, type: f32 })) },
        ...(spec.source === 'steps' && ctx.invariants?.length ? [{ name: 'Inv', members: ctx.invariants.map((name) => ({ name, type: f32 })) }] : []),
        ...(spec.source === 'steps' && spec.store && direct ? [{ name: 'State', members: stateMembers(ctx).map((m) => ({ name: m.name, type: f32 })) }] : []),
        ...(tile.runs > 1 ? [{ name: 'LaneScan', members: [{ name: 'excl', type: ELEM }, { name: 'total', type: ELEM }] }] : []),
        { name: 'Uniforms', members: uniformFields.map((f) => ({ name: f, type: u32 })) },
      ],
      globals: [...globalsFor(ctx, bindings, spec, options.subgroups), ...prelude.globals],
      functions: [...prelude.functions, ...functions],
      entryPoints: [entry],
    };
    kernels[name] = { name, code: printModule(wgsl), bindings };
  }
  return { kernels, layout, tile, subgroups: options.subgroups };
}

export { sharedFloatsOf };
