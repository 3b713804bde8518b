// The chunked kernels for matrix-affine (+, ×) transitions S_row ↦ M_t S_row + b_t,row, where one
// K × K transition M_t = diag(d_t) + A_t is shared by every row of the state (deltanet's i) and the
// offset b_t differs per row. The sequence is split into chunks of C steps; three passes:
//
//   aggregate  one workgroup per (sequence, chunk). The workgroup evaluates the chunk's C transitions
//              into workgroup memory once (not once per row), then one invocation per row folds the
//              chunk sequentially: R contribution rows c ↦ M_t c + b_t (from 0) and K rows of the
//              chunk's aggregate transition P = M_C ⋯ M_1 (stored transposed: row k is P e_k, a
//              state row started at e_k and updated without b). Written to `agg`.
//   carry      one invocation per (sequence, row): walks the chunk aggregates in order, writing the
//              state each chunk starts from (`carry`) and the final state: T/C steps of K² work
//              instead of T steps.
//   steps      one workgroup per (sequence, chunk): evaluates the chunk's transitions again, runs
//              the chunk from its carried-in state row by row, and after each step computes the
//              outputs from the state in workgroup memory.
//
// Steps at or past a sequence's length are the identity (the aggregate skips them) and write zero
// outputs. Every pass reads the seq kernel's buffers (backends/wgsl-seq/layout.ts) plus `agg` and
// `carry`; binding numbers are fixed per buffer, and each pass declares only the buffers it uses.
import type { Def } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import * as W from '../wgsl/ast.js';
import { assign, bin, blank, call, callS, comment, forRange, id, ifS, index, letS, lit, member, varS, type Expr, type Stmt } from '../wgsl/ast.js';
import { mathPrelude, type MathHelper } from '../wgsl/math.js';
import { printModule } from '../wgsl/print.js';
import { countedLoop, budgetUnrolling } from '../wgsl/unroll-budget.js';
import { storeHalfWhere } from '../wgsl/half.js';
import { Lowerer, offsetExpr, type IndexValue } from '../lower/expr.js';
import { flatWorkgroupIndex } from '../lower/grid.js';
import { stepRow } from '../lower/time.js';
import { strides } from '../../src/compiler/ir/dims.js';
import { HALF_ROLES, type KernelLayout } from '../wgsl-seq/layout.js';
import type { ChunkShape } from './shape.js';

export type ChunkPass = 'aggregate' | 'carry' | 'steps';
export const chunkPasses: readonly ChunkPass[] = ['aggregate', 'carry', 'steps'];

/** Binding of every buffer the passes may use (a pass declares the ones it reads or writes). */
export const chunkBindings = { params: 0, inputs: 1, weights: 2, state_in: 3, lengths: 4, outputs: 5, state_out: 6, agg: 7, carry: 8 } as const;
export type ChunkBuffer = keyof typeof chunkBindings;

export interface ChunkPassKernel {
  code: string;
  buffers: ChunkBuffer[];
  workgroupSize: number;
}

export interface ChunkGeometry {
  /** Steps per chunk. */
  C: number;
  /** Invocations per workgroup of the aggregate and steps passes (at least R + K); WY form: rows per workgroup of the carry and steps passes. */
  workgroupSize: number;
  /**
   * WY form only: 'fused' (the default) — the carry pass replays each chunk and writes the outputs,
   * no steps pass; 'parallel' — the carry pass stores each chunk's starting rows and a's and a steps
   * pass replays the chunks in parallel.
   */
  replay?: 'fused' | 'parallel';
  /** Inputs, params and outputs in f16 buffers (the seq layout's HALF_ROLES; the plan's precision). */
  half?: boolean;
}

export const u = (n: number) => lit.u32(n);
export const f = (n: number) => lit.f32(n);
export const p = (name: string) => member(id('params'), name);
const steps = () => bin('*', p('batch'), p('T'));

/** Writes one pass: tracks the buffers and math helpers it uses. */
export class PassWriter {
  readonly used = new Set<ChunkBuffer>(['params']);
  readonly helpers = new Set<MathHelper>();
  private counter = { next: 0 };

  constructor(
    readonly shape: ChunkShape,
    readonly sizes: DimSizes,
    readonly layout: KernelLayout,
    readonly geometry: ChunkGeometry,
  ) {}

  region(role: string, tensor: string) {
    return this.layout.buffers.find((b) => b.role === role)!.regions.find((r) => r.tensor === tensor)!;
  }

