// The 'matrix' layout: a scan element too big for one invocation (a dense N×N transition, N² + N + 1
// floats) is held by a whole workgroup, in workgroup memory where three elements fit, else in a
// storage scratch region of the workgroup's own. Every definition (element, combine, apply, output)
// is evaluated at the points of its field spread over the invocations (point p by invocation
// p mod W), each reading its operands from memory; a barrier separates the phases. The combine of a
// dense transition is then a semiring matrix product, N³ per combine over W invocations, with no
// per-point copy of the code: the kernels' size does not grow with N.
//
// Over time, reduce-then-scan with one level (blocks of steps, at most MATRIX_TARGET_BLOCKS per sequence):
//   reduce_steps  a workgroup per (sequence, block but the last): the block's aggregate, one combine per step
//   scan_aggs     a workgroup per sequence: the state at the start of each block, applying the aggregates in turn
//   scan_steps    a workgroup per (sequence, block): from its block's starting state, the step's element
//                 applied to the state (a matrix-vector product, like the sequential kernel), outputs,
//                 and the final state where the sequence ends in the block
// With one block (short sequences) scan_steps alone runs, from the initial state.
import type { ScanPlan } from '../../src/compiler/analyse/types.js';
import type { Def, Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import { strides as stridesOf } from '../../src/compiler/ir/dims.js';
import { arrayOf, lit, assign, bin, call, callS, emptyModule, f32, forRange, id, ifS, index, letS, u32, varS, workgroupEntry, type Expr, type Global, type Module as WgslModule, type Stmt } from '../wgsl/ast.js';
import { mathPrelude, type MathHelper } from '../wgsl/math.js';
import { printModule } from '../wgsl/print.js';
import { budgetUnrolling } from '../wgsl/unroll-budget.js';
import { storeHalfWhere } from '../wgsl/half.js';
import { Lowerer, offsetExpr, type IndexValue, type LoadResolver } from '../lower/expr.js';
import { pointCount } from '../lower/points.js';
import { flatWorkgroupIndex, gridDispatch } from '../lower/grid.js';
import { matrixKernelNames, type MatrixKernelName, uniformFields, stepLets, stepBase, loadInputOrParam, U, u, type Binding, type Ctx, type KernelName } from './kernel.js';
import { HALF_BUFFERS, type ScanLayout } from './layout.js';

/**
 * A whole (dense) element is combined by one thread: a K×K transition costs K³ per combine against the
 * recurrence's K² per step, and every copy of it lives in the thread's function memory, which WGSL
 * guarantees only up to 8,192 bytes per entry point. Compile time is no longer the bound: since whole
 * elements move through memory in loops the unroll budget keeps (wgsl/unroll-budget.ts), DeltaNet's 129-float element
 * compiles each pass in about 1 s of CPU on cold lavapipe (it took over 15 minutes before). Past this
 * many floats a workgroup holds each element instead: the 'matrix' layout.
 */
export const MAX_WHOLE_ELEMENT = 64;

/** Whether a whole element of this layout is held by a workgroup (the 'matrix' layout) rather than by one thread (lanes gathered into one element stay with one thread: their combine is pointwise). */
export const usesMatrix = (layout: ScanLayout): boolean => layout.mode === 'whole' && !layout.gathered && layout.members.length > MAX_WHOLE_ELEMENT;

/** Invocations per workgroup: a dense element's N² points, 64 to a trip (8 SIMD registers on lavapipe). */
export const MATRIX_WIDTH = 64;
/**
 * Blocks of steps per sequence: the reduce and store passes run one workgroup per block, and the
 * carry pass applies the blocks' aggregates one after another (N² each), so a few dozen feed every
 * core without making the carry long.
 */
export const MATRIX_TARGET_BLOCKS = 64;
/** Steps per block at least: a shorter sequence runs as one block (scan_steps alone, no N³ combines). */
export const MATRIX_MIN_BLOCK = 16;
/** WebGPU's guaranteed workgroup memory, in floats (16 KiB). */
export const MATRIX_SHARED_FLOATS = 4096;
export { MAX_MATRIX_ELEMENT } from './layout.js';

export interface MatrixShape {
  /** Invocations per workgroup. */
  width: number;
  /** Where a workgroup holds its elements and states. */
  place: 'workgroup' | 'storage';
  /** Floats of working memory per workgroup: three elements, or an element and two states. */
  scratch: number;
}

/** Floats a workgroup works in: the reduce's running aggregate (twice, ping-pong) and the step's element; the store's element and states. */
export const matrixScratch = (layout: ScanLayout): number => Math.max(3 * layout.members.length, layout.members.length + 2 * layout.stateWidth);

export function matrixShape(layout: ScanLayout, sharedFloats = MATRIX_SHARED_FLOATS): MatrixShape {
  const scratch = matrixScratch(layout);
  return { width: MATRIX_WIDTH, place: scratch <= sharedFloats ? 'workgroup' : 'storage', scratch };
}

/** Where the regions of the `aggs` buffer start, in floats: aggregates [batch, blocks, E], block states [batch, blocks, S], scratch [batch, blocks, scratch]. */
const carryBase = (E: number): Expr => bin('*', bin('*', U('batch'), U('blocks')), u(E));
const scratchBase = (E: number, S: number): Expr => bin('*', bin('*', U('batch'), U('blocks')), u(E + S));

/** Floats of the `aggs` buffer a run needs. */
export function matrixAggFloats(layout: ScanLayout, shape: MatrixShape, batch: number, blocks: number): number {
  return batch * blocks * (layout.members.length + layout.stateWidth + (shape.place === 'storage' ? shape.scratch : 0));
}

interface MCtx {
  ctx: Ctx;
  layout: ScanLayout;
  shape: MatrixShape;
  sizes: DimSizes;
  helpers: Set<MathHelper>;
}

const E = (m: MCtx) => m.layout.members.length;
const S = (m: MCtx) => m.layout.stateWidth;
/** The array a workgroup's working memory lives in. */
const mem = (m: MCtx) => (m.shape.place === 'workgroup' ? 'wm' : 'aggs');
const at = (m: MCtx, i: Expr) => index(id(mem(m)), i);
/** Working memory at `offset` of the workgroup's region. */
const work = (m: MCtx, offset: number): Expr => (m.shape.place === 'workgroup' ? u(offset) : bin('+', id('scr'), u(offset)));

/** Offset of each element field within an element (fields in plan order, row-major). */
function fieldOffsets(layout: ScanLayout): Map<string, number> {
  const out = new Map<string, number>();
  let k = 0;
  for (const f of layout.fields) {
    out.set(f.of, k);
    k += f.count;
  }
  return out;
}

/** Where element field `field` is at `values` in the element at `base`. */
function elemOffset(m: MCtx, base: Expr, field: string, values: IndexValue[]): Expr {
  const f = m.layout.fields.find((x) => x.of === field);
  if (!f) throw new Error(`scan backend: no element field \`${field}\``);
  return offsetExpr(values, f.strides, bin('+', base, u(fieldOffsets(m.layout).get(field)!)));
}

/** State `tensor` (a field `h.x` stands for the state `h`) at `values` of the states at `base`. */
function stateOffset(m: MCtx, tensor: string, values: IndexValue[], base: Expr): Expr {
  const st = m.layout.states.find((x) => x.tensor.name === tensor.split('.')[0]);
  if (!st) throw new Error(`scan backend: \`${tensor}\` is not a state`);
  return offsetExpr(values, st.strides, bin('+', base, u(st.offset)));
}


/**
 * `body(point)` at every point of `dims`, spread over the workgroup: point p by invocation p mod W,
 * its coordinates decoded from p. The loop starts at `lid`, so the driver does not unroll it.
 */
function spread(m: MCtx, lw: Lowerer, dims: string[], body: (point: Expr[]) => Stmt[]): void {
  const count = pointCount(dims, m.sizes);
  const p = lw.name('q');
  const into = lw.open([]);
  const st = stridesOf(dims, m.sizes);
  const point = dims.map((d, k) => {
    const name = lw.name('c');
    const q = st[k] === 1 ? id(p) : bin('/', id(p), u(st[k]!));
    into.push(letS(name, k === 0 ? q : bin('%', q, u(m.sizes[d]!))));
    return id(name);
  });
  into.push(...body(point));
  lw.close();
  lw.current.push(forRange(p, id('lid'), u(count), into, u(m.shape.width)));
}

function lowerer(m: MCtx, resolve: LoadResolver, stmts: Stmt[], counter: { next: number }, lets?: Map<string, Def>): Lowerer {
  return new Lowerer({ resolve, sizes: m.sizes, prefix: 'v', counter, stmts, ...(lets ? { lets } : {}) });
}

/** Writes an element at `into`: every field's definition among `defs` at its points, loads through `resolve`. */
function writeElement(m: MCtx, lw: Lowerer, defs: Def[], into: Expr): void {
  for (const f of m.layout.fields) {
    const def = defs.find((d) => d.target === f.of);
    if (!def) throw new Error(`scan backend: no definition for \`${f.of}\``);
    spread(m, lw, f.dims, (point) => [assign(at(m, elemOffset(m, into, f.of, point)), lw.evaluate(def, point))]);
  }
}

/** Copies `count` floats from `from` (in array `src`) to `to` (in array `dst`), spread over the workgroup. */
function copySpread(m: MCtx, lw: Lowerer, count: number, src: string, from: Expr, dst: string, to: Expr): void {
  const q = lw.name('q');
  lw.current.push(forRange(q, id('lid'), u(count), [assign(index(id(dst), bin('+', to, id(q))), index(id(src), bin('+', from, id(q))))], u(m.shape.width)));
}

const barrier = (m: MCtx): Stmt => callS(m.shape.place === 'workgroup' ? 'workgroupBarrier' : 'storageBarrier');

/** The workgroup's sequence `b` and block `blk`, its scratch region `scr` (storage), its steps [start, end) and the sequence's length. */
function prologue(m: MCtx, perSequence: boolean): Stmt[] {
  const stmts: Stmt[] = [letS('wg', flatWorkgroupIndex())];
  if (perSequence) stmts.push(letS('b', id('wg')), letS('blk', u(0)));
  else stmts.push(letS('b', bin('/', id('wg'), U('blocks'))), letS('blk', bin('%', id('wg'), U('blocks'))));
  stmts.push(ifS(bin('>=', id('b'), U('batch')), [{ kind: 'return' }]));
  if (m.shape.place === 'storage') stmts.push(letS('scr', bin('+', scratchBase(E(m), S(m)), bin('*', bin('+', bin('*', id('b'), U('blocks')), id('blk')), u(m.shape.scratch)))));
  stmts.push(letS('len', call('min', index(id('lengths'), id('b')), U('T'))), letS('start', bin('*', id('blk'), U('block_len'))), letS('end', call('min', bin('+', id('start'), U('block_len')), id('len'))));
  return stmts;
}

/** A step's element from the inputs: the plan's field definitions at (b, t). */
function elementLowerer(m: MCtx, stmts: Stmt[], counter: { next: number }): Lowerer {
  return lowerer(
    m,
    (n, values) => {
      if (n.source === 'input' || n.source === 'param') return loadInputOrParam(m.ctx, n, values);
      throw new Error(`scan backend: an element field reads ${n.source} \`${n.tensor}\``);
    },
    stmts,
    counter,
    stepLets(m.ctx.module),
  );
}

/** reduce_steps: the aggregate of the workgroup's block, combined step by step into a running aggregate (ping-pong between two slots). */
function reduceBody(m: MCtx): Stmt[] {
  const { plan } = m.ctx;
  const e = E(m);
  const body = prologue(m, false);
  // The last block's aggregate is never applied (scan_aggs stops before it).
  body.push(ifS(bin('>=', bin('+', id('blk'), u(1)), U('blocks')), [{ kind: 'return' }]));
  const counter = { next: 0 };
  const top = lowerer(m, () => {
    throw new Error('scan backend: the identity must be constant');
  }, body, counter);
  writeElement(m, top, plan.identity, work(m, 0));
  body.push(varS('cur', u32, u(0)), barrier(m));
  const loop: Stmt[] = [];
  const element = elementLowerer(m, loop, counter);
  writeElement(m, element, plan.fields, work(m, 2 * e));
  loop.push(barrier(m));
  const accIn = bin('+', work(m, 0), bin('*', id('cur'), u(e)));
  const accOut = bin('+', work(m, 0), bin('*', bin('-', u(1), id('cur')), u(e)));
  const combine = lowerer(
    m,
    (n, values) => {
      if (n.source !== 'left' && n.source !== 'right') throw new Error(`scan backend: the combine reads ${n.source} \`${n.tensor}\``);
      return at(m, elemOffset(m, n.source === 'left' ? accIn : work(m, 2 * e), n.tensor, values));
    },
    loop,
    counter,
    new Map(plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d])),
  );
  writeElement(m, combine, plan.combine.filter((d) => d.kind !== 'let'), accOut);
  loop.push(barrier(m), assign(id('cur'), bin('-', u(1), id('cur'))));
  body.push(forRange('t', id('start'), id('end'), loop));
  helpersOf(m, top, element, combine);
  const tail = lowerer(m, () => u(0), body, counter);
  copySpread(m, tail, e, mem(m), bin('+', work(m, 0), bin('*', id('cur'), u(e))), 'aggs', bin('*', bin('+', bin('*', id('b'), U('blocks')), id('blk')), u(e)));
  return body;
}

