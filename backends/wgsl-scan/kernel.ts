// What every scan kernel module shares: the kernel and binding names, the uniform block, the
// generation context, and how an element's definitions read inputs, params and lane coordinates.
import type { ScanPlan } from '../../src/compiler/analyse/types.js';
import type { Def, Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import type { SampleRequest } from '../../src/compiler/plan/plan.js';
import { countedLoop } from '../wgsl/unroll-budget.js';
import { arrayOf, assign, bin, call, f32, forRange, id, index, letS, lit, member, named, varS, u32, type Expr, type Function, type Stmt, type Type } from '../wgsl/ast.js';
import type { MathHelper } from '../wgsl/math.js';
import { indexExpr, offsetExpr, type IndexValue, type LoadNode, type Lowerer } from '../lower/expr.js';
import { overPoints, type LoopObserver } from '../lower/points.js';
import { stepPosition, stepRow, timeAxisOf } from '../lower/time.js';
import { blocksOf, paddedLanes, type LaneBlocks, type ScanLayout, type StructField, type TileShape } from './layout.js';

/** The kernels every scan has; `scan_single` (single.ts) and `scan_chained` (chained.ts) come with the ones that fit them. */
export type StandardKernel = 'scan_steps' | 'reduce_steps' | 'reduce_aggs' | 'scan_aggs';
export type KernelName = StandardKernel | 'scan_single' | 'scan_chained';
export const kernelNames: StandardKernel[] = ['scan_steps', 'reduce_steps', 'reduce_aggs', 'scan_aggs'];
/** The kernels of the 'matrix' layout (matrix.ts): every layout has them. */
export type MatrixKernelName = 'scan_steps' | 'reduce_steps' | 'scan_aggs';
export const matrixKernelNames: MatrixKernelName[] = ['reduce_steps', 'scan_aggs', 'scan_steps'];

export type Binding = 'uniforms' | 'inputs' | 'params' | 'init' | 'lengths' | 'outputs' | 'final_state' | 'aggs' | 'status' | 'parts';
export const bindingIndex: Record<Binding, number> = { uniforms: 0, inputs: 1, params: 2, init: 3, lengths: 4, outputs: 5, final_state: 6, aggs: 7, status: 8, parts: 9 };

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
  /** Members of the `Inv` struct (hoisted param-only values) with their types, set once `element` is built. */
  invariants?: { name: string; type: Type }[];
  /**
   * Where `element` reads a step's inputs and `store_step` writes its outputs: the storage buffers
   * (default), or one private float per tensor (`step_in_<k>`, `step_out_<k>`), which the kernel
   * fills from and packs into vec4 loads and stores (chained.ts; every tensor one float per step).
   */
  stepIO?: 'private';
  /**
   * `store_step` writes each step's output rows as vec4s, every point unrolled (the `outputs` buffer
   * an array of vec4s; see states.ts `outputRowsFit`).
   */
  outputRows?: boolean;
  /** With `outputRows`: outputs written at sampled positions only (PlanRequest.sample). */
  sample?: SampleRequest;
  /**
   * The function being built has `len` (the sequence's valid steps, `min(lengths[b], T)`) in scope:
   * a reversed cell's positions read it rather than `lengths` again at every access (a reversed core
   * writing d_k per step held 27 such loads in store_step, which pushed its element's loops past the
   * unrolling budget: 3× the time of the same cell forward; docs/grad.md, "Session 32").
   */
  lenInScope?: true;
  /**
   * The scan writes sampled states only (PlanRequest.sample; `jumpFits`): reduce_steps keeps the
   * aggregate of each part of its block between sampled steps (`parts`), and scan_steps goes from
   * part to part, one `advance` each, instead of from step to step.
   */
  jump?: true;
}

/**
 * Output floats per step of the outputs written every step (the first ones, [batch, T, ...] each
 * from float batch·T·offset), and per sampled row of the sampled ones (after them: from batch·T·step
 * + batch·rows·(offset − step), [batch, rows, ...] each, rows = ceil(T / every)).
 */
export function outputWidths(layout: Pick<ScanLayout, 'outputs' | 'outputWidth'>, sample?: SampleRequest): { step: number; sampled: number } {
  const sampled = layout.outputs.filter((o) => sample?.outputs.includes(o.tensor.name)).reduce((n, o) => n + o.size, 0);
  return { step: layout.outputWidth - sampled, sampled };
}

/** Rows a sampled output has at T steps. */
export const sampledRows = (T: number, every: number) => Math.ceil(T / every);

/** The private float through which a step's input or output tensor `k` passes (Ctx.stepIO). */
export const stepVar = (kind: 'in' | 'out', k: number) => `step_${kind}_${k}`;

