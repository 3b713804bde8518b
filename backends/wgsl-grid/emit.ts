// The wavefront kernel of a grid cell (`rnn name grid { ... }`, issue 18): the sequential kernel of a
// 2-D recurrence. Position (r, c) needs (r, c-1) and (r-1, c), so the positions of one anti-diagonal
// r + c = k depend only on the diagonal before: the kernel runs the H + W - 1 diagonals in order and
// the positions of one in parallel.
//
// One workgroup per sequence (batch element) loops over the diagonals with a barrier between them;
// invocation `lid` computes rows lid, lid + WG, ... of each diagonal (so any H runs; WG from 8 to 64
// follows the grid's height, gridWorkgroupFor), each
// position's whole step (every definition, every element) as the sequential kernel's 'invocation'
// strategy does. The step's definitions are lowered by the shared lowering (backends/lower/expr.ts),
// ordered and split (time-invariant parts computed once) by the sequential kernel's program
// (backends/wgsl-seq/program.ts); only the loads of a neighbour's state are this kernel's own.
//
// The states between diagonals live in `carry`, O(H · state) per sequence rather than O(H·W·state):
// for each parity of the diagonal (double-buffered) and each sequence, H + 1 slots of every state.
// Slot r + 1 holds row r's latest state (written at diagonal k into parity k % 2), slot 0 the initial
// state (in both parities). At diagonal k, position (r, c) reads parity (k - 1) % 2 only: `.left` is
// its own row's slot r + 1 (the state at (r, c - 1)), or slot 0 in column 0; `.up` is slot r (row r-1's
// state at (r - 1, c), written at diagonal k - 1), which for row 0 is slot 0. It writes slot r + 1 of
// parity k % 2, which nothing reads before the next barrier. The final state is written by (H-1, W-1).
//
// One dispatch runs the whole grid: a dispatch per diagonal would give a sequence more than one
// workgroup, but needs the diagonal's index per pass (a uniform buffer per diagonal) and H + W - 1
// passes; on lavapipe a workgroup already spreads its invocations over SIMD lanes, and the batch over
// the cores.
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { strides, type DimSizes } from '../../src/compiler/ir/dims.js';
import type { SourceFile } from '../../src/compiler/diagnostics/render.js';
import * as W from '../wgsl/ast.js';
import { assign, bin, blank, call, callS, comment, forRange, id, ifS, index, letS, lit, member, varS, type Expr, type Stmt } from '../wgsl/ast.js';
import { mathPrelude, type MathHelper } from '../wgsl/math.js';
import { indexExpr, Lowerer, offsetExpr, type IndexValue, type LoadNode } from '../lower/expr.js';
import { flatWorkgroupIndex, gridDispatch } from '../lower/grid.js';
import { overPoints } from '../lower/points.js';
import { printModule } from '../wgsl/print.js';
import { budgetUnrolling, countedLoop, MAX_UNROLLED_ACCESSES } from '../wgsl/unroll-budget.js';
import { kernelLayout, type BufferLayout, type KernelLayout } from '../wgsl-seq/layout.js';
import { buildProgram, loadKey, type KernelDef, type LocalKey } from '../wgsl-seq/program.js';

/** Invocations per workgroup at most: rows of a diagonal computed at once (more rows loop). */
export const GRID_WORKGROUP = 64;
/** lavapipe's SIMD width: a narrower workgroup saves nothing. */
const MIN_GRID_WORKGROUP = 8;

/**
 * The workgroup for a grid of H rows: H rounded up to a power of two, from 8 to 64. lavapipe runs a
 * workgroup on one thread, 8 invocations to a SIMD register, and every chunk of 8 passes each barrier,
 * idle or not: a 64-wide workgroup on a grid 1 or 8 rows high took 2-2.5x the time of an 8-wide one,
 * while at 256 rows the 64-wide one was the faster (scripts/bench-grid.ts --workgroups, docs/time-direction.md).
 */
export const gridWorkgroupFor = (H: number): number => Math.min(GRID_WORKGROUP, Math.max(MIN_GRID_WORKGROUP, 2 ** Math.ceil(Math.log2(Math.max(1, H)))));