  buffer(name: ChunkBuffer): Expr {
    this.used.add(name);
    return id(name);
  }

  /** Flat index of one element of an input or output at `step_row` (the seq layout: region-major). */
  stepAddress(role: 'inputs' | 'outputs', tensor: string, values: IndexValue[]): Expr {
    const r = this.region(role, tensor);
    const base = bin('+', bin('*', steps(), u(r.offset.elements)), bin('*', id('step_row'), u(r.size)));
    return offsetExpr(values, strides(r.dims, this.sizes), base);
  }

  /** Flat index of state element (row `row`'s coordinates, mixed coordinate `k`) in state_in/state_out. */
  stateAddress(role: 'state_in' | 'state_out', k: Expr): Expr {
    const r = this.region(role, this.shape.state.name);
    const base = bin('+', bin('*', p('batch'), u(r.offset.elements)), bin('*', id('seq'), u(r.size)));
    return offsetExpr(this.stateIndex(k), this.shape.stateStrides, base);
  }

  /** The state's index values for this invocation's row (`row_0`, … decoded) and mixed coordinate `k`. */
  stateIndex(k: IndexValue): IndexValue[] {
    const { shape } = this;
    return shape.state.dims.map((_, pos) => (pos === shape.position ? k : id(`row_${shape.rowPositions.indexOf(pos)}`)));
  }

  /** Decodes the flat row number `row` into `row_0`, `row_1`, … (one per row position). */
  decodeRow(row: Expr): Stmt[] {
    const { shape } = this;
    return shape.rowDims.map((dim, k) => {
      let e = row;
      if (shape.rowStrides[k]! > 1) e = bin('/', e, u(shape.rowStrides[k]!));
      if (k > 0) e = bin('%', e, u(this.sizes[dim]!));
      return letS(`row_${k}`, e);
    });
  }

  /** An evaluator whose loads read inputs at `step_row`, params, and (for outputs) the state row-major in `state_wg`. */
  evaluator(stmts: Stmt[], stateLoad?: (values: IndexValue[]) => Expr): Lowerer {
    const { shape } = this;
    const ev = new Lowerer({
      lets: shape.lets,
      resolve: (n, values) => {
        switch (n.source) {
          case 'input':
            return index(this.buffer('inputs'), this.stepAddress('inputs', n.tensor, values));
          case 'param': {
            const r = this.region('weights', n.tensor);
            return index(this.buffer('weights'), offsetExpr(values, strides(r.dims, this.sizes), r.offset.elements));
          }
          case 'state': {
            if (stateLoad) return stateLoad(values);
            // Row-major [rows, K]: the row positions' flat row, then the mixed coordinate.
            const rowValues = shape.rowPositions.map((pos) => values[pos]!);
            const rowFlat = offsetExpr(rowValues, shape.rowStrides);
            return index(id('state_wg'), offsetExpr([rowFlat, values[shape.position]!], [shape.K, 1]));
          }
          default:
            throw new Error(`chunk backend: unexpected load of ${n.source} \`${n.tensor}\``);
        }
      },
      sizes: this.sizes,
      prefix: 'v',
      counter: this.counter,
      stmts,
    });
    return ev;
  }

  collect(ev: Lowerer) {
    ev.helpers.forEach((h) => this.helpers.add(h));
  }

  /** Statements evaluating `def` at `values`, the value's expression last. */
  eval(def: Def, values: IndexValue[]): { stmts: Stmt[]; value: Expr } {
    const stmts: Stmt[] = [];
    const ev = this.evaluator(stmts);
    const value = ev.evaluate(def, values);
    this.collect(ev);
    return { stmts, value };
  }

  /** The chunk's transitions into `trans[s][target][source]` for its first `count` steps, strided over the workgroup. */
  transitions(count: Expr): Stmt[] {
    const { shape, geometry } = this;
    const K = shape.K;
    const target = id('tgt');
    const a = this.eval(shape.A, [target, id('src')]);
    const d = this.eval(shape.d, shape.d.vars.length ? [target] : []);
    const body: Stmt[] = [
      letS('s', bin('/', id('e'), u(K * K))),
      letS('tgt', bin('%', bin('/', id('e'), u(K)), u(K))),
      letS('src', bin('%', id('e'), u(K))),
      letS('step_row', stepRow(this.shape.time, id('seq'), p('T'), bin('+', id('t0'), id('s')))),
      ...a.stmts,
      ...d.stmts,
      assign(index(id('trans'), id('e')), bin('+', a.value, call('select', f(0), d.value, bin('==', id('tgt'), id('src'))))),
    ];
    return [comment('the chunk\'s transitions M = diag(d) + A, once for all rows'), forRange('e', id('lid'), bin('*', count, u(K * K)), body, u(geometry.workgroupSize)), callS('workgroupBarrier')];
  }

