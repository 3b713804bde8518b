// What every scan kernel module shares: the kernel and binding names, the uniform block, the
// generation context, and how an element's definitions read inputs, params and lane coordinates.
import type { ScanPlan } from '../../src/compiler/analyse/types.js';
import type { Def, Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import { assign, bin, call, id, index, letS, lit, member, named, varS, type Expr, type Stmt } from '../wgsl/ast.js';
import type { MathHelper } from '../wgsl/math.js';
import { DefEvaluator, offsetExpr, type IndexValue, type LoadNode } from './eval.js';
import type { ScanLayout, TileShape } from './layout.js';

/** The kernels every scan has; `scan_single` (single.ts) comes with the ones that fit it. */
export type StandardKernel = 'scan_steps' | 'reduce_steps' | 'reduce_aggs' | 'scan_aggs';
export type KernelName = StandardKernel | 'scan_single';
export const kernelNames: StandardKernel[] = ['scan_steps', 'reduce_steps', 'reduce_aggs', 'scan_aggs'];

export type Binding = 'uniforms' | 'inputs' | 'params' | 'init' | 'lengths' | 'outputs' | 'final_state' | 'aggs' | 'status';
export const bindingIndex: Record<Binding, number> = { uniforms: 0, inputs: 1, params: 2, init: 3, lengths: 4, outputs: 5, final_state: 6, aggs: 7, status: 8 };

/** Fields of the per-pass uniform block, in order (all u32). */
export const uniformFields = ['T', 'batch', 'groups', 'n', 'block_len', 'blocks', 'in_offset', 'out_offset', 'carry_in', 'min_len', 'spin_limit'] as const;

export const U = (f: (typeof uniformFields)[number]) => member(id('U'), f);
export const ret = (value: Expr): Stmt => ({ kind: 'return', value });
export const ELEM = named('Elem');
export const STATE = named('State');
export const u = (n: number) => lit.u32(n);

export interface Ctx {
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
export function laneCoords(ctx: Ctx, stmts: Stmt[]): Map<string, Expr> {
  const coords = new Map<string, Expr>();
  ctx.layout.laneDims.forEach((d, k) => {
    const name = `lane_${d}`;
    stmts.push(letS(name, bin('%', bin('/', id('s'), u(ctx.layout.laneStrides[k]!)), u(ctx.sizes[d]!))));
    coords.set(d, id(name));
  });
  return coords;
}

export const stepLets = (m: Module) => new Map(m.step.filter((d) => d.kind === 'let').map((d) => [d.target, d]));

/** Index of tensor element `t`'s per-step region in a [batch, T, width] packed buffer. */
export const stepBase = (offset: number, size: number) =>
  bin('+', bin('*', bin('*', U('batch'), U('T')), u(offset)), bin('*', bin('+', bin('*', id('b'), U('T')), id('t')), u(size)));

export function loadInputOrParam(ctx: Ctx, n: LoadNode, values: IndexValue[]): Expr {
  const group = n.source === 'input' ? ctx.layout.inputs : ctx.layout.params;
  const p = group.find((x) => x.tensor.name === n.tensor);
  if (!p) throw new Error(`scan backend: unknown ${n.source} \`${n.tensor}\``);
  if (n.source === 'param') return index(id('params'), offsetExpr(values, p.strides, p.offset));
  return index(id('inputs'), offsetExpr(values, p.strides, stepBase(p.offset, p.size)));
}

export function memberOf(ctx: Ctx, field: string, values: IndexValue[]): string {
  if (ctx.layout.mode === 'lanes') return ctx.layout.members.find((m) => m.field === field)!.name;
  if (values.some((v) => typeof v !== 'number')) throw new Error('scan backend: whole-mode element read at a run-time index');
  const m = ctx.layout.members.find((x) => x.field === field && x.index.every((i, k) => i === values[k]));
  if (!m) throw new Error(`scan backend: no element member for ${field}[${values.join(', ')}]`);
  return m.name;
}

/** Evaluates one definition per element member (lane mode: at the lane's coordinates). */
export function perMember(ctx: Ctx, defs: Def[], ev: DefEvaluator, coords: Map<string, Expr> | undefined): Expr[] {
  return ctx.layout.members.map((m) => {
    const def = defs.find((d) => d.target === m.field);
    if (!def) throw new Error(`scan backend: no definition for field \`${m.field}\``);
    const values: IndexValue[] = ctx.layout.mode === 'lanes' ? def.vars.map((v) => coords?.get(v.dim) ?? 0) : m.index;
    return ev.evaluate(def, values);
  });
}

export function finish(ctx: Ctx, ev: DefEvaluator): Stmt[] {
  ev.helpers.forEach((h) => ctx.helpers.add(h));
  return ev.stmts;
}

export interface KernelSpec {
  name: KernelName;
  /** Elements come from the inputs (steps) or from a level of aggregates. */
  source: 'steps' | 'aggs';
  /** Store every step's state and outputs (steps), every exclusive prefix in place (aggs), or only the block's aggregate. */
  store: boolean;
}

export const specs: Record<KernelName, KernelSpec> = {
  scan_single: { name: 'scan_single', source: 'steps', store: true },
  scan_steps: { name: 'scan_steps', source: 'steps', store: true },
  reduce_steps: { name: 'reduce_steps', source: 'steps', store: false },
  reduce_aggs: { name: 'reduce_aggs', source: 'aggs', store: false },
  scan_aggs: { name: 'scan_aggs', source: 'aggs', store: true },
};

/**
 * A block's loop in trips of `step` steps from `start` to `end`: unguarded while every step of a trip
 * is valid (below `bound`, the shortest length or the block's end: uniform across the workgroup),
 * then guarded. lavapipe turns each guarded load and store into masked, scalarised accesses.
 */
export function tripLoops(step: number, bound: Expr, body: (guarded: boolean) => Stmt[]): Stmt[] {
  const loop = (from: string, to: string, guarded: boolean): Stmt => ({
    kind: 'for',
    init: varS('tile0', undefined, id(from)),
    cond: bin('<', id('tile0'), id(to)),
    update: assign(id('tile0'), u(step), '+='),
    body: body(guarded),
  });
  return [
    letS('full_end', bin('+', id('start'), bin('*', bin('/', bin('-', call('max', call('min', id('end'), bound), id('start')), id('start')), u(step)), u(step)))),
    loop('start', 'full_end', false),
    loop('full_end', 'end', true),
  ];
}