/**
 * A state's new value larger than this (floats) is computed straight into its carry slot (the slot this
 * position writes, which nothing reads before the next barrier) rather than a function-scope array: Dawn
 * took 47 s to create the pipeline of pLSTM at K = V = 64 with two 4096-float arrays per invocation, 3.4 s
 * to compile and dispatch it this way (lavapipe, load 13 on 2 cores). Small ones stay in registers.
 */
export const PRIVATE_STATE_FLOATS = 64;

/** Where each state lives in a carry slot: `offset` floats into the slot, `size` floats. */
export interface CarryRegion {
  tensor: string;
  dims: string[];
  size: number;
  offset: number;
}

/** The `carry` buffer: [2 parities][batch][H + 1 slots][perSlot floats]. */
export interface CarryLayout {
  binding: number;
  /** Floats of one slot (every state, one after another). */
  perSlot: number;
  regions: CarryRegion[];
}

export interface GridKernel {
  name: string;
  wgsl: string;
  entryPoint: 'main';
  workgroupSize: number;
  /** The sequential kernel's buffers (with T = H*W), without `lengths`: a grid has none. */
  layout: KernelLayout;
  carry: CarryLayout;
  /** The bindings `main` uses (binding 0, the uniform `Params { batch, T, H, W }`, included). */
  bindings: number[];
  dims: DimSizes;
}

export interface GridOptions {
  /** The .rnn source, for `// path:line` comments on generated blocks. */
  source?: SourceFile;
  /** Invocations per workgroup (default GRID_WORKGROUP; gridWorkgroupFor picks one for a grid's height). */
  workgroupSize?: number;
}

const u = (n: number) => lit.u32(n);
const param = (name: string) => member(id('params'), name);
const localName = (key: LocalKey): string => {
  const [kind, name] = key.split(':') as [string, string];
  return ({ next: 'next_', let: 'let_', hoist: 'inv_' } as Record<string, string>)[kind] + name;
};
const add = (a: Expr, b: Expr): Expr => (a.kind === 'literal' && a.value === 0 ? b : b.kind === 'literal' && b.value === 0 ? a : bin('+', a, b));
const mul = (a: Expr, k: number): Expr => (k === 0 ? u(0) : k === 1 ? a : bin('*', a, u(k)));

/** Carry slots: every state, one after another. */
function carryLayout(m: Module, sizes: DimSizes, binding: number): CarryLayout {
  let at = 0;
  const regions = tensorsOf(m, 'state').map((s) => {
    const size = s.dims.reduce((n, d) => n * sizes[d]!, 1);
    const r = { tensor: s.name, dims: s.dims, size, offset: at };
    at += size;
    return r;
  });
  return { binding, perSlot: at, regions };
}

class GridWriter {
  readonly helpers = new Set<MathHelper>();
  private readonly counter = { next: 0 };
  private readonly buffers: Map<string, BufferLayout>;
  private readonly shapes: Map<LocalKey, string[]>;

  constructor(
    readonly m: Module,
    readonly sizes: DimSizes,
    readonly defs: KernelDef[],
    shapes: Map<LocalKey, string[]>,
    readonly layout: KernelLayout,
    readonly carry: CarryLayout,
    readonly workgroupSize: number,
  ) {
    this.buffers = new Map(layout.buffers.map((b) => [b.role, b]));
    this.shapes = shapes;
  }

  private region(role: string, tensor: string) {
    return this.buffers.get(role)!.regions.find((r) => r.tensor === tensor)!;
  }

  private count(key: LocalKey): number {
    return this.shapes.get(key)!.reduce((n, d) => n * this.sizes[d]!, 1);
  }

  private flat(dims: string[], values: IndexValue[]): Expr {
    return offsetExpr(values, strides(dims, this.sizes));
  }

  /** Whether a local lives in this position's carry slot (`out_at`): a large state's new value. */
  inCarry(key: LocalKey): boolean {
    return key.startsWith('next:') && this.count(key) > PRIVATE_STATE_FLOATS;
  }

  private local(key: LocalKey, values: IndexValue[]): Expr {
    return this.localAt(key, this.flat(this.shapes.get(key)!, values));
  }

