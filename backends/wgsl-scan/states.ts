// The store phase: states from prefixes (apply), the states a thread walks step by step (State,
// load_state, advance), and the outputs and final states written from them — by the thread that
// holds them (store_step, store_final) or through workgroup memory (store_states, write_output).
import type { Def, Module } from '../../src/compiler/ir/ir.js';
import { assign, bin, call, id, ifS, index, letS, lit, u32, un, type Expr, type Function, type Stmt } from '../wgsl/ast.js';
import { Lowerer, offsetExpr, type IndexValue, type LoadNode } from '../lower/expr.js';
import { overPoints } from '../lower/points.js';
import { safe, structField, type PackedTensor, type ScanLayout, type StructField } from './layout.js';
import { ret, ELEM, STATE, u, U, type Ctx, blockOrigin, ctxBlocks, laneCoords, stepLets, stepBase, stepVar, loadInputOrParam, elemRef, fieldRef, buildStruct, finish, outputWidths, sampledPosition } from './kernel.js';
import { stepPosition, timeAxisOf } from '../lower/time.js';

/** A lowering of `apply` (a state from prefix `prefix` and the initial state) into `stmts`. */
export function applyLowerer(ctx: Ctx, prefix: string, stmts: Stmt[], counter: { next: number }): Lowerer {
  // Apply may use the combine's locals (a monoid's state is combine(initial, prefix)): `left` is then the initial state.
  return new Lowerer({
    lets: new Map(ctx.plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d])),
    resolve: (n, values) => {
      if (n.source === 'right') return elemRef(ctx, id(prefix), n.tensor, values);
      if (n.source === 'state' || n.source === 'left') {
        // A field `h.x` (or a monoid's field named after its state) stands for the state `h`.
        const st = ctx.layout.states.find((x) => x.tensor.name === n.tensor.split('.')[0]);
        if (!st) throw new Error(`scan backend: apply reads \`${n.tensor}\`, not a state`);
        return index(id('init'), offsetExpr(values, st.strides, bin('+', bin('*', id('b'), u(ctx.layout.stateWidth)), u(st.offset))));
      }
      throw new Error(`scan backend: apply reads ${n.source} \`${n.tensor}\``);
    },
    sizes: ctx.sizes,
    prefix: `${prefix}_`,
    counter,
    stmts,
  });
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

/** The members of the `State` struct: one per state tensor, a scalar at the lane's coordinates (lanes) or an array over its dims (whole). */
export function stateFields(ctx: Ctx): StructField[] {
  return ctx.layout.states.map((st) => structField(safe(st.tensor.name), st.tensor.name, ctx.layout.mode === 'lanes' ? [] : st.tensor.dims, ctx.sizes));
}

const stateOf = (ctx: Ctx, f: StructField): PackedTensor => ctx.layout.states.find((st) => st.tensor.name === f.of)!;

/** State `tensor` (a field `h.x` stands for the state `h`) of struct value `base` at `values`. */
export function stateRef(ctx: Ctx, base: Expr, tensor: string, values: IndexValue[]): Expr {
  const f = stateFields(ctx).find((x) => x.of === tensor.split('.')[0]);
  if (!f) throw new Error(`scan backend: \`${tensor}\` is not a state this thread holds`);
  return fieldRef(f, base, values);
}

/** A lowering that only writes loops over points (no definitions). */
const pointWriter = (ctx: Ctx, stmts: Stmt[]) =>
  new Lowerer({
    resolve: () => {
      throw new Error('scan backend: no loads here');
    },
    sizes: ctx.sizes,
    prefix: '',
    stmts,
  });

/**
 * Every point of state `f` this thread holds, with the state's coordinates there: the lane's own
 * (lanes), or each point of the state (whole, looped when many).
 */