/** The kernels' lane blocks (layout.ts): one block of every lane unless the 'tile' split spreads them. */
export const ctxBlocks = (ctx: Pick<Ctx, 'tile' | 'layout'>): LaneBlocks => blocksOf(ctx.tile, ctx.layout);

/** `(x / stride) % n`, without the parts that do nothing. */
const digit = (x: Expr, stride: number, n: number): Expr => {
  const q = stride === 1 ? x : bin('/', x, u(stride));
  return n === 1 ? u(0) : bin('%', q, u(n));
};

/** Where block `lb` starts along lane dim k (a run-time expression; the lane blocks are cut along it). */
export const blockOrigin = (ctx: Ctx, lb: Expr, k: number): Expr => {
  const b = ctxBlocks(ctx);
  return bin('*', digit(lb, b.blockStrides[k]!, b.count[k]!), u(b.extent[k]!));
};

/**
 * Lane coordinates of lane `s` as run-time expressions, by dim: within the sequence (clamped into
 * the dim where its blocks pad it), or within the lane's block (`local`, for workgroup memory).
 * Lanes in blocks are numbered block-major (layout.ts, LaneBlocks).
 */
export function laneCoords(ctx: Ctx, stmts: Stmt[], local = false): Map<string, Expr> {
  const coords = new Map<string, Expr>();
  const b = ctxBlocks(ctx);
  if (b.blocks === 1) {
    ctx.layout.laneDims.forEach((d, k) => {
      const name = local ? `loc_${d}` : `lane_${d}`;
      stmts.push(letS(name, bin('%', bin('/', id('s'), u(ctx.layout.laneStrides[k]!)), u(ctx.sizes[d]!))));
      coords.set(d, id(name));
    });
    return coords;
  }
  stmts.push(letS(local ? 'loc_in' : 'lane_in', bin('%', id('s'), u(b.lanes))));
  if (!local) stmts.push(letS('lane_blk', bin('/', id('s'), u(b.lanes))));
  ctx.layout.laneDims.forEach((d, k) => {
    const name = local ? `loc_${d}` : `lane_${d}`;
    const within = digit(id(local ? 'loc_in' : 'lane_in'), b.localStrides[k]!, b.extent[k]!);
    let value = within;
    if (!local && b.count[k]! > 1) {
      value = bin('+', blockOrigin(ctx, id('lane_blk'), k), within);
      if (b.count[k]! * b.extent[k]! > ctx.sizes[d]!) value = call('min', value, u(ctx.sizes[d]! - 1));
    }
    stmts.push(letS(name, value));
    coords.set(d, id(name));
  });
  return coords;
}

/** Whether lane `s` (block-major) lies inside every dim its blocks pad; undefined where none is padded. */
export function laneInRange(ctx: Ctx, s: Expr): Expr | undefined {
  const b = ctxBlocks(ctx);
  if (b.blocks === 1) return undefined;
  const conds = ctx.layout.laneDims.flatMap((d, k) =>
    b.count[k]! * b.extent[k]! > ctx.sizes[d]!
      ? [bin('<', bin('+', blockOrigin(ctx, bin('/', s, u(b.lanes)), k), digit(bin('%', s, u(b.lanes)), b.localStrides[k]!, b.extent[k]!)), u(ctx.sizes[d]!))]
      : [],
  );
  return conds.reduce<Expr | undefined>((a, c) => (a ? bin('&&', a, c) : c), undefined);
}

/** The definitions a later one may load by name: lets, and outputs (an output may read another). */
export const stepLets = (m: Module) => new Map(m.step.filter((d) => d.kind === 'let' || d.kind === 'output').map((d) => [d.target, d]));

/**
 * Index of logical step `t` of sequence `b` in a tensor's per-step region of a [batch, T, width]
 * packed buffer: at position t forward, at len-1-t for a reversed cell (backends/lower/time.ts),
 * with len read from `lengths` so that any function with `b` and `t` in scope can use it (or
 * from `len` where the function has it, Ctx.lenInScope). `backward`:
 * an input load or output of a bidirectional cell's `reversed` block (LoadNode.reversed, Tensor.reversed).
 */
export const stepBase = (ctx: Pick<Ctx, 'module' | 'lenInScope'>, offset: number, size: number, backward = false) =>
  bin('+', bin('*', bin('*', U('batch'), U('T')), u(offset)), bin('*', stepRow(backward ? { reversed: true } : timeAxisOf(ctx.module), id('b'), U('T'), id('t'), ctx.lenInScope ? id('len') : call('min', index(id('lengths'), id('b')), U('T'))), u(size)));