  /**
   * One step of one row: `next = M_s row (+ b_s at this row)`, then `row = next`. `withOffset` says
   * whether b applies (a contribution or state row) as a run-time condition.
   */
  rowStep(withOffset: Expr | true): Stmt[] {
    const { shape } = this;
    const K = shape.K;
    const b = this.eval(shape.b, this.stateIndex(id('tgt')));
    const init: Stmt[] = withOffset === true ? [...b.stmts, varS('acc', W.f32, b.value)] : [varS('acc', W.f32, f(0)), ifS(withOffset, [...b.stmts, assign(id('acc'), b.value)])];
    const product = countedLoop('src', u(0), K, [assign(id('acc'), bin('*', index(id('trans'), bin('+', bin('*', bin('+', bin('*', id('s'), u(K)), id('tgt')), u(K)), id('src'))), index(id('row'), id('src'))), '+=')]);
    return [
      countedLoop('tgt', u(0), K, [...init, product, assign(index(id('next'), id('tgt')), id('acc'))]),
      assign(id('row'), id('next')),
    ];
  }

  module(header: string, body: Stmt[], workgroupSize: number, shared: { name: string; count: number }[], comments: Partial<Record<ChunkBuffer, string>> = {}): W.Module {
    const mod = W.emptyModule();
    mod.header = header;
    mod.structs.push({ name: 'Params', members: [{ name: 'batch', type: W.u32 }, { name: 'T', type: W.u32 }, { name: 'chunks', type: W.u32 }, { name: 'pad', type: W.u32 }] });
    mod.constants.push({ name: 'C', value: u(this.geometry.C), comment: 'steps per chunk' });
    mod.constants.push({ name: 'K', value: u(this.shape.K), comment: `size of the mixed dim ${this.shape.state.dims[this.shape.position]}` });
    mod.constants.push({ name: 'R', value: u(this.shape.R), comment: 'state rows sharing one transition' });
    for (const name of Object.keys(chunkBindings) as ChunkBuffer[]) {
      if (!this.used.has(name)) continue;
      if (name === 'params') mod.globals.push({ name, space: 'uniform', type: W.named('Params'), group: 0, binding: 0 });
      else {
        mod.globals.push({ name, space: 'storage', access: WRITABLE.has(name) ? 'read_write' : 'read', type: W.arrayOf(name === 'lengths' ? W.u32 : W.f32), group: 0, binding: chunkBindings[name], comment: comments[name] ?? bufferComment[name] });
      }
    }
    for (const s of shared) mod.globals.push({ name: s.name, space: 'workgroup', type: W.arrayOf(W.f32, s.count) });
    const prelude = mathPrelude(this.helpers);
    mod.globals.push(...prelude.globals);
    mod.functions.push(...prelude.functions);
    mod.entryPoints.push(W.workgroupEntry(workgroupSize, body));
    return storeHalfWhere(this.geometry.half, budgetUnrolling(mod), HALF_ROLES);
  }

  write(name: ChunkBuffer): Expr {
    return this.buffer(name);
  }
}

/** The job allocates these as read-write storage, so every pass declares them read_write (the bind group layout follows the buffer). */
export const WRITABLE = new Set<ChunkBuffer>(['outputs', 'state_out', 'agg', 'carry']);

const bufferComment: Record<ChunkBuffer, string> = {
  params: '',
  inputs: 'per-step inputs, the seq kernel layout',
  weights: 'params',
  state_in: 'initial states [batch, ...]',
  lengths: 'steps per sequence',
  outputs: 'per-step outputs, the seq kernel layout',
  state_out: 'final states [batch, ...]',
  agg: 'per (sequence, chunk): R contribution rows, then K rows of the transposed aggregate transition, K floats each',
  carry: 'per (sequence, chunk): the R state rows the chunk starts from',
};