  /** A local's element at flat index `e`. */
  private localAt(key: LocalKey, e: Expr): Expr {
    if (this.inCarry(key)) return index(id('carry'), this.carryAddress('out_at', key.slice(5), e));
    return this.count(key) === 1 ? id(localName(key)) : index(id(localName(key)), e);
  }

  /** `inputs`/`outputs` element of this position: region offset * steps + step_row * size + flat. */
  private stepAddress(role: 'inputs' | 'outputs', tensor: string, values: IndexValue[]): Expr {
    const r = this.region(role, tensor);
    return add(add(mul(id('steps'), r.offset.elements), mul(id('step_row'), r.size)), this.flat(r.dims, values));
  }

  private stateAddress(role: 'state_in' | 'state_out', tensor: string, e: Expr): Expr {
    const r = this.region(role, tensor);
    return add(add(mul(param('batch'), r.offset.elements), mul(id('seq'), r.size)), e);
  }

  /** A state's element in the carry slot starting at float `slot` (an expression of the slot's base). */
  private carryAddress(slot: string, tensor: string, e: Expr): Expr {
    const r = this.carry.regions.find((x) => x.tensor === tensor)!;
    return add(add(id(slot), u(r.offset)), e);
  }

  private load(n: LoadNode, values: IndexValue[]): Expr {
    switch (n.source) {
      case 'input':
        return index(id('inputs'), this.stepAddress('inputs', n.tensor, values));
      case 'param': {
        const r = this.region('weights', n.tensor);
        return index(id('weights'), add(u(r.offset.elements), this.flat(r.dims, values)));
      }
      case 'state':
        if (n.neighbour) {
          const dims = tensorsOf(this.m, 'state').find((s) => s.name === n.tensor)!.dims;
          return index(id('carry'), this.carryAddress(n.neighbour === 'left' ? 'left_at' : 'up_at', n.tensor, this.flat(dims, values)));
        }
        // After its update, a bare state is this position's new value (the checker allows no other).
        return this.local(`next:${n.tensor}`, values);
      default: {
        const key = loadKey(n, false);
        if (key === undefined || !this.shapes.has(key)) throw new Error(`emitGrid: a load of ${n.source} ${n.tensor} has no home in the wavefront kernel`);
        return this.local(key, values);
      }
    }
  }

  private sourceComment(k: KernelDef, source?: SourceFile): Stmt[] {
    if (!source) return [];
    const line = source.position(k.def.span.start).line;
    if (k.target.startsWith('hoist:')) return [comment(`${source.path}:${line}  ${source.text.slice(k.def.span.start, k.def.span.end)}: time-invariant, computed once`)];
    return [comment(`${source.path}:${line}  ${source.lineText(line).trim()}`)];
  }

  /** One definition at every element of its target, into its local (and the outputs buffer for an output). */
  private emitDef(k: KernelDef, source?: SourceFile): Stmt[] {
    const lw = new Lowerer({ lets: new Map(), resolve: (n, values) => this.load(n, values), sizes: this.sizes, prefix: 'v', counter: this.counter });
    const dims = k.def.vars.map((v) => v.dim);
    overPoints(lw, dims, this.sizes, (point, _flat, depths) => {
      const value = lw.evaluate(k.def, point, depths);
      const out: Stmt[] = [assign(this.local(k.target, point), value)];
      if (k.output) out.push(assign(index(id('outputs'), this.stepAddress('outputs', k.def.target, point)), this.local(k.target, point)));
      return out;
    });
    lw.helpers.forEach((h) => this.helpers.add(h));
    return [...this.sourceComment(k, source), { kind: 'block', body: lw.stmts }];
  }

  /** Every element of every state (of those `which` keeps): `body(state, e)` in a loop over the state's elements. */
  private overStates(body: (state: string, e: Expr) => Stmt[], which: (state: string) => boolean = () => true): Stmt[] {
    return this.carry.regions.filter((r) => which(r.tensor)).map((r) => countedLoop('e', u(0), r.size, body(r.tensor, r.size === 1 ? u(0) : id('e'))));
  }