export function loadInputOrParam(ctx: Ctx, n: LoadNode, values: IndexValue[]): Expr {
  const group = n.source === 'input' ? ctx.layout.inputs : ctx.layout.params;
  const p = group.find((x) => x.tensor.name === n.tensor);
  if (!p) throw new Error(`scan backend: unknown ${n.source} \`${n.tensor}\``);
  if (n.source === 'param') return index(id('params'), offsetExpr(values, p.strides, p.offset));
  if (ctx.stepIO === 'private') return id(stepVar('in', group.indexOf(p)));
  return index(id('inputs'), offsetExpr(values, p.strides, stepBase(ctx, p.offset, p.size, n.reversed === true)));
}

/** A struct member's WGSL type: f32, or an array of f32 over the member's points. */
export const fieldType = (f: StructField): Type => (f.dims.length ? arrayOf(f32, f.count) : f32);

/** Member `f` of struct value `base` at `point` (of f's dims; ignored for a scalar). */
export const fieldRef = (f: StructField, base: Expr, point: IndexValue[]): Expr =>
  f.dims.length ? index(member(base, f.name), offsetExpr(point, f.strides)) : member(base, f.name);

/** Every float of a struct value, in memory order. */
export const floatRefs = (fields: StructField[], base: Expr): Expr[] =>
  fields.flatMap((f) => (f.dims.length ? Array.from({ length: f.count }, (_, k) => index(member(base, f.name), u(k))) : [member(base, f.name)]));

/** A struct value from its floats in memory order. */
export function structOf(type: string, fields: StructField[], floats: Expr[]): Expr {
  let k = 0;
  return call(type, ...fields.map((f) => (f.dims.length ? call(`array<f32, ${f.count}>`, ...floats.slice(k, (k += f.count))) : floats[k++]!)));
}

/**
 * `var into = <type>(...)` with `fn` applied to every float of `from`: member-wise for scalars, a loop
 * over each array. Used for subgroup shuffles, which need subgroup-uniform control flow: the loop's
 * bound stays a literal (a loop holding subgroup operations is never kept: wgsl/unroll-budget.ts).
 */
export function mapStruct(type: string, fields: StructField[], from: Expr, into: string, fn: (v: Expr) => Expr): Stmt[] {
  if (fields.every((f) => f.dims.length === 0)) return [letS(into, call(type, ...fields.map((f) => fn(member(from, f.name)))))];
  const stmts: Stmt[] = [varS(into, named(type))];
  for (const f of fields) {
    if (!f.dims.length) stmts.push(assign(member(id(into), f.name), fn(member(from, f.name))));
    else stmts.push(forRange('m', u(0), u(f.count), [assign(index(member(id(into), f.name), id('m')), fn(index(member(from, f.name), id('m'))))]));
  }
  return stmts;
}

/** The buffers of whole elements: block aggregates in storage, run aggregates and lane totals in workgroup memory. */
export type ElemBuffer = 'aggs' | 'scratch' | 'lane_total' | 'parts';
const elemBuffers: ElemBuffer[] = ['aggs', 'scratch', 'lane_total', 'parts'];

/** Reads and writes of element `i` of an element buffer. */
export interface ElemAccess {
  load(i: Expr): Expr;
  store(i: Expr, value: Expr): Stmt;
}

/**
 * Element `i` of `buffer`. A struct copy is one memory access per float once the driver unrolls it,
 * and lavapipe compiles each access on its own (wgsl/unroll-budget.ts): an element with array members
 * goes through `load_<buffer>` and `store_<buffer>` (elemAccessFunctions), which copy it in kept
 * loops; an element of scalars is copied whole.
 */
export function elemAccess(ctx: Ctx, buffer: ElemBuffer): ElemAccess {
  if (ctx.layout.fields.every((f) => f.dims.length === 0)) return { load: (i) => index(id(buffer), i), store: (i, value) => assign(index(id(buffer), i), value) };
  return { load: (i) => call(`load_${buffer}`, i), store: (i, value) => ({ kind: 'call', call: call(`store_${buffer}`, i, value) }) };
}

/** Index of element `i` of lane (b, s) in a region of `aggs` at `offset` holding `count` elements per lane. */
export const aggIndex = (ctx: Ctx, offset: Expr, count: Expr, i: Expr): Expr =>
  bin('+', bin('+', offset, bin('*', bin('+', bin('*', id('b'), u(paddedLanes(ctx.tile, ctx.layout))), id('s')), count)), i);