function overStatePoints(ctx: Ctx, lw: Lowerer, f: StructField, coords: Map<string, Expr>, body: (point: IndexValue[], depths?: number[]) => Stmt[]): void {
  if (ctx.layout.mode === 'lanes') lw.current.push(...body(stateOf(ctx, f).tensor.dims.map((d) => coords.get(d)!)));
  else overPoints(lw, f.dims, ctx.sizes, (point, _flat, depths) => body(point, depths));
}

/** `load_state(b, s)`: this thread's initial states. */
export function loadStateFunction(ctx: Ctx): Function {
  const stmts: Stmt[] = [];
  const coords = laneCoords(ctx, stmts);
  const fields = stateFields(ctx);
  const initAt = (f: StructField, point: IndexValue[]) => index(id('init'), offsetExpr(point, stateOf(ctx, f).strides, bin('+', bin('*', id('b'), u(ctx.layout.stateWidth)), u(stateOf(ctx, f).offset))));
  let value: Expr;
  if (ctx.layout.mode === 'lanes') value = call('State', ...fields.map((f) => initAt(f, stateOf(ctx, f).tensor.dims.map((d) => coords.get(d)!))));
  else {
    const lw = pointWriter(ctx, stmts);
    stmts.push({ kind: 'var', name: 'h', type: STATE });
    for (const f of fields) overStatePoints(ctx, lw, f, coords, (point) => [assign(fieldRef(f, id('h'), point), initAt(f, point))]);
    value = id('h');
  }
  return {
    name: 'load_state',
    params: ['b', 's'].map((name) => ({ name, type: u32 })),
    returnType: STATE,
    body: [...stmts, ret(value)],
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
  const lw = new Lowerer({
    lets: new Map(ctx.plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d])),
    resolve: (n, values) => {
      if (n.source === 'right') return elemRef(ctx, id('e'), n.tensor, values);
      if (n.source === 'state' || n.source === 'left') return stateRef(ctx, id('h'), n.tensor, values);
      throw new Error(`scan backend: apply reads ${n.source} \`${n.tensor}\``);
    },
    sizes: ctx.sizes,
    prefix: 'v',
  });
  // Lane coordinates only index loads, and every load here names a struct member: bind them to 0.
  const zeros = new Map(ctx.layout.laneDims.map((d) => [d, lit.u32(0) as Expr]));
  const applyOf = (f: StructField) => {
    const def = ctx.plan.apply.find((d) => d.target === f.of);
    if (!def) throw new Error(`scan backend: no apply definition for state \`${f.of}\``);
    return def;
  };
  const value = buildStruct(ctx, 'State', stateFields(ctx), applyOf, lw, zeros).value;
  return {
    name: 'advance',
    params: [
      { name: 'h', type: STATE },
      { name: 'e', type: ELEM },
    ],
    returnType: STATE,
    body: [...finish(ctx, lw), ret(value)],
    comment: 'The states after a span with aggregate e, from the states h before it.',
  };
}

/**
 * Output floats per step past which `store_step` keeps its loops over points (each point unrolled
 * is code of its own; the saving cells of gla and mamba_s6 write 72 and 40).
 */
export const MAX_ROW_OUTPUTS = 128;
/** Terms of a reduction `store_step` unrolls where it writes rows (the shared lowering loops above 4). */
const ROW_UNROLL_TERMS = 8;

/**
 * Whether the thread that holds a whole element writes each step's outputs as rows of vec4s: every
 * output a multiple of 4 floats (so every row is 16-byte aligned in the packed buffer), at most
 * MAX_ROW_OUTPUTS floats a step, none of a bidirectional cell's reversed block, f32 buffers. On
 * lavapipe a store whose address differs per invocation is a loop over the SIMD lanes, and a vec4
 * costs about what one float does; the loops over points also indexed the states at run time, which
 * keeps them in memory. A saving cell writes its whole state per step (gla: 64 floats), a backward
 * core its adjoint (docs/grad.md, "The store phase in rows").
 */