  module(source?: SourceFile): W.Module {
    const mod = W.emptyModule();
    const updated = new Set(this.defs.filter((k) => k.target.startsWith('next:')).map((k) => k.target.slice(5)));
    mod.header = [
      `${this.m.name}: wavefront kernel of a grid cell, generated by rnnc${source ? ` from ${source.path}` : ''}; do not edit.`,
      `One workgroup per sequence; the anti-diagonals r + c = k in order, a barrier between them, the rows of one in parallel`,
      `(invocation i: rows i, i + ${this.workgroupSize}, ...). Positions (r, c) are steps r * W + c of [batch, T = H * W, ...]; dims ${Object.keys(this.sizes)
        .map((d) => `${d}=${this.sizes[d]}`)
        .join(', ')}.`,
    ].join('\n');
    mod.structs.push({ name: 'Params', members: ['batch', 'T', 'H', 'W'].map((name) => ({ name, type: W.u32 })) });
    mod.globals.push({ name: 'params', space: 'uniform', type: W.named('Params'), group: 0, binding: 0 });
    for (const b of this.layout.buffers) {
      const regions = b.regions.map((r) => `${r.tensor}${r.dims.length ? `[${r.dims.join(', ')}]` : ''} @ ${r.offset.elements}${r.offset.scale === '1' ? '' : ` * ${r.offset.scale}`}`).join(', ');
      mod.globals.push({ name: b.role, space: 'storage', access: b.usage === 'storage' ? 'read_write' : 'read', type: W.arrayOf(W.f32), group: 0, binding: b.binding, comment: regions });
    }
    const slots = this.carry.regions.map((r) => `${r.tensor}${r.dims.length ? `[${r.dims.join(', ')}]` : ''} @ ${r.offset}`).join(', ');
    mod.globals.push({ name: 'carry', space: 'storage', access: 'read_write', type: W.arrayOf(W.f32), group: 0, binding: this.carry.binding, comment: `[2 parities][batch][H + 1 slots][${this.carry.perSlot}]: ${slots}` });

    const S = this.carry.perSlot;
    const slotBase = (parity: Expr, slot: Expr): Expr => mul(add(bin('*', add(bin('*', parity, param('batch')), id('seq')), id('slots')), slot), S);
    const body: Stmt[] = [];
    body.push(letS('seq', flatWorkgroupIndex()));
    // Uniform per workgroup: the whole workgroup returns, so the barriers below stay in uniform control flow.
    body.push(ifS(bin('>=', id('seq'), param('batch')), [{ kind: 'return' }]));
    body.push(letS('H', param('H')), letS('W', param('W')), letS('slots', bin('+', id('H'), u(1))));
    body.push(letS('steps', bin('*', param('batch'), param('T'))));
    for (const [key] of this.shapes) {
      if (key.startsWith('state:') || this.inCarry(key)) continue;
      const n = this.count(key);
      body.push(varS(localName(key), n === 1 ? W.f32 : W.arrayOf(W.f32, n)));
    }

    body.push(blank, comment('the initial state, slot 0 of both parities: what a neighbour outside the grid reads'));
    body.push(ifS(bin('==', id('lid'), u(0)), [letS('init0', slotBase(u(0), u(0))), letS('init1', slotBase(u(1), u(0))), ...this.overStates((s, e) => [assign(index(id('carry'), this.carryAddress('init0', s, e)), index(id('state_in'), this.stateAddress('state_in', s, e))), assign(index(id('carry'), this.carryAddress('init1', s, e)), index(id('state_in'), this.stateAddress('state_in', s, e)))])]));
    body.push(callS('storageBarrier'));

    const invariant = this.defs.filter((k) => k.invariant);
    if (invariant.length) body.push(blank, comment('time-invariant: computed once'), ...invariant.flatMap((k) => this.emitDef(k, source)));

    const position: Stmt[] = [
      letS('c', bin('-', id('k'), id('r'))),
      letS('step_row', add(bin('*', id('seq'), param('T')), add(bin('*', id('r'), id('W')), id('c')))),
      // `.left`: this row's slot (the state at (r, c-1)), or the initial state in column 0; `.up`: slot r, row r-1's state at (r-1, c), or the initial state in row 0.
      letS('left_at', slotBase(id('prev'), call('select', bin('+', id('r'), u(1)), u(0), bin('==', id('c'), u(0))))),
      letS('up_at', slotBase(id('prev'), id('r'))),
      letS('out_at', slotBase(id('cur'), bin('+', id('r'), u(1)))),
      // A state no update writes stays at its initial value everywhere (slot 0).
      ...(this.carry.regions.some((r) => !updated.has(r.tensor)) ? [letS('init_at', slotBase(id('prev'), u(0)))] : []),
      ...this.defs.filter((k) => !k.invariant).flatMap((k) => this.emitDef(k, source)),
      comment("this row's latest state, for the next diagonal"),
      // (a large state's new value is already there)
      ...this.overStates((s, e) => [assign(index(id('carry'), this.carryAddress('out_at', s, e)), updated.has(s) ? this.localAt(`next:${s}`, e) : index(id('carry'), this.carryAddress('init_at', s, e)))], (s) => !this.inCarry(`next:${s}`) || !updated.has(s)),
    ];
    const finalState = ifS(bin('&&', bin('==', id('r'), bin('-', id('H'), u(1))), bin('==', id('c'), bin('-', id('W'), u(1)))), [
      comment('the last position (H-1, W-1): the final state'),
      ...this.overStates((s, e) => [assign(index(id('state_out'), this.stateAddress('state_out', s, e)), index(id('carry'), this.carryAddress('out_at', s, e)))]),
    ]);
    position.push(finalState);

    const diagonal: Stmt[] = [
      letS('cur', bin('&', id('k'), u(1))),
      letS('prev', bin('^', id('cur'), u(1))),
      // Rows r of diagonal k with 0 <= c = k - r < W.
      letS('lo', call('select', u(0), bin('-', id('k'), bin('-', id('W'), u(1))), bin('>=', id('k'), id('W')))),
      letS('hi', call('min', id('k'), bin('-', id('H'), u(1)))),
      forRange('r', bin('+', id('lo'), id('lid')), bin('+', id('hi'), u(1)), position, u(this.workgroupSize)),
      callS('storageBarrier'),
    ];
    body.push(blank, comment('the anti-diagonals r + c = k in order'), forRange('k', u(0), bin('-', bin('+', id('H'), id('W')), u(1)), diagonal));

    const prelude = mathPrelude(this.helpers);
    mod.globals.push(...prelude.globals);
    mod.functions.push(...prelude.functions);
    mod.entryPoints.push(W.workgroupEntry(this.workgroupSize, body));
    return mod;
  }
}

