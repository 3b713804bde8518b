// The chunked kernels in WY form, for a diagonal-plus-rank-k transition shared by every row, whose
// factors the analysis gives (LowRankPlan): per row s (the state along the mixed index j), step t is
//
//   s_t = d_t ⊙ s_{t-1} + Σ_r u_{t,r} a_{t,r} + Σ_q z_{t,q} p_{t,q}[row],   a_{t,r} = w_{t,r} · s_{t-1}
//
// Write e_t = (a_t, p_t) (n = k + m numbers per row and step) and y_{t,c} = (u_t, z_t) its columns.
// Within a chunk of C steps from h = s_{-1}, with G(τ, t) = d_{τ+1} ⊙ … ⊙ d_t:
//
//   a_{t,r} = (G(-1, t-1) w_{t,r}) · h + Σ_{τ<t, c} L[(t,r), (τ,c)] e_{τ,c},  L[(t,r),(τ,c)] = w_{t,r} · G(τ, t-1) y_{τ,c}
//   s_{C-1} = G(-1, C-1) ⊙ h + Σ_{τ,c} (G(τ, C-1) y_{τ,c}) e_{τ,c}
//
// The first line is a unit lower-triangular system for the a's (the UT transform); L, the decayed
// w's (W̃) and the decayed columns (Ŷ) are the same for every row, so they are computed once per
// (sequence, chunk). Three passes:
//
//   aggregate  one workgroup per (sequence, chunk): the factors of each step (y, w, d; the key norms
//              once per step, not per row), then L and Ŷ (one invocation per column (τ, c), carrying
//              G(τ, t-1) y_{τ,c} forward through the chunk), then W̃ and G(-1, C-1). Written to `agg`.
//   carry      one invocation per (sequence, row), over the chunks in order: the row's a's by forward
//              substitution (C·k·K + C²·k·n/2), the state the next chunk starts from (C·n·K); writes
//              each chunk's starting state and a's to `carry`.
//   steps      one invocation per (sequence, chunk, row): replays the chunk from its carried state with
//              the stored a's (no dot products: s_t = d_t ⊙ s_{t-1} + Σ_c y_{t,c} e_{t,c}) and computes
//              the outputs, which read only the invocation's own row.
//
// Nothing per row lives in workgroup memory, so the state size is not bound by it (K = V = 128 runs).
// Steps at or past a sequence's length are the identity (d = 1, y = 0, w = 0) and write zero outputs.
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import * as W from '../wgsl/ast.js';
import { assign, bin, blank, call, callS, comment, forRange, id, ifS, index, letS, varS, type Expr, type Stmt } from '../wgsl/ast.js';
import { printModule } from '../wgsl/print.js';
import { countedLoop } from '../wgsl/unroll-budget.js';
import { indexExpr, type IndexValue } from '../lower/expr.js';
import { flatWorkgroupIndex } from '../lower/grid.js';
import { stepRow } from '../lower/time.js';
import { strides } from '../../src/compiler/ir/dims.js';
import type { KernelLayout } from '../wgsl-seq/layout.js';
import type { ChunkShape, WyFactors } from './shape.js';
import { chunkPrologue, f, p, PassWriter, u, type ChunkBuffer, type ChunkGeometry, type ChunkPass, type ChunkPassKernel } from './emit.js';

/**
 * Invocations per workgroup of the aggregate pass, and the most rows per workgroup of the carry and
 * steps passes: 32 keeps two workgroups per sequence at R = 64 (a batch of one still fills two
 * cores of lavapipe) and one warp per workgroup on a GPU.
 */
export const WY_WORKGROUP = 64;
export const WY_ROWS = 32;

/** Where each factor sits in `agg` (per (sequence, chunk)) and in `carry`, in floats. */
export interface WyLayout {
  /** Rank k, offset rank m, n = k + m columns per step. */
  k: number;
  m: number;
  n: number;
  /** Whether every step's diagonal is 1 (no decay): then neither D nor G is stored. */
  dOne: boolean;
  /** Whether the carry pass replays the chunks itself (ChunkGeometry.replay). */
  fused: boolean;
  agg: { Y: number; W: number; D: number; L: number; Yh: number; G: number; size: number };
  carry: { A: number; size: number };
}