export function outputRowsFit(layout: ScanLayout, options: { direct: boolean; half?: boolean }): boolean {
  return (
    layout.mode === 'whole' &&
    options.direct &&
    !options.half &&
    layout.outputs.length > 0 &&
    layout.outputs.every((o) => o.size % 4 === 0 && o.tensor.reversed !== true) &&
    layout.outputWidth <= MAX_ROW_OUTPUTS
  );
}

/** What an output's load reads in `store_step`: inputs and params of the step, states after it (h) or before it (prev). */
const outputLoad =
  (ctx: Ctx) =>
  (n: LoadNode, values: IndexValue[]): Expr => {
    if (n.source === 'input' || n.source === 'param') return loadInputOrParam(ctx, n, values);
    // A monoid cell's state is its running aggregate: outputs read it after this step's element ('new'), or before it ('old').
    if (n.source === 'state') return stateRef(ctx, id(n.version === 'new' ? 'h' : 'prev'), n.tensor, values);
    throw new Error(`scan backend: an output reads ${n.source} \`${n.tensor}\``);
  };

/** `store_step(prev, h, b, s, t, len)`: the outputs of step t that this thread owns, from the states after it (h) and before it (prev). */
export function storeStepFunction(outer: Ctx): Function {
  const ctx: Ctx = { ...outer, lenInScope: true };
  if (ctx.outputRows) return storeRowsFunction(ctx);
  const { layout } = ctx;
  const stmts: Stmt[] = [];
  const coords = laneCoords(ctx, stmts);
  const lw = new Lowerer({
    lets: stepLets(ctx.module),
    resolve: outputLoad(ctx),
    sizes: ctx.sizes,
    prefix: 'o_',
    stmts,
  });
  for (const out of layout.outputs) {
    const def = ctx.module.step.find((d) => d.kind === 'output' && d.target === out.tensor.name)!;
    // Private step I/O (Ctx.stepIO): the kernel packs the value into a vec4 store.
    const target = (point: IndexValue[]) => (ctx.stepIO === 'private' ? id(stepVar('out', layout.outputs.indexOf(out))) : index(id('outputs'), offsetExpr(point, out.strides, stepBase(ctx, out.offset, out.size, out.tensor.reversed === true))));
    const write = (point: IndexValue[], _flat?: IndexValue, depths?: number[]): Stmt[] => [
      assign(target(point), call('select', lw.evaluate(def, point, depths), lit.f32(0), bin('>=', id('t'), id('len')))),
    ];
    if (layout.mode === 'lanes') lw.current.push(...write(def.vars.map((v) => coords.get(v.dim)!)));
    else overPoints(lw, def.vars.map((v) => v.dim), ctx.sizes, write);
  }
  lw.helpers.forEach((h) => ctx.helpers.add(h));
  return {
    name: 'store_step',
    params: [{ name: 'prev', type: STATE }, { name: 'h', type: STATE }, ...['b', 's', 't', 'len'].map((n) => ({ name: n, type: u32 }))],
    body: stmts,
    comment: "Store phase: this thread's outputs of step t from the states after it (h) and before it (prev); zero past the sequence length.",
  };
}

/**
 * `store_step` of a whole element writing rows (Ctx.outputRows): every output point evaluated at
 * known indices first (the states read at constant indices, each input element loaded once), then
 * each output's row of the step stored a vec4 at a time.
 */