/** `load_<buffer>(i)` and `store_<buffer>(i, e)` for every element buffer, when the element has array members (elemAccess). */
export function elemAccessFunctions(ctx: Ctx): Function[] {
  const fields = ctx.layout.fields;
  if (fields.every((f) => f.dims.length === 0)) return [];
  // Members of the same size share one loop.
  const bySize = new Map<number, StructField[]>();
  for (const f of fields) if (f.dims.length) bySize.set(f.count, [...(bySize.get(f.count) ?? []), f]);
  const copy = (from: Expr, into: Expr): Stmt[] => [
    ...fields.filter((f) => !f.dims.length).map((f) => assign(member(into, f.name), member(from, f.name))),
    ...[...bySize].map(([count, group]) => countedLoop('m', u(0), count, group.map((f) => assign(index(member(into, f.name), id('m')), index(member(from, f.name), id('m')))))),
  ];
  const at = (buffer: ElemBuffer) => index(id(buffer), id('i'));
  return elemBuffers.flatMap((buffer): Function[] => [
    {
      name: `load_${buffer}`,
      params: [{ name: 'i', type: u32 }],
      returnType: ELEM,
      body: [varS('e', ELEM), ...copy(at(buffer), id('e')), ret(id('e'))],
      comment: `Element i of \`${buffer}\`, member by member in loops: copied whole, each of its floats would be a memory access of its own.`,
    },
    {
      name: `store_${buffer}`,
      params: [
        { name: 'i', type: u32 },
        { name: 'e', type: ELEM },
      ],
      body: copy(id('e'), at(buffer)),
      comment: `Stores element i of \`${buffer}\`, member by member in loops.`,
    },
  ]);
}

/** The element field `field` of struct value `base` at `values` (lane mode: the lane's own). */
export function elemRef(ctx: Ctx, base: Expr, field: string, values: IndexValue[]): Expr {
  const f = ctx.layout.fields.find((x) => x.of === field);
  if (!f) throw new Error(`scan backend: no element field \`${field}\``);
  return fieldRef(f, base, values);
}

/**
 * A struct value (`Elem`, `State`) from one definition per member, evaluated through `lw` (lane
 * mode: at the lane's coordinates; whole mode: at every point of the member, looped when many).
 * The statements that build it go to `lw`; a struct with arrays is built in `var <name>`.
 */
export function buildStruct(ctx: Ctx, type: string, fields: StructField[], defOf: (f: StructField) => Def, lw: Lowerer, coords: Map<string, Expr> | undefined, name = 'r', observer?: LoopObserver): { value: Expr } {
  if (fields.every((f) => f.dims.length === 0)) {
    const values = fields.map((f) => {
      const def = defOf(f);
      return lw.evaluate(def, ctx.layout.mode === 'lanes' ? def.vars.map((v) => coords?.get(v.dim) ?? 0) : []);
    });
    return { value: call(type, ...values) };
  }
  const into = id(name);
  lw.current.push(varS(name, named(type)));
  // Fields over the same dims share one loop nest, and so the values they have in common.
  const groups = new Map<string, StructField[]>();
  for (const f of fields) groups.set(f.dims.join(','), [...(groups.get(f.dims.join(',')) ?? []), f]);
  for (const group of groups.values()) {
    const at = (f: StructField, flat: IndexValue) => (f.dims.length ? index(member(into, f.name), indexExpr(flat)) : member(into, f.name));
    overPoints(lw, group[0]!.dims, ctx.sizes, (point, flat, depths) => group.map((f) => assign(at(f, flat), lw.evaluate(defOf(f), point, depths))), observer);
  }
  return { value: into };
}

/** The definition of element field `f` among `defs`. */
export const fieldDef = (defs: Def[]) => (f: StructField): Def => {
  const def = defs.find((d) => d.target === f.of);
  if (!def) throw new Error(`scan backend: no definition for \`${f.of}\``);
  return def;
};

export function finish(ctx: Ctx, lw: Lowerer): Stmt[] {
  lw.helpers.forEach((h) => ctx.helpers.add(h));
  return lw.stmts;
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
  scan_chained: { name: 'scan_chained', source: 'steps', store: true },
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

/**
 * Whether logical step `t` (< len) of sequence b is a sampled position (PlanRequest.sample): its
 * position (backends/lower/time.ts) at each run's first step, or its last and the sequence's last.
 */
export const sampledStep = (ctx: Pick<Ctx, 'module' | 'sample'>, t: Expr, len: Expr): Expr => sampledPosition(ctx, stepPosition(timeAxisOf(ctx.module), t, len), len);

/** Whether position `p` of a sequence of `len` valid steps is sampled: each run's first, or its last and the sequence's last. */
export function sampledPosition(ctx: Pick<Ctx, 'sample'>, p: Expr, len: Expr): Expr {
  const { every, at } = ctx.sample!;
  return at === 'first' ? bin('==', bin('%', p, u(every)), u(0)) : bin('||', bin('==', bin('%', p, u(every)), u(every - 1)), bin('==', p, bin('-', len, u(1))));
}

/** Parts a block of `block_len` steps has at most between sampled steps (Ctx.jump): a part per `every` steps, and one at each end. */
export const partsPerBlock = (blockLen: number, every: number): number => Math.floor(blockLen / every) + 2;