/** Compiles a grid cell's step to the wavefront kernel (sizes from `bindDims`). */
export function emitGrid(m: Module, sizes: DimSizes, options: GridOptions = {}): GridKernel {
  if (!m.grid) throw new Error(`emitGrid: ${m.name} is not a grid cell`);
  const program = buildProgram(m, sizes);
  const seqLayout = kernelLayout(m, sizes, program.weights);
  const layout: KernelLayout = { ...seqLayout, buffers: seqLayout.buffers.filter((b) => b.role !== 'lengths') };
  const carry = carryLayout(m, sizes, Math.max(0, ...layout.buffers.map((b) => b.binding)) + 1);
  const workgroupSize = options.workgroupSize ?? GRID_WORKGROUP;
  const writer = new GridWriter(m, sizes, program.defs, program.shapes, layout, carry, workgroupSize);
  const wgsl = printModule(budgetUnrolling(writer.module(options.source), MAX_UNROLLED_ACCESSES));
  const read = (role: string) => role !== 'inputs' && role !== 'weights' ? true : role === 'inputs' ? tensorsOf(m, 'input').length > 0 : program.weights.length > 0;
  return {
    name: m.name,
    wgsl,
    entryPoint: 'main',
    workgroupSize,
    layout,
    carry,
    bindings: [0, ...layout.buffers.filter((b) => read(b.role)).map((b) => b.binding), carry.binding],
    dims: sizes,
  };
}

/** Workgroups to dispatch: one per sequence, split over x and y past 65,535. */
export const gridKernelDispatch = (batch: number): [number, number, number] => gridDispatch(batch);