/** `group`, `seq`, `chunk`, `t0`, `len`, `count` (valid steps in this chunk) for a (sequence, chunk) workgroup. */
export function chunkPrologue(w: PassWriter): Stmt[] {
  return [
    letS('group', flatWorkgroupIndex()),
    ifS(bin('>=', id('group'), bin('*', p('batch'), p('chunks'))), [{ kind: 'return' }]),
    letS('seq', bin('/', id('group'), p('chunks'))),
    letS('chunk', bin('%', id('group'), p('chunks'))),
    letS('t0', bin('*', id('chunk'), id('C'))),
    letS('len', call('min', index(w.buffer('lengths'), id('seq')), p('T'))),
    letS('count', call('select', u(0), call('min', id('C'), bin('-', id('len'), id('t0'))), bin('>', id('len'), id('t0')))),
  ];
}

export const header = (w: PassWriter, pass: ChunkPass, what: string) => {
  const { shape, sizes, geometry } = w;
  const dims = Object.keys(sizes).map((dim) => `${dim}=${sizes[dim]}`).join(', ');
  return [
    `${shape.state.name}: chunked ${pass} pass generated by rnnc; do not edit.`,
    what,
    `${shape.kind === 'dense' ? 'Dense' : `Diagonal-plus-rank-${shape.rank}`} transition along ${shape.state.dims[shape.position]} (K=${shape.K}), shared by R=${shape.R} rows; C=${geometry.C} steps per chunk; dims ${dims}.`,
  ].join('\n');
};

function aggregatePass(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry): ChunkPassKernel {
  const w = new PassWriter(shape, sizes, layout, g);
  const { K, R } = shape;
  const aggIndex = (k: Expr) => bin('+', bin('*', bin('+', bin('*', bin('+', bin('*', id('seq'), p('chunks')), id('chunk')), u(R + K)), id('lid')), u(K)), k);
  const body: Stmt[] = [
    ...chunkPrologue(w),
    blank,
    ...w.transitions(id('count')),
    blank,
    comment('rows 0..R-1: the chunk\'s contribution (from 0, with b); rows R..R+K-1: P e_k (from e_k, without b)'),
    ifS(bin('<', id('lid'), u(R + K)), [
      ...w.decodeRow(id('lid')),
      varS('row', W.arrayOf(W.f32, K)),
      varS('next', W.arrayOf(W.f32, K)),
      ifS(bin('>=', id('lid'), u(R)), [assign(index(id('row'), bin('-', id('lid'), u(R))), f(1))]),
      forRange('s', u(0), id('count'), [letS('step_row', stepRow(w.shape.time, id('seq'), p('T'), bin('+', id('t0'), id('s')))), ...w.rowStep(bin('<', id('lid'), u(R)))]),
      countedLoop('k', u(0), K, [assign(index(w.write('agg'), aggIndex(id('k'))), index(id('row'), id('k')))]),
    ]),
  ];
  const code = printModule(w.module(header(w, 'aggregate', 'One workgroup per (sequence, chunk): the chunk\'s aggregate (P, c).'), body, g.workgroupSize, [{ name: 'trans', count: g.C * K * K }]));
  return { code, buffers: [...w.used], workgroupSize: g.workgroupSize };
}

export const CARRY_WORKGROUP = 64;

function carryPass(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry): ChunkPassKernel {
  const w = new PassWriter(shape, sizes, layout, g);
  const { K, R } = shape;
  const chunkRow = (c: Expr) => bin('+', bin('*', id('seq'), p('chunks')), c);
  const body: Stmt[] = [
    letS('group', flatWorkgroupIndex()),
    letS('unit', bin('+', bin('*', id('group'), u(CARRY_WORKGROUP)), id('lid'))),
    ifS(bin('>=', id('unit'), bin('*', p('batch'), u(R))), [{ kind: 'return' }]),
    letS('seq', bin('/', id('unit'), u(R))),
    letS('r', bin('%', id('unit'), u(R))),
    ...w.decodeRow(id('r')),
    varS('row', W.arrayOf(W.f32, K)),
    varS('next', W.arrayOf(W.f32, K)),
    countedLoop('k', u(0), K, [assign(index(id('row'), id('k')), index(w.buffer('state_in'), w.stateAddress('state_in', id('k'))))]),
    blank,
    comment('each chunk starts from `row`; then row = P row + c'),
    forRange('c', u(0), p('chunks'), [
      letS('base', bin('*', bin('*', chunkRow(id('c')), u(R + K)), u(K))),
      countedLoop('k', u(0), K, [assign(index(w.write('carry'), bin('+', bin('*', bin('+', bin('*', chunkRow(id('c')), u(R)), id('r')), u(K)), id('k'))), index(id('row'), id('k')))]),
      countedLoop('tgt', u(0), K, [
        varS('acc', W.f32, index(w.buffer('agg'), bin('+', id('base'), bin('+', bin('*', id('r'), u(K)), id('tgt'))))),
        countedLoop('src', u(0), K, [assign(id('acc'), bin('*', index(id('agg'), bin('+', id('base'), bin('+', bin('*', bin('+', u(R), id('src')), u(K)), id('tgt')))), index(id('row'), id('src'))), '+=')]),
        assign(index(id('next'), id('tgt')), id('acc')),
      ]),
      assign(id('row'), id('next')),
    ]),
    blank,
    comment('the final state'),
    countedLoop('k', u(0), K, [assign(index(w.write('state_out'), w.stateAddress('state_out', id('k'))), index(id('row'), id('k')))]),
  ];
  const code = printModule(w.module(header(w, 'carry', 'One invocation per (sequence, row): the state each chunk starts from, and the final state.'), body, CARRY_WORKGROUP, []));
  return { code, buffers: [...w.used], workgroupSize: CARRY_WORKGROUP };
}