function storeRowsFunction(ctx: Ctx): Function {
  const { layout } = ctx;
  const stmts: Stmt[] = [];
  // Each element of a step's inputs read at a known point is loaded once, before everything else.
  const loads: Stmt[] = [];
  const loaded = new Map<string, Expr>();
  const lw = new Lowerer({
    lets: stepLets(ctx.module),
    resolve: (n, values) => {
      if (n.source === 'input' && values.every((v) => typeof v === 'number')) {
        const key = `${n.tensor}[${values.join(',')}]`;
        if (!loaded.has(key)) {
          const name = `o_in${loaded.size}`;
          loads.push(letS(name, loadInputOrParam(ctx, n, values)));
          loaded.set(key, id(name));
        }
        return loaded.get(key)!;
      }
      return outputLoad(ctx)(n, values);
    },
    sizes: ctx.sizes,
    prefix: 'o_',
    stmts,
    unrollUpTo: ROW_UNROLL_TERMS,
  });
  const stores: Stmt[] = [];
  const bound = (value: Expr): Expr => {
    if (value.kind === 'ident' || value.kind === 'literal' || value.kind === 'index') return value;
    const name = lw.name('o');
    lw.current.push(letS(name, value));
    return id(name);
  };
  for (const out of layout.outputs) {
    const def = ctx.module.step.find((d) => d.kind === 'output' && d.target === out.tensor.name)!;
    const dims = def.vars.map((v) => v.dim);
    // The def's k-th variable indexes the tensor's k-th dim (by position: `y[i, j]` over [D, D] has two
    // of the same dim), so its points, row-major, are the row's floats in order.
    const row: Expr[] = [];
    for (const point of pointsOf(dims, ctx.sizes)) {
      const flat = point.reduce((o, v, k) => o + v * out.strides[k]!, 0);
      row[flat] = bound(lw.evaluate(def, point));
    }
    // The vec4 index of the row: the packed buffer's float offset over 4 (offset and size are multiples of 4).
    const rowName = lw.name('row');
    const base = id(rowName);
    if (ctx.sample?.outputs.includes(out.tensor.name)) {
      stores.push(...sampledStore(ctx, out, rowName, row));
      continue;
    }
    stores.push(letS(rowName, stepBase(ctx, out.offset / 4, out.size / 4)));
    for (let q = 0; q < out.size / 4; q++)
      stores.push(assign(index(id('outputs'), bin('+', base, u(q))), call('select', call('vec4<f32>', ...row.slice(4 * q, 4 * q + 4)), call('vec4<f32>', lit.f32(0)), bin('>=', id('t'), id('len')))));
  }
  lw.helpers.forEach((h) => ctx.helpers.add(h));
  return {
    name: 'store_step',
    params: [{ name: 'prev', type: STATE }, { name: 'h', type: STATE }, ...['b', 's', 't', 'len'].map((n) => ({ name: n, type: u32 }))],
    body: [...loads, ...stmts, ...stores],
    comment: "Store phase: this thread's outputs of step t from the states after it (h) and before it (prev), a row of vec4s per output; zero past the sequence length.",
  };
}

/**
 * The store of a sampled output's row (PlanRequest.sample): at a valid step whose position is sampled,
 * into row position / every of its [batch, rows, ...] region after the outputs written every step.
 */
function sampledStore(ctx: Ctx, out: PackedTensor, rowName: string, row: Expr[]): Stmt[] {
  const { every } = ctx.sample!;
  const { step } = outputWidths(ctx.layout, ctx.sample);
  const p = `${rowName}_p`;
  const rows = bin('/', bin('+', U('T'), u(every - 1)), u(every));
  const region = bin('+', bin('*', bin('*', U('batch'), U('T')), u(step / 4)), bin('*', bin('*', U('batch'), rows), u((out.offset - step) / 4)));
  const sampled = sampledPosition(ctx, id(p), id('len'));
  return [
    ifS(bin('<', id('t'), id('len')), [
      letS(p, stepPosition(timeAxisOf(ctx.module), id('t'), id('len'))),
      ifS(sampled, [
        letS(rowName, bin('+', region, bin('*', bin('+', bin('*', id('b'), rows), bin('/', id(p), u(every))), u(out.size / 4)))),
        ...Array.from({ length: out.size / 4 }, (_, q) => assign(index(id('outputs'), bin('+', id(rowName), u(q))), call('vec4<f32>', ...row.slice(4 * q, 4 * q + 4)))),
      ]),
    ]),
  ];
}

/** Every point of `dims`, row-major. */
const pointsOf = (dims: string[], sizes: Ctx['sizes']): number[][] => dims.reduce<number[][]>((acc, d) => acc.flatMap((p) => Array.from({ length: sizes[d]! }, (_, k) => [...p, k])), [[]]);