export function wyLayout(shape: ChunkShape, C: number, fused = true): WyLayout {
  const wy = shape.wy!;
  const { K, R } = shape;
  const k = wy.plan.u.length;
  const m = wy.plan.offset.z.length;
  const n = k + m;
  const dOne = wy.dConst === 1;
  const Y = 0;
  const Wo = Y + C * n * K;
  const D = Wo + C * k * K;
  const L = D + (dOne ? 0 : C * K);
  const Yh = L + C * k * C * n;
  // Fused: the carry pass replays the chunk, so neither Ŷ nor G is needed, and nothing is carried in memory.
  if (fused) return { k, m, n, dOne, fused, agg: { Y, W: Wo, D, L, Yh, G: Yh, size: Yh }, carry: { A: 0, size: 0 } };
  const G = Yh + C * n * K;
  return { k, m, n, dOne, fused, agg: { Y, W: Wo, D, L, Yh, G, size: G + (dOne ? 0 : K) }, carry: { A: R * K, size: R * K + R * C * k } };
}

const wyComments = (l: WyLayout): Partial<Record<ChunkBuffer, string>> => ({
  agg: `per (sequence, chunk), ${l.agg.size} floats: Y [C][n][K] at 0, W̃ [C][k][K] at ${l.agg.W}, ${l.dOne ? '' : `D [C][K] at ${l.agg.D}, `}L [C·k][C·n] at ${l.agg.L}${l.fused ? '' : `, Ŷ [C][n][K] at ${l.agg.Yh}${l.dOne ? '' : `, G [K] at ${l.agg.G}`}`}`,
  carry: `per (sequence, chunk), ${l.carry.size} floats: the R rows the chunk starts from [R][K], then their a's [R][C][k] at ${l.carry.A}`,
});

const wyHeader = (w: PassWriter, l: WyLayout, pass: ChunkPass, what: string) => {
  const { shape, sizes, geometry } = w;
  const dims = Object.keys(sizes).map((dim) => `${dim}=${sizes[dim]}`).join(', ');
  return [
    `${shape.state.name}: chunked ${pass} pass (WY form) generated by rnnc; do not edit.`,
    what,
    `Diagonal-plus-rank-${l.k} transition along ${shape.state.dims[shape.position]} (K=${shape.K}), shared by R=${shape.R} rows; offset of rank ${l.m}; C=${geometry.C} steps per chunk; dims ${dims}.`,
  ].join('\n');
};

const add = (...xs: Expr[]) => xs.reduce((a, b) => bin('+', a, b));
/** `x / n`, `x % n` and `x * n` that leave out n = 1. */
const over = (x: Expr, n: number) => (n === 1 ? x : bin('/', x, u(n)));
const rem = (x: Expr, n: number): Expr | undefined => (n === 1 ? undefined : bin('%', x, u(n)));
const times = (x: Expr, n: number) => (n === 1 ? x : bin('*', x, u(n)));
/** Row `r` of block `group % RB`: the block's first row plus the invocation. */
const blockRow = (group: Expr, RB: number, WG: number): Expr => {
  const block = rem(group, RB);
  return block ? add(mul(block, u(WG)), id('lid')) : id('lid');
};
const mul = (a: Expr, b: Expr) => bin('*', a, b);

/** The row of the chunk's step `t` (logical, from t0): `seq * T + t0 + t` forward, at position len-1-(t0+t) reversed (backends/lower/time.ts). */
const rowOf = (w: PassWriter, t: Expr): Expr => (w.shape.time.reversed ? stepRow(w.shape.time, id('seq'), p('T'), bin('+', id('t0'), t)) : add(mul(id('seq'), p('T')), id('t0'), t));
const aggAt = (w: PassWriter, offset: Expr) => index(w.buffer('agg'), add(id('base'), offset));