function helpersOf(m: MCtx, ...lws: Lowerer[]): void {
  for (const lw of lws) lw.helpers.forEach((h) => m.helpers.add(h));
}

/** `apply` at every state point into `into`, from the element at `elem` (in array `elemArray`) and the states at `from`. */
function writeApply(m: MCtx, lw: Lowerer, into: Expr): void {
  for (const st of m.layout.states) {
    const def = m.ctx.plan.apply.find((d) => d.target === st.tensor.name);
    if (!def) throw new Error(`scan backend: no apply definition for state \`${st.tensor.name}\``);
    spread(m, lw, st.tensor.dims, (point) => [assign(at(m, stateOffset(m, st.tensor.name, point, into)), lw.evaluate(def, point))]);
  }
}

/** A lowering of `apply`: `right` the element at `elem` in array `elemArray`, the state (and `left`, a monoid's) at `from`. */
function applyLowerer(m: MCtx, stmts: Stmt[], counter: { next: number }, elemArray: string, elem: Expr, from: Expr): Lowerer {
  return lowerer(
    m,
    (n, values) => {
      if (n.source === 'right') return index(id(elemArray), elemOffset(m, elem, n.tensor, values));
      if (n.source === 'state' || n.source === 'left') return at(m, stateOffset(m, n.tensor, values, from));
      throw new Error(`scan backend: apply reads ${n.source} \`${n.tensor}\``);
    },
    stmts,
    counter,
    new Map(m.ctx.plan.combine.filter((d) => d.kind === 'let').map((d) => [d.target, d])),
  );
}