/** `lane_d == 0` for the lane dims a state lacks: a state over fewer dims than the lanes is written by the lanes at coordinate 0 of the others. */
function ownerGuard(ctx: Ctx, st: PackedTensor, coords: Map<string, Expr>, write: Stmt): Stmt {
  const others = ctx.layout.mode === 'lanes' ? ctx.layout.laneDims.filter((d) => !st.tensor.dims.includes(d)) : [];
  const owner = others.map((d) => bin('==', coords.get(d)!, u(0))).reduce<Expr | undefined>((a, c) => (a ? bin('&&', a, c) : c), undefined);
  return owner ? ifS(owner, [write]) : write;
}

/** `store_final(h, b, s, base)`: the final states, each value written by one owner lane. */
export function storeFinalFunction(ctx: Ctx): Function {
  const stmts: Stmt[] = [];
  const coords = laneCoords(ctx, stmts);
  const lw = pointWriter(ctx, stmts);
  for (const f of stateFields(ctx)) {
    const st = stateOf(ctx, f);
    overStatePoints(ctx, lw, f, coords, (point) => [ownerGuard(ctx, st, coords, assign(index(id('final_state'), offsetExpr(point, st.strides, bin('+', id('base'), u(st.offset)))), fieldRef(f, id('h'), point)))]);
  }
  return {
    name: 'store_final',
    params: [{ name: 'h', type: STATE }, ...['b', 's', 'base'].map((n) => ({ name: n, type: u32 }))],
    body: stmts,
    comment: 'The final states.',
  };
}

/**
 * `store_states(p, b, s, base)`: the states after prefix p, written at `base` (workgroup memory or the
 * final-state buffer); each value by one owner lane. Workgroup memory holds the states of the
 * workgroup's lane block, packed over the block (LaneBlocks.states).
 */
export function applyFunction(ctx: Ctx, name: string, target: 'st' | 'final_state'): Function {
  const stmts: Stmt[] = [];
  const coords = laneCoords(ctx, stmts);
  const blocked = target === 'st' && ctxBlocks(ctx).blocks > 1;
  const at = blocked ? laneCoords(ctx, stmts, true) : coords;
  const packing = blocked ? ctxBlocks(ctx).states : ctx.layout.states;
  const lw = applyLowerer(ctx, 'p', stmts, { next: 0 });
  for (const f of stateFields(ctx)) {
    const st = stateOf(ctx, f);
    const into = packing.find((x) => x.tensor.name === st.tensor.name)!;
    const def = ctx.plan.apply.find((d) => d.target === st.tensor.name);
    if (!def) throw new Error(`scan backend: no apply definition for state \`${st.tensor.name}\``);
    overStatePoints(ctx, lw, f, coords, (point, depths) => {
      const where = ctx.layout.mode === 'lanes' ? st.tensor.dims.map((d) => at.get(d)!) : point;
      return [ownerGuard(ctx, st, coords, assign(index(id(target), offsetExpr(where, into.strides, bin('+', id('base'), u(into.offset)))), lw.evaluate(def, point, depths)))];
    });
  }
  return {
    name,
    params: [{ name: 'p', type: ELEM }, ...['b', 's', 'base'].map((n) => ({ name: n, type: u32 }))],
    body: finish(ctx, lw),
    comment: target === 'st' ? 'The states after prefix p, into workgroup memory (store phase).' : 'The final states after prefix p.',
  };
}

/**
 * `write_output(b, t, slot, k, len[, lb])`: output element k (over all outputs of a step) at step t,
 * from the states in workgroup memory. With lane blocks, k counts the outputs of block `lb` (packed
 * over the block's extents): they read only the block's states (tiedLaneDims in layout.ts), at their coordinates
 * less the block's origin; those past a padded dim are not written.
 */