/** The diagonal of step `t` at `j`: the stored D, or the constant. */
function decay(w: PassWriter, l: WyLayout, t: Expr, j: Expr): Expr | undefined {
  if (l.dOne) return undefined;
  return aggAt(w, add(u(l.agg.D), mul(t, u(w.shape.K)), j));
}

/** Statements evaluating the offset's row parts p_q of this row at `step_row` into `e[base + k + q]`. */
function rowParts(w: PassWriter, wy: WyFactors, l: WyLayout, into: Stmt[], at: (q: number) => Expr): void {
  const ev = w.evaluator(into);
  const rows = w.shape.rowDims.map((_, k) => id(`row_${k}`));
  wy.plan.offset.p.forEach((def, q) => {
    const value = ev.evaluate(def, rows);
    into.push(assign(index(id('e'), at(q)), value));
  });
  w.collect(ev);
  void l;
}

function aggregatePass(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry, l: WyLayout): ChunkPassKernel {
  const w = new PassWriter(shape, sizes, layout, g);
  const wy = shape.wy!;
  const { K } = shape;
  const { C } = g;
  const { k, n } = l;
  const CN = C * n;

  // Phase 1: one invocation per step evaluates its factors over j (lets that do not depend on j once).
  const valid: Stmt[] = [letS('step_row', rowOf(w, id('t')))];
  const ev = w.evaluator(valid);
  const jBody = ev.open([]);
  const jv: IndexValue[] = [id('j')];
  const yAt = (c: number) => aggAt(w, add(u(l.agg.Y), mul(add(mul(id('t'), u(n)), u(c)), u(K)), id('j')));
  const wAt = (r: number) => aggAt(w, add(u(l.agg.W), mul(add(mul(id('t'), u(k)), u(r)), u(K)), id('j')));
  const dAt = () => aggAt(w, add(u(l.agg.D), mul(id('t'), u(K)), id('j')));
  wy.plan.u.forEach((def, r) => jBody.push(assign(yAt(r), ev.evaluate(def, jv))));
  wy.plan.offset.z.forEach((def, q) => jBody.push(assign(yAt(k + q), ev.evaluate(def, jv))));
  wy.plan.w.forEach((def, r) => jBody.push(assign(wAt(r), ev.evaluate(def, jv))));
  if (!l.dOne) jBody.push(assign(dAt(), ev.evaluate(wy.plan.d, wy.plan.d.vars.length ? jv : [])));
  ev.close();
  w.collect(ev);
  valid.push(countedLoop('j', u(0), K, jBody));
  const identity: Stmt[] = [
    countedLoop('j', u(0), K, [
      ...Array.from({ length: n }, (_, c) => assign(yAt(c), f(0))),
      ...Array.from({ length: k }, (_, r) => assign(wAt(r), f(0))),
      ...(l.dOne ? [] : [assign(dAt(), f(1))]),
    ]),
  ];

  // Phase 2: one invocation per column (τ, c): x = G(τ, t-1) y_{τ,c} carried through the chunk.
  const decayX = decay(w, l, id('t'), id('j'));
  const columns: Stmt[] = [
    letS('tau', bin('/', id('col'), u(n))),
    varS('x', W.arrayOf(W.f32, K)),
    countedLoop('j', u(0), K, [assign(index(id('x'), id('j')), aggAt(w, add(u(l.agg.Y), mul(id('col'), u(K)), id('j'))))]),
    forRange('t', bin('+', id('tau'), u(1)), u(C), [
      countedLoop('r', u(0), k, [
        varS('acc', W.f32, f(0)),
        countedLoop('j', u(0), K, [assign(id('acc'), mul(aggAt(w, add(u(l.agg.W), mul(add(mul(id('t'), u(k)), id('r')), u(K)), id('j'))), index(id('x'), id('j'))), '+=')]),
        assign(aggAt(w, add(u(l.agg.L), mul(add(mul(id('t'), u(k)), id('r')), u(CN)), id('col'))), id('acc')),
      ]),
      ...(decayX ? [countedLoop('j', u(0), K, [assign(index(id('x'), id('j')), decayX, '*=')])] : []),
    ]),
    ...(l.fused ? [] : [countedLoop('j', u(0), K, [assign(aggAt(w, add(u(l.agg.Yh), mul(id('col'), u(K)), id('j'))), index(id('x'), id('j')))])]),
  ];

  // Phase 3: W̃_t = G(-1, t-1) ⊙ w_t in place, and G(-1, C-1); one invocation per j.
  const decayJ = decay(w, l, id('t'), id('j'));
  const phase3: Stmt[] = l.dOne
    ? []
    : [
        storageBarrier(),
        comment('the decayed source parts W̃ (in place) and the chunk\'s decay G'),
        forRange('j', id('lid'), u(K), [
          varS('gj', W.f32, f(1)),
          countedLoop('t', u(0), C, [
            countedLoop('r', u(0), k, [assign(aggAt(w, add(u(l.agg.W), mul(add(mul(id('t'), u(k)), id('r')), u(K)), id('j'))), id('gj'), '*=')]),
            assign(id('gj'), decayJ!, '*='),
          ]),
          ...(l.fused ? [] : [assign(aggAt(w, add(u(l.agg.G), id('j'))), id('gj'))]),
        ], u(WY_WORKGROUP)),
      ];

  const body: Stmt[] = [
    ...chunkPrologue(w),
    letS('base', mul(add(mul(id('seq'), p('chunks')), id('chunk')), u(l.agg.size))),
    blank,
    comment('each step\'s factors y = (u, z), w and d; steps past the length are the identity'),
    forRange('t', id('lid'), u(C), [ifS(bin('<', id('t'), id('count')), valid, identity)], u(WY_WORKGROUP)),
    storageBarrier(),
    comment(l.fused ? 'L[(t, r), (τ, c)] = w_{t,r} · G(τ, t-1) y_{τ,c} for τ < t' : 'L[(t, r), (τ, c)] = w_{t,r} · G(τ, t-1) y_{τ,c} for τ < t, and Ŷ_{τ,c} = G(τ, C-1) y_{τ,c}'),
    forRange('col', id('lid'), u(CN), columns, u(WY_WORKGROUP)),
    ...phase3,
  ];
  const code = printModule(w.module(wyHeader(w, l, 'aggregate', 'One workgroup per (sequence, chunk): the chunk\'s factors, L, Ŷ, W̃ and G, shared by every row.'), body, WY_WORKGROUP, [], wyComments(l)));
  return { code, buffers: [...w.used], workgroupSize: WY_WORKGROUP };
}