/** scan_aggs: a workgroup per sequence walks its blocks' aggregates, storing the state at the start of each block. */
function carryBody(m: MCtx): Stmt[] {
  const s = S(m);
  const body = prologue(m, true);
  const counter = { next: 0 };
  const top = lowerer(m, () => u(0), body, counter);
  const cur = (k: Expr) => bin('+', work(m, 0), bin('*', k, u(s)));
  copySpread(m, top, s, 'init', bin('*', id('b'), u(s)), mem(m), work(m, 0));
  body.push(varS('cur', u32, u(0)), barrier(m));
  const loop: Stmt[] = [];
  const store = lowerer(m, () => u(0), loop, counter);
  copySpread(m, store, s, mem(m), cur(id('cur')), 'aggs', bin('+', carryBase(E(m)), bin('*', bin('+', bin('*', id('b'), U('blocks')), id('j')), u(s))));
  const next: Stmt[] = [];
  const apply = applyLowerer(m, next, counter, 'aggs', bin('*', bin('+', bin('*', id('b'), U('blocks')), id('j')), u(E(m))), cur(id('cur')));
  writeApply(m, apply, cur(bin('-', u(1), id('cur'))));
  next.push(barrier(m), assign(id('cur'), bin('-', u(1), id('cur'))));
  loop.push(ifS(bin('<', bin('+', id('j'), u(1)), U('blocks')), next));
  body.push(forRange('j', u(0), U('blocks'), loop));
  helpersOf(m, apply);
  return body;
}