export function outputFunction(outer: Ctx): Function {
  const ctx: Ctx = { ...outer, lenInScope: true };
  const { layout } = ctx;
  const blocks = ctxBlocks(ctx);
  const blocked = blocks.blocks > 1;
  const laneIndex = new Map(layout.laneDims.map((d, k) => [d, k]));
  const stateWidth = blocked ? blocks.stateWidth : layout.stateWidth;
  const body: Stmt[] = [];
  const counter = { next: 0 };
  const cut = (d: string) => blocked && laneIndex.has(d) && blocks.count[laneIndex.get(d)!]! > 1;
  for (const out of layout.outputs) {
    const def = ctx.module.step.find((d) => d.kind === 'output' && d.target === out.tensor.name)!;
    const packed = blocked ? blocks.outputs.find((p) => p.tensor.name === out.tensor.name)! : out;
    const stmts: Stmt[] = [letS('q', bin('-', id('k'), u(packed.offset)))];
    const inRange: Expr[] = [];
    const coords: Expr[] = def.vars.map((v, k) => {
      const name = `o_${v.name}`;
      const extent = blocked ? (blocks.extent[laneIndex.get(v.dim) ?? -1] ?? ctx.sizes[v.dim]!) : ctx.sizes[v.dim]!;
      const within = bin('%', bin('/', id('q'), u(packed.strides[k]!)), u(extent));
      stmts.push(letS(name, cut(v.dim) ? bin('+', blockOrigin(ctx, id('lb'), laneIndex.get(v.dim)!), within) : within));
      if (cut(v.dim) && blocks.count[laneIndex.get(v.dim)!]! * extent > ctx.sizes[v.dim]!) inRange.push(bin('<', id(name), u(ctx.sizes[v.dim]!)));
      return id(name);
    });
    if (inRange.length) stmts.push(ifS(un('!', inRange.reduce((a, c) => bin('&&', a, c))), [{ kind: 'return' }]));
    const ev = new Lowerer({
      lets: stepLets(ctx.module),
      resolve: (n, values) => {
        if (n.source === 'input' || n.source === 'param') return loadInputOrParam(ctx, n, values);
        if (n.source === 'state') {
          const st = (blocked ? blocks.states : layout.states).find((x) => x.tensor.name === n.tensor)!;
          // A monoid cell's state is its running aggregate: outputs read it after this step's element ('new'), or before it ('old').
          const slot = n.version === 'new' ? bin('+', id('slot'), u(1)) : id('slot');
          // The block's states, at the output's coordinates less the block's origin along the cut dims.
          const local = values.map((v, k) => {
            const d = st.tensor.dims[k]!;
            return cut(d) ? bin('-', typeof v === 'number' ? u(v) : v, blockOrigin(ctx, id('lb'), laneIndex.get(d)!)) : v;
          });
          return index(id('st'), offsetExpr(local, st.strides, bin('+', bin('*', slot, u(stateWidth)), u(st.offset))));
        }
        throw new Error(`scan backend: an output reads ${n.source} \`${n.tensor}\``);
      },
      sizes: ctx.sizes,
      prefix: 'v',
      counter,
    });
    const value = ev.evaluate(def, coords);
    stmts.push(...finish(ctx, ev));
    const at = blocked ? offsetExpr(coords, out.strides, stepBase(ctx, out.offset, out.size, out.tensor.reversed === true)) : bin('+', stepBase(ctx, out.offset, out.size, out.tensor.reversed === true), id('q'));
    stmts.push(assign(index(id('outputs'), at), call('select', value, lit.f32(0), bin('>=', id('t'), id('len')))));
    stmts.push({ kind: 'return' });
    body.push(ifS(bin('<', id('k'), u(packed.offset + packed.size)), stmts));
  }
  return {
    name: 'write_output',
    params: [...['b', 't', 'slot', 'k', 'len'], ...(blocked ? ['lb'] : [])].map((name) => ({ name, type: u32 })),
    body,
    comment: blocked ? "Output element k of lane block lb's outputs at step t (store phase); zero past the sequence length." : 'Output element k of step t (store phase); zero past the sequence length.',
  };
}