const storageBarrier = (): Stmt => callS('storageBarrier');

function carryPass(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry, l: WyLayout): ChunkPassKernel {
  const w = new PassWriter(shape, sizes, layout, g);
  const wy = shape.wy!;
  const { K, R } = shape;
  const { C } = g;
  const { k, n } = l;
  const CN = C * n;
  const WG = g.workgroupSize;
  const RB = Math.ceil(R / WG);
  const parts: Stmt[] = [letS('step_row', rowOf(w, id('t')))];
  rowParts(w, wy, l, parts, (q) => add(mul(id('t'), u(n)), u(k + q)));
  const zeroParts = Array.from({ length: l.m }, (_, q) => assign(index(id('e'), add(mul(id('t'), u(n)), u(k + q))), f(0)));
  const d = decay(w, l, id('t'), id('j'));
  // Fused: replay the chunk from h with the a's just solved, writing the outputs (past the length: zeros).
  const replay: Stmt[] = l.fused
    ? [
        comment('the chunk\'s steps from h with its a\'s: s_t = d_t ⊙ s_{t-1} + Σ_c y_{t,c} e_{t,c}, and the outputs'),
        forRange('t', u(0), call('min', u(C), bin('-', p('T'), id('t0'))), [
          letS('step_row', rowOf(w, id('t'))),
          ifS(
            bin('<', id('t'), id('count')),
            [
              ...outputs(w, wy, false, 'before'),
              countedLoop('j', u(0), K, [
                varS('acc', W.f32, d ? mul(d, index(id('h'), id('j'))) : index(id('h'), id('j'))),
                countedLoop('c', u(0), n, [assign(id('acc'), mul(aggAt(w, add(u(l.agg.Y), mul(add(mul(id('t'), u(n)), id('c')), u(K)), id('j'))), index(id('e'), add(mul(id('t'), u(n)), id('c')))), '+=')]),
                assign(index(id('h'), id('j')), id('acc')),
              ]),
              ...outputs(w, wy, false, 'after'),
            ],
            outputs(w, wy, true),
          ),
        ]),
      ]
    : [];
  const storeA = (value: Expr) => (l.fused ? [] : [assign(index(w.buffer('carry'), add(id('cbase'), u(l.carry.A), mul(add(mul(id('r'), u(C)), id('t')), u(k)), id('q'))), value)]);
  const chunkBody: Stmt[] = [
    letS('t0', mul(id('c'), u(C))),
    letS('count', call('select', u(0), call('min', u(C), bin('-', id('len'), id('t0'))), bin('>', id('len'), id('t0')))),
    letS('base', mul(add(mul(id('seq'), p('chunks')), id('c')), u(l.agg.size))),
    ...(l.fused
      ? []
      : [
          letS('cbase', mul(add(mul(id('seq'), p('chunks')), id('c')), u(l.carry.size))),
          countedLoop('j', u(0), K, [assign(index(w.buffer('carry'), add(id('cbase'), mul(id('r'), u(K)), id('j'))), index(id('h'), id('j')))]),
        ]),
    ifS(bin('>', id('count'), u(0)), [
      comment('the offset\'s row parts p of each step'),
      countedLoop('t', u(0), C, [ifS(bin('<', id('t'), id('count')), parts, zeroParts)]),
      comment('the a\'s: (I - L) a = W̃ h + L_z p, by forward substitution'),
      countedLoop('t', u(0), C, [
        countedLoop('q', u(0), k, [
          letS('row_tq', add(mul(id('t'), u(k)), id('q'))),
          varS('acc', W.f32, f(0)),
          countedLoop('j', u(0), K, [assign(id('acc'), mul(aggAt(w, add(u(l.agg.W), mul(id('row_tq'), u(K)), id('j'))), index(id('h'), id('j'))), '+=')]),
          forRange('i', u(0), mul(id('t'), u(n)), [assign(id('acc'), mul(aggAt(w, add(u(l.agg.L), mul(id('row_tq'), u(CN)), id('i'))), index(id('e'), id('i'))), '+=')]),
          assign(index(id('e'), add(mul(id('t'), u(n)), id('q'))), id('acc')),
          ...storeA(id('acc')),
        ]),
      ]),
      ...(l.fused
        ? []
        : [
            comment('the next chunk\'s state: G ⊙ h + Ŷ e'),
            countedLoop('j', u(0), K, [
              varS('acc', W.f32, l.dOne ? index(id('h'), id('j')) : mul(aggAt(w, add(u(l.agg.G), id('j'))), index(id('h'), id('j')))),
              countedLoop('i', u(0), CN, [assign(id('acc'), mul(aggAt(w, add(u(l.agg.Yh), mul(id('i'), u(K)), id('j'))), index(id('e'), id('i'))), '+=')]),
              assign(index(id('h'), id('j')), id('acc')),
            ]),
          ]),
    ]),
    ...replay,
  ];
  const body: Stmt[] = [
    letS('group', flatWorkgroupIndex()),
    ifS(bin('>=', id('group'), times(p('batch'), RB)), [{ kind: 'return' }]),
    letS('seq', over(id('group'), RB)),
    letS('r', blockRow(id('group'), RB, WG)),
    // Only when the rows do not fill the last block: code after a divergent return cannot load what the rows share as one value.
    ...(R % WG ? [ifS(bin('>=', id('r'), u(R)), [{ kind: 'return' } as Stmt])] : []),
    ...w.decodeRow(id('r')),
    letS('len', call('min', index(w.buffer('lengths'), id('seq')), p('T'))),
    varS('h', W.arrayOf(W.f32, K)),
    varS('e', W.arrayOf(W.f32, CN)),
    countedLoop('j', u(0), K, [assign(index(id('h'), id('j')), index(w.buffer('state_in'), w.stateAddress('state_in', id('j'))))]),
    blank,
    comment('each chunk starts from h'),
    forRange('c', u(0), p('chunks'), chunkBody),
    blank,
    comment('the final state'),
    countedLoop('j', u(0), K, [assign(index(w.buffer('state_out'), w.stateAddress('state_out', id('j'))), index(id('h'), id('j')))]),
  ];
  const code = printModule(w.module(wyHeader(w, l, 'carry', l.fused ? `One invocation per (sequence, row), a workgroup per ${WG} rows of one sequence: each chunk's a's, its steps and outputs, and the final state.` : `One invocation per (sequence, row), a workgroup per ${WG} rows of one sequence: each chunk's starting state and a's, and the final state.`), body, WG, [], wyComments(l)));
  return { code, buffers: [...w.used], workgroupSize: WG };
}