/** scan_steps: from the block's starting state, each step's element applied to the state; outputs; the final state where the sequence ends. */
function stepsBody(m: MCtx): Stmt[] {
  const e = E(m);
  const s = S(m);
  const { layout } = m;
  const body = prologue(m, false);
  const counter = { next: 0 };
  const top = lowerer(m, () => u(0), body, counter);
  const stateAt = (k: Expr) => bin('+', work(m, e), bin('*', k, u(s)));
  // Block 0 starts from the initial states, the others from what scan_aggs stored.
  const from: Stmt[] = [];
  copySpread(m, lowerer(m, () => u(0), from, counter), s, 'init', bin('*', id('b'), u(s)), mem(m), stateAt(u(0)));
  const fromCarry: Stmt[] = [];
  copySpread(m, lowerer(m, () => u(0), fromCarry, counter), s, 'aggs', bin('+', carryBase(e), bin('*', bin('+', bin('*', id('b'), U('blocks')), id('blk')), u(s))), mem(m), stateAt(u(0)));
  body.push(ifS(bin('==', id('blk'), u(0)), from, fromCarry));
  body.push(varS('cur', u32, u(0)), barrier(m));
  const loop: Stmt[] = [];
  const element = elementLowerer(m, loop, counter);
  writeElement(m, element, m.ctx.plan.fields, work(m, 0));
  loop.push(barrier(m));
  const apply = applyLowerer(m, loop, counter, mem(m), work(m, 0), stateAt(id('cur')));
  writeApply(m, apply, stateAt(bin('-', u(1), id('cur'))));
  loop.push(barrier(m));
  // Outputs from the states after the step (and before it, `cur`), which the next step's first barrier protects.
  const out = lowerer(
    m,
    (n, values) => {
      if (n.source === 'input' || n.source === 'param') return loadInputOrParam(m.ctx, n, values);
      if (n.source === 'state') return at(m, stateOffset(m, n.tensor, values, stateAt(n.version === 'new' ? bin('-', u(1), id('cur')) : id('cur'))));
      throw new Error(`scan backend: an output reads ${n.source} \`${n.tensor}\``);
    },
    loop,
    counter,
    stepLets(m.ctx.module),
  );
  const outAt = (o: (typeof layout.outputs)[number], point: IndexValue[]) =>
    index(id('outputs'), offsetExpr(point, o.strides, stepBase(m.ctx, o.offset, o.size, o.tensor.reversed === true)));
  for (const o of layout.outputs) {
    const def = m.ctx.module.step.find((d) => d.kind === 'output' && d.target === o.tensor.name)!;
    spread(m, out, def.vars.map((v) => v.dim), (point) => [assign(outAt(o, point), out.evaluate(def, point))]);
  }
  loop.push(assign(id('cur'), bin('-', u(1), id('cur'))));
  body.push(forRange('t', id('start'), id('end'), loop));
  // Steps past the sequence's length: zero outputs.
  if (layout.outputs.length) {
    const zeros: Stmt[] = [];
    const zw = lowerer(m, () => u(0), zeros, counter);
    for (const o of layout.outputs) spread(m, zw, o.tensor.dims, (point) => [assign(outAt(o, point), lit.f32(0))]);
    body.push(forRange('t', call('max', id('start'), id('len')), call('min', bin('+', id('start'), U('block_len')), U('T')), zeros));
  }
  // The block holding the sequence's last step (block 0 for an empty one) writes the final states.
  const last: Stmt[] = [];
  copySpread(m, lowerer(m, () => u(0), last, counter), s, mem(m), stateAt(id('cur')), 'final_state', bin('*', id('b'), u(s)));
  body.push(ifS(bin('||', bin('&&', bin('>', id('len'), id('start')), bin('<=', id('len'), bin('+', id('start'), U('block_len')))), bin('&&', bin('==', id('len'), u(0)), bin('==', id('blk'), u(0)))), last));
  helpersOf(m, top, element, apply, out);
  return body;
}