function stepsPass(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry): ChunkPassKernel {
  const w = new PassWriter(shape, sizes, layout, g);
  const { K, R } = shape;
  const outputStmts: Stmt[] = [];
  for (const o of shape.outputs) {
    const dims = o.vars.map((v) => v.dim);
    const st = strides(dims, sizes);
    const count = dims.reduce((n, dim) => n * sizes[dim]!, 1);
    const coords: Stmt[] = dims.map((dim, k) => {
      let e: Expr = id('e');
      if (st[k]! > 1) e = bin('/', e, u(st[k]!));
      if (k > 0) e = bin('%', e, u(sizes[dim]!));
      return letS(`o_${k}`, e);
    });
    const values = dims.map((_, k) => id(`o_${k}`));
    const { stmts, value } = w.eval(o, values);
    const out = index(w.write('outputs'), w.stepAddress('outputs', o.target, values));
    outputStmts.push(forRange('e', id('lid'), u(count), [...coords, ifS(bin('<', id('t'), id('len')), [...stmts, assign(out, value)], [assign(out, f(0))])], u(g.workgroupSize)));
  }
  const carryIndex = (k: Expr) => bin('+', bin('*', bin('+', bin('*', bin('+', bin('*', id('seq'), p('chunks')), id('chunk')), u(R)), id('lid')), u(K)), k);
  const body: Stmt[] = [
    ...chunkPrologue(w),
    blank,
    ...w.transitions(id('count')),
    blank,
    ...w.decodeRow(id('lid')),
    varS('row', W.arrayOf(W.f32, K)),
    varS('next', W.arrayOf(W.f32, K)),
    ifS(bin('<', id('lid'), u(R)), [countedLoop('k', u(0), K, [assign(index(id('row'), id('k')), index(w.buffer('carry'), carryIndex(id('k'))))])]),
    blank,
    comment('every step of the chunk (a uniform bound: barriers inside); past the length: zero outputs'),
    forRange('s', u(0), call('min', id('C'), bin('-', p('T'), id('t0'))), [
      letS('t', bin('+', id('t0'), id('s'))),
      letS('step_row', stepRow(w.shape.time, id('seq'), p('T'), id('t'))),
      ifS(bin('&&', bin('<', id('lid'), u(R)), bin('<', id('s'), id('count'))), w.rowStep(true)),
      ifS(bin('<', id('lid'), u(R)), [countedLoop('k', u(0), K, [assign(index(id('state_wg'), bin('+', bin('*', id('lid'), u(K)), id('k'))), index(id('row'), id('k')))])]),
      callS('workgroupBarrier'),
      ...outputStmts,
      callS('workgroupBarrier'),
    ]),
  ];
  const code = printModule(
    w.module(header(w, 'steps', 'One workgroup per (sequence, chunk): every step\'s state from the carried-in state, and the outputs.'), body, g.workgroupSize, [
      { name: 'trans', count: g.C * K * K },
      { name: 'state_wg', count: R * K },
    ]),
  );
  return { code, buffers: [...w.used], workgroupSize: g.workgroupSize };
}

export function emitChunkPasses(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry): Record<ChunkPass, ChunkPassKernel> {
  return { aggregate: aggregatePass(shape, sizes, layout, g), carry: carryPass(shape, sizes, layout, g), steps: stepsPass(shape, sizes, layout, g) };
}