/**
 * Each output at this row: its row variables bound to the row, the others looped; `zero` writes zeros
 * (steps past the length). `when` takes the outputs of the state before the step's update or those
 * after it (the state row `h` is the one before or after); all of them by default.
 */
function outputs(w: PassWriter, wy: WyFactors, zero: boolean, when?: 'before' | 'after'): Stmt[] {
  const { shape, sizes } = w;
  const out: Stmt[] = [];
  shape.outputs.forEach((o, which) => {
    if (when !== undefined && wy.before[which] !== (when === 'before')) return;
    const map = wy.outputRows[which]!;
    const free = o.vars.map((_, k) => k).filter((k) => !map.includes(k));
    const freeDims = free.map((k) => o.vars[k]!.dim);
    const st = strides(freeDims, sizes);
    const count = freeDims.reduce((a, dim) => a * sizes[dim]!, 1);
    const values: IndexValue[] = o.vars.map((_, k) => (map.includes(k) ? id(`row_${map.indexOf(k)}`) : id(`o_${k}`)));
    const coords: Stmt[] = free.map((k, x) => {
      let e: Expr = id('oe');
      if (st[x]! > 1) e = bin('/', e, u(st[x]!));
      if (x > 0) e = bin('%', e, u(sizes[freeDims[x]!]!));
      return letS(`o_${k}`, e);
    });
    const body: Stmt[] = [...coords];
    const target = index(w.buffer('outputs'), w.stepAddress('outputs', o.target, values));
    if (zero) body.push(assign(target, f(0)));
    else {
      const ev = w.evaluator(body, (vs) => index(id('h'), indexExpr(vs[shape.position]!)));
      body.push(assign(target, ev.evaluate(o, values)));
      w.collect(ev);
    }
    const loop = free.length ? [countedLoop('oe', u(0), count, body)] : body;
    // A row coordinate the output does not range over: only the row at 0 there writes it.
    const unmapped = map.map((v, k) => (v < 0 ? bin('==', id(`row_${k}`), u(0)) : undefined)).filter((x): x is Expr => x !== undefined);
    out.push(...(unmapped.length ? [ifS(unmapped.reduce((a, b) => bin('&&', a, b)), loop)] : [{ kind: 'block', body: loop } as Stmt]));
  });
  return out;
}