export interface MatrixKernel {
  name: KernelName;
  code: string;
  bindings: Binding[];
}

const bindingsOf: Record<MatrixKernelName, Binding[]> = {
  reduce_steps: ['uniforms', 'inputs', 'params', 'lengths', 'aggs'],
  scan_aggs: ['uniforms', 'init', 'lengths', 'aggs'],
  scan_steps: ['uniforms', 'inputs', 'params', 'init', 'lengths', 'outputs', 'final_state', 'aggs'],
};

const decl = (name: string, binding: number, access: 'read' | 'read_write', type = arrayOf(f32)): Global => ({ name, space: 'storage', access, type, group: 0, binding });

export function emitMatrixKernels(module: Module, plan: ScanPlan, sizes: DimSizes, layout: ScanLayout, shape: MatrixShape, half = false): Record<MatrixKernelName, MatrixKernel> {
  const ctx: Ctx = { module, plan, layout, tile: { split: 'thread', groups: 1, runs: 1, runLength: 1, width: shape.width }, sizes, helpers: new Set(), direct: true };
  const out = {} as Record<MatrixKernelName, MatrixKernel>;
  const what: Record<keyof typeof out, string> = {
    reduce_steps: 'the aggregate of each block of steps, combined step by step',
    scan_aggs: 'the state at the start of each block, from the blocks before it',
    scan_steps: 'the states and outputs of each block of steps, from its starting state',
  };
  for (const name of matrixKernelNames) {
    const m: MCtx = { ctx, layout, shape, sizes, helpers: new Set() };
    const body = name === 'reduce_steps' ? reduceBody(m) : name === 'scan_aggs' ? carryBody(m) : stepsBody(m);
    const entry = { ...workgroupEntry(shape.width, body), name };
    const prelude = mathPrelude(m.helpers);
    const printed = printModule({ ...emptyModule(), entryPoints: [entry] });
    const bindings = bindingsOf[name].filter((b) => b === 'uniforms' || new RegExp(`\\b${b}\\b`).test(printed));
    const globals: Global[] = [
      { name: 'U', space: 'uniform', type: { kind: 'named', name: 'Uniforms' }, group: 0, binding: 0 },
      ...(bindings.includes('inputs') ? [decl('inputs', 1, 'read')] : []),
      ...(bindings.includes('params') ? [decl('params', 2, 'read')] : []),
      ...(bindings.includes('init') ? [decl('init', 3, 'read')] : []),
      ...(bindings.includes('lengths') ? [decl('lengths', 4, 'read', arrayOf(u32))] : []),
      ...(bindings.includes('outputs') ? [decl('outputs', 5, 'read_write')] : []),
      ...(bindings.includes('final_state') ? [decl('final_state', 6, 'read_write')] : []),
      { ...decl('aggs', 7, 'read_write'), comment: `Block aggregates [batch, blocks, ${layout.members.length}], block states [batch, blocks, ${layout.stateWidth}]${shape.place === 'storage' ? `, each workgroup's working memory [batch, blocks, ${shape.scratch}]` : ''}.` },
      ...(shape.place === 'workgroup' ? [{ name: 'wm', space: 'workgroup' as const, type: arrayOf(f32, shape.scratch), comment: 'The workgroup\'s working memory: elements and states.' }] : []),
    ];
    const wgsl: WgslModule = {
      ...emptyModule(),
      header: [
        `${module.name}: ${name} (generated by rnnc, scan backend, matrix layout)`,
        `element: ${layout.members.length} floats per sequence, held by a workgroup of ${shape.width} invocations in ${shape.place === 'workgroup' ? 'workgroup memory' : 'a storage scratch region'}, each definition's points spread over them`,
        `pass: ${what[name]}`,
      ].join('\n'),
      structs: [{ name: 'Uniforms', members: uniformFields.map((f) => ({ name: f, type: u32 })) }],
      globals: [...globals, ...prelude.globals],
      functions: prelude.functions,
      entryPoints: [entry],
    };
    out[name] = { name, code: printModule(storeHalfWhere(half, budgetUnrolling(wgsl), HALF_BUFFERS)), bindings };
  }
  return out;
}

/** The passes of a matrix scan for a batch of sequences of T steps (see the top of this file). */
export function scheduleMatrix(layout: ScanLayout, shape: MatrixShape, batch: number, T: number, minLength = T, targetBlocks = MATRIX_TARGET_BLOCKS) {
  const blockLen = Math.max(MATRIX_MIN_BLOCK, Math.ceil(T / targetBlocks));
  const blocks = Math.max(1, Math.ceil(T / blockLen));
  const fields = { T, batch, groups: batch, n: T, block_len: blockLen, blocks, min_len: Math.min(T, minLength) } as Partial<Record<(typeof uniformFields)[number], number>>;
  const uniforms = Uint32Array.from(uniformFields.map((f) => fields[f] ?? 0));
  const grid = (workgroups: number): [number, number] => {
    const [x, y] = gridDispatch(Math.max(1, workgroups));
    return [x, y];
  };
  const passes: { kernel: KernelName; uniforms: Uint32Array; dispatch: [number, number] }[] =
    blocks > 1
      ? [
          { kernel: 'reduce_steps', uniforms, dispatch: grid(batch * blocks) },
          { kernel: 'scan_aggs', uniforms, dispatch: grid(batch) },
          { kernel: 'scan_steps', uniforms, dispatch: grid(batch * blocks) },
        ]
      : [{ kernel: 'scan_steps', uniforms, dispatch: grid(batch) }];
  const floats = matrixAggFloats(layout, shape, batch, blocks);
  return { strategy: (blocks > 1 ? 'reduce-then-scan' : 'carry') as 'carry' | 'reduce-then-scan', passes, aggElements: Math.max(1, Math.ceil(floats / layout.members.length)), levels: blocks > 1 ? [blocks] : [] };
}