function stepsPass(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry, l: WyLayout): ChunkPassKernel {
  const w = new PassWriter(shape, sizes, layout, g);
  const wy = shape.wy!;
  const { K, R } = shape;
  const { C } = g;
  const { k, n } = l;
  const WG = g.workgroupSize;
  const RB = Math.ceil(R / WG);
  const valid: Stmt[] = [countedLoop('q', u(0), k, [assign(index(id('e'), id('q')), index(w.buffer('carry'), add(id('cbase'), u(l.carry.A), mul(add(mul(id('r'), u(C)), id('t')), u(k)), id('q'))))])];
  rowParts(w, wy, l, valid, (q) => u(k + q));
  const d = decay(w, l, id('t'), id('j'));
  valid.push(
    ...outputs(w, wy, false, 'before'),
    countedLoop('j', u(0), K, [
      varS('acc', W.f32, d ? mul(d, index(id('h'), id('j'))) : index(id('h'), id('j'))),
      countedLoop('c', u(0), n, [assign(id('acc'), mul(aggAt(w, add(u(l.agg.Y), mul(add(mul(id('t'), u(n)), id('c')), u(K)), id('j'))), index(id('e'), id('c'))), '+=')]),
      assign(index(id('h'), id('j')), id('acc')),
    ]),
    ...outputs(w, wy, false, 'after'),
  );
  const body: Stmt[] = [
    letS('group', flatWorkgroupIndex()),
    ifS(bin('>=', id('group'), times(mul(p('batch'), p('chunks')), RB)), [{ kind: 'return' }]),
    letS('seq', bin('/', over(id('group'), RB), p('chunks'))),
    letS('chunk', bin('%', over(id('group'), RB), p('chunks'))),
    letS('r', blockRow(id('group'), RB, WG)),
    // Only when the rows do not fill the last block: code after a divergent return cannot load what the rows share as one value.
    ...(R % WG ? [ifS(bin('>=', id('r'), u(R)), [{ kind: 'return' } as Stmt])] : []),
    ...w.decodeRow(id('r')),
    letS('t0', mul(id('chunk'), u(C))),
    letS('len', call('min', index(w.buffer('lengths'), id('seq')), p('T'))),
    letS('count', call('select', u(0), call('min', u(C), bin('-', id('len'), id('t0'))), bin('>', id('len'), id('t0')))),
    letS('base', mul(add(mul(id('seq'), p('chunks')), id('chunk')), u(l.agg.size))),
    letS('cbase', mul(add(mul(id('seq'), p('chunks')), id('chunk')), u(l.carry.size))),
    varS('h', W.arrayOf(W.f32, K)),
    varS('e', W.arrayOf(W.f32, n)),
    countedLoop('j', u(0), K, [assign(index(id('h'), id('j')), index(w.buffer('carry'), add(id('cbase'), mul(id('r'), u(K)), id('j'))))]),
    blank,
    comment('the chunk\'s steps from the carried state, with the stored a\'s; past the length: zero outputs'),
    forRange('t', u(0), call('min', u(C), bin('-', p('T'), id('t0'))), [
      letS('step_row', rowOf(w, id('t'))),
      ifS(bin('<', id('t'), id('count')), valid, outputs(w, wy, true)),
    ]),
  ];
  const code = printModule(w.module(wyHeader(w, l, 'steps', `One invocation per (sequence, chunk, row), a workgroup per ${WG} rows of one (sequence, chunk): the chunk's states from its carried state, and the outputs.`), body, WG, [], wyComments(l)));
  return { code, buffers: [...w.used], workgroupSize: WG };
}

export function emitWyPasses(shape: ChunkShape, sizes: DimSizes, layout: KernelLayout, g: ChunkGeometry): Partial<Record<ChunkPass, ChunkPassKernel>> {
  const l = wyLayout(shape, g.C, g.replay !== 'parallel');
  const passes = { aggregate: aggregatePass(shape, sizes, layout, g, l), carry: carryPass(shape, sizes, layout, g, l) };
  return l.fused ? passes : { ...passes, steps: stepsPass(shape, sizes, layout, g, l) };
}
