// The seq backend's pre-pass over subgroups: lanes over step rows, weights shared by broadcast.
//
// The rows pre-pass (emit.ts rowsPrepass) gives each invocation its own weight rows: lavapipe loads
// a per-invocation address lane by lane, so every weight vec4 costs eight scalar loads for one SIMD
// vector of work. Here a workgroup is one subgroup of SUBGROUP_ROWS invocations, one per step row
// (its lanes): each lane holds its row's input quads in registers (`let`s), and for each output
// element the lanes load eight consecutive weight vec4s of the element's row, one each, and pass them
// round with `subgroupBroadcast(w, i)` (constant i): each weight vec4 is loaded once and used by the
// eight rows. The reduction runs in blocks of BLOCK_QUADS quads: a loop over blocks (not unrolled)
// around a loop over the output elements, the block's input quads reloaded per block, each block's
// partial sum added to the element's value in `scratch` (the last block applies what the definition
// does with its sum). Lanes past `batch * T` compute on the last row (the broadcasts need every lane)
// and write nothing.
//
// Measured on lavapipe (docs/seq-bench.md, "The pre-pass over subgroups"; LSTM X = H = 256, batch 8):
// blocks of 16 quads ran as fast as the whole reduction unrolled (64 input lets) and compile in under
// a tenth of its time (0.8-0.9 s of CPU against 8-10 s); blocks of 32 compiled in 5.7 s, of 8 ran
// slower. The generated kernel takes 2.2x less CPU than the rows pre-pass and compiles in 0.6-0.9 s
// (the rows one 0.9-1.1 s). Definitions whose sums differ only in which weight matrix they read
// (LSTM's four input projections, GRU's three, evenly spaced in the weights buffer) are one loop over
// all their elements: one body to compile instead of four.
import { nodesUnder, type Def, type Module, type Node } from '../../src/compiler/ir/ir.js';
import { strides, type DimSizes } from '../../src/compiler/ir/dims.js';
import * as W from '../wgsl/ast.js';
import { assign, bin, blank, call, comment, forRange, id, ifS, index, letS, lit, member, varS, type Expr, type Stmt } from '../wgsl/ast.js';
import { Lowerer, indexExpr, type Env, type IndexValue, type LoadNode } from '../lower/expr.js';
import { flatWorkgroupIndex } from '../lower/grid.js';
import type { MathHelper } from '../wgsl/math.js';
import type { KernelDef } from './program.js';

/** Step rows per workgroup: one subgroup (lavapipe's SIMD width; the job requires subgroups of at least this). */
export const SUBGROUP_ROWS = 8;
/** Quads of the reduction per block (16 input lets per lane per input): see the header. */
export const BLOCK_QUADS = 16;

/** A tensor's region in a buffer, in floats (an input's offset is per step row: times `batch * T`). */
export interface RegionOf {
  offset: number;
  size: number;
  dims: string[];
}

/** What the emitter needs of the seq kernel writer (emit.ts KernelWriter.subgroupContext). */
export interface SubgroupPrepassContext {
  m: Module;
  sizes: DimSizes;
  /** The pre-pass's definitions (Program.parallel), in program order. */
  defs: KernelDef[];
  lets: Map<string, Def>;
  /** Floats per step row of `scratch`, and each definition's region in it. */
  perStep: number;
  scratch: (key: string) => { offset: number; dims: string[]; size: number };
  region: (role: 'inputs' | 'weights', tensor: string) => RegionOf;
  counter: { next: number };
  /** Buffers the kernel reads (its bindings), filled as it is written. */
  loaded: Set<'inputs' | 'weights' | 'inputs4' | 'weights4'>;
}

/** One loop of the kernel: G definitions whose sums are alike but for their weights (stacked), or one. */
interface Loop {
  defs: KernelDef[];
  /** The sum each computes (its node id in each definition). */
  sums: number[];
  over: { name: string; dim: string };
  /** Per weight tensor of defs[0]'s sum: the distance (floats) to the same tensor of the next definition's sum. */
  weightStride: Map<string, number>;
  scratchStride: number;
  /** Input tensors read per lane in the sum's term (the row's quads, held in lets). */
  inputs: string[];
}

const u = (n: number) => lit.u32(n);
const isZero = (e: Expr) => e.kind === 'literal' && e.value === 0;
const add = (a: Expr, b: Expr): Expr => (isZero(a) ? b : isZero(b) ? a : bin('+', a, b));
const mul = (a: Expr, k: number): Expr => (k === 0 ? u(0) : k === 1 ? a : bin('*', a, u(k)));


/** The sum nodes of `def` not inside another reduction. */
function outerReductions(def: Def): number[] {
  const out: number[] = [];
  const seen = new Set<number>();
  const visit = (k: number): void => {
    if (seen.has(k)) return;
    seen.add(k);
    const n = def.nodes[k]!;
    if (n.op === 'reduce') out.push(k);
    else if ('args' in n) n.args.forEach(visit);
  };
  visit(def.root);
  return out;
}

/**
 * The loops of the subgroup pre-pass, or why the pre-pass's definitions do not take it: each must
 * have one sum (outside any other reduction) over a dim that is a multiple of 4, whose term is weights
 * (params read along the sum's index last), per-row inputs (vectors over the sum's index alone),
 * constants, +, - and *, and factors that do not depend on the sum's index; weights and inputs in
 * 4-aligned regions (their vec4 views).
 */
export function subgroupLoops(ctx: Pick<SubgroupPrepassContext, 'defs' | 'sizes' | 'region' | 'scratch'>): Loop[] | string {
  const { sizes } = ctx;
  const shapes: { k: KernelDef; sum: number; inputs: string[]; signature: string }[] = [];
  for (const k of ctx.defs) {
    const def = k.def;
    const other = def.nodes.find((n) => n.op === 'load' && !(n.source === 'param' || (n.source === 'input' && !n.reversed)));
    if (other) return `${k.target} reads ${(other as LoadNode).tensor}, neither a param nor an input of its step`;
    const sums = outerReductions(def);
    if (sums.length !== 1) return `${k.target} has ${sums.length} sums outside other reductions (the subgroup pre-pass takes one)`;
    const s = def.nodes[sums[0]!]! as Extract<Node, { op: 'reduce' }>;
    if (s.fn !== 'sum' || sizes[s.over.dim]! % 4 !== 0) return `${k.target}'s reduction is not a sum over a multiple of 4 terms`;
    const over = s.over.name;
    const inputs = new Set<string>();
    let why: string | undefined;
    const term = (id: number): void => {
      const n = def.nodes[id]!;
      if (why || !n.space.includes(over)) return;
      if (n.type !== 'f32') why = 'a term that is not f32';
      else if (n.op === 'const') return;
      else if (n.op === 'binary' && (n.fn === 'add' || n.fn === 'sub' || n.fn === 'mul')) n.args.forEach(term);
      else if (n.op === 'load' && n.index.indexOf(over) === n.index.length - 1 && n.index.filter((v) => v === over).length === 1) {
        if (n.source === 'param') {
          const r = ctx.region('weights', n.tensor);
          if (r.offset % 4 !== 0 || r.size % 4 !== 0) why = `${n.tensor} is not 4-aligned in the weights buffer`;
        } else if (n.source === 'input' && !n.reversed && n.index.length === 1) {
          const r = ctx.region('inputs', n.tensor);
          if (r.offset % 4 !== 0 || r.size % 4 !== 0) why = `${n.tensor} is not 4-aligned in the inputs buffer`;
          inputs.add(n.tensor);
        } else why = `the term reads ${n.tensor} otherwise than as weights or a row's input vector`;
      } else why = `the term of ${k.target}'s sum has an operation other than +, - and *`;
    };
    term(s.args[0]);
    if (why) return why;
    // Sums alike but for the weights: the same nodes, params of the same sizes (their names left out);
    // what each definition does with its sum may differ (GRU's n adds a bias, z and r do not).
    const order = nodesUnder(def, sums[0]!);
    const signature = JSON.stringify([
      def.vars.map((v) => v.dim),
      order.map((id) => {
        const n = def.nodes[id]!;
        const args = 'args' in n ? n.args.map((a) => order.indexOf(a)) : [];
        return n.op === 'load' && n.source === 'param' ? { ...n, id: 0, args, tensor: ctx.region('weights', n.tensor).size, span: 0 } : { ...n, id: 0, args, span: 0 };
      }),
    ]);
    shapes.push({ k, sum: sums[0]!, inputs: [...inputs], signature });
  }
  const loops: Loop[] = [];
  const single = (x: (typeof shapes)[number]): Loop => {
    const s = x.k.def.nodes[x.sum]! as Extract<Node, { op: 'reduce' }>;
    return { defs: [x.k], sums: [x.sum], over: { name: s.over.name, dim: s.over.dim }, weightStride: new Map(), scratchStride: 0, inputs: x.inputs };
  };
  const bySignature = new Map<string, (typeof shapes)[number][]>();
  for (const x of shapes) bySignature.set(x.signature, [...(bySignature.get(x.signature) ?? []), x]);
  for (const group of bySignature.values()) {
    const stacked = stack(group, ctx);
    if (stacked) loops.push({ ...single(group[0]!), defs: group.map((x) => x.k), sums: group.map((x) => x.sum), ...stacked });
    else loops.push(...group.map(single));
  }
  return loops;
}

/** Whether definitions alike (subgroupLoops' signature) read weights and write scratch at evenly spaced offsets: one loop then serves them. */
function stack(group: { k: KernelDef; sum: number }[], ctx: Pick<SubgroupPrepassContext, 'region' | 'scratch'>): { weightStride: Map<string, number>; scratchStride: number } | undefined {
  if (group.length < 2) return undefined;
  const defs = group.map((x) => x.k);
  const offset = (t: string) => ctx.region('weights', t).offset;
  const weightStride = new Map<string, number>();
  const orders = group.map((x) => nodesUnder(x.k.def, x.sum));
  const first = orders[0]!.map((id) => defs[0]!.def.nodes[id]!);
  for (let i = 0; i < first.length; i++) {
    const n = first[i]!;
    if (n.op !== 'load' || n.source !== 'param') continue;
    const names = defs.map((k, g) => (k.def.nodes[orders[g]![i]!] as LoadNode).tensor);
    const stride = offset(names[1]!) - offset(names[0]!);
    if (stride % 4 !== 0 || names.some((t, g) => offset(t) !== offset(names[0]!) + g * stride)) return undefined;
    if (weightStride.has(n.tensor) && weightStride.get(n.tensor) !== stride) return undefined;
    weightStride.set(n.tensor, stride);
  }
  const s0 = ctx.scratch(defs[0]!.target).offset;
  const scratchStride = ctx.scratch(defs[1]!.target).offset - s0;
  if (defs.some((k, g) => ctx.scratch(k.target).offset !== s0 + g * scratchStride)) return undefined;
  return { weightStride, scratchStride };
}

/**
 * Writes the subgroup pre-pass into `mod` (its params, inputs, weights and scratch globals already
 * declared; the caller adds the vec4 views `loaded` names and the math prelude of the helpers
 * returned). `loops` from subgroupLoops.
 */
export function emitSubgroupPrepass(mod: W.Module, ctx: SubgroupPrepassContext, loops: Loop[]): Set<MathHelper> {
  const { sizes } = ctx;
  const steps = id('steps');
  mod.enables.push('subgroups');
  const top: Stmt[] = [];
  const body: Stmt[] = [
    letS('base', bin('*', flatWorkgroupIndex(), u(SUBGROUP_ROWS))),
    letS('steps', bin('*', member(id('params'), 'batch'), member(id('params'), 'T'))),
    ifS(bin('>=', id('base'), steps), [{ kind: 'return' }]),
    comment(`lane ${'`'}lane${'`'} computes step row base + lane; past the last row it computes the last one (every lane takes part in the broadcasts) and writes nothing`),
    letS('live', bin('<', bin('+', id('base'), id('lane')), steps)),
    letS('step_row', call('min', bin('+', id('base'), id('lane')), bin('-', steps, u(1)))),
  ];
  const loopStmts: Stmt[] = [];
  // The loop being written: its stacking index `g` scales the weight and scratch offsets.
  let current: Loop | undefined;
  let shifting = true;
  const g = (): Expr | undefined => (shifting && current && current.defs.length > 1 ? id('g') : undefined);
  const shifted = (base: number, stride: number | undefined): Expr => {
    const gi = g();
    return gi && stride ? add(u(base), mul(gi, stride)) : u(base);
  };
  const flat = (dims: string[], coords: Expr[], scale = 1): Expr => {
    const st = strides(dims, sizes);
    return coords.reduce<Expr>((acc, c, i) => add(acc, mul(c, st[i]! / scale)), u(0));
  };
  const resolve = (n: LoadNode, values: IndexValue[]): Expr => {
    const coords = values.map(indexExpr);
    if (n.source === 'input' && !n.reversed) {
      const r = ctx.region('inputs', n.tensor);
      ctx.loaded.add('inputs');
      return index(id('inputs'), add(add(mul(steps, r.offset), mul(id('step_row'), r.size)), flat(r.dims, coords)));
    }
    if (n.source === 'param') {
      const r = ctx.region('weights', n.tensor);
      ctx.loaded.add('weights');
      return index(id('weights'), add(shifted(r.offset, current?.weightStride.get(n.tensor)), flat(r.dims, coords)));
    }
    throw new Error(`emitSubgroupPrepass: a load of ${n.source} ${n.tensor} in the pre-pass`);
  };
  let sumValue: { def: Def; node: number; value: Expr } | undefined;
  const lw = new Lowerer({ lets: ctx.lets, resolve, sizes, prefix: 'v', counter: ctx.counter, stmts: top, hook: (def, node) => (sumValue && def === sumValue.def && node === sumValue.node ? sumValue.value : undefined) });
  const vec4f = W.vec(4, W.f32);

  for (const loop of loops) {
    current = loop;
    const rep = loop.defs[0]!;
    const def = rep.def;
    const G = loop.defs.length;
    const dims = def.vars.map((v) => v.dim);
    const count = dims.reduce((n, d) => n * sizes[d]!, 1);
    const K4 = sizes[loop.over.dim]! / 4;
    const BQ = Math.min(BLOCK_QUADS, 8 * Math.ceil(K4 / 8));
    const NB = Math.ceil(K4 / BQ);
    const kb: Expr = NB === 1 ? u(0) : id('kb');
    const quadAt = (q: number): Expr => (NB === 1 ? u(q) : q === 0 ? bin('*', kb, u(BQ)) : bin('+', bin('*', kb, u(BQ)), u(q)));
    // A quad past the sum's end (the last block of a sum not a multiple of BQ quads): clamped loads, no terms.
    const ragged = NB * BQ > K4;
    const clamp = (q: Expr): Expr => (ragged ? call('min', q, u(K4 - 1)) : q);
    const present = (q: number) => NB > 1 || q < K4;

    const kbBody: Stmt[] = [];
    for (const name of loop.inputs) {
      const r = ctx.region('inputs', name);
      ctx.loaded.add('inputs4');
      for (let q = 0; q < BQ; q++) {
        if (!present(q)) continue;
        kbBody.push(letS(`x_${name}_${q}`, index(id('inputs4'), add(add(mul(steps, r.offset / 4), mul(id('step_row'), r.size / 4)), clamp(quadAt(q))))));
      }
    }
    const eBody: Stmt[] = [];
    lw.open(eBody);
    if (G > 1) eBody.push(letS('g', bin('/', id('e'), u(count))), letS('ei', bin('%', id('e'), u(count))));
    const elem: Expr = G > 1 ? id('ei') : id('e');
    const st = strides(dims, sizes);
    const coords: Expr[] = dims.map((d, k) => {
      if (dims.length === 1) return elem;
      let c: Expr = elem;
      if (st[k]! > 1) c = bin('/', c, u(st[k]!));
      if (k > 0) c = bin('%', c, u(sizes[d]!));
      eBody.push(letS(`e${k}`, c));
      return id(`e${k}`);
    });
    const env: Env = new Map(def.vars.map((v, k) => [v.name, { value: coords[k]!, depth: lw.depth }]));
    const s = def.nodes[loop.sums[0]!]! as Extract<Node, { op: 'reduce' }>;
    const over = s.over.name;
    // Each weight load of the term: lane `lane` loads quad (block start + 8c + lane) of its row.
    const lanes = new Map<string, string>();
    const laneLoad = (n: LoadNode, c: number): string => {
      const key = `${n.tensor}[${n.index.join(',')}]#${c}`;
      const known = lanes.get(key);
      if (known) return known;
      const r = ctx.region('weights', n.tensor);
      const rs = strides(r.dims, sizes);
      const rowOffset = n.index.slice(0, -1).reduce<Expr>((acc, v, i) => {
        const at = coords[def.vars.findIndex((x) => x.name === v)]!;
        return add(acc, mul(at, rs[i]! / 4));
      }, shifted(r.offset / 4, loop.weightStride.has(n.tensor) ? loop.weightStride.get(n.tensor)! / 4 : undefined));
      const name = `w${ctx.counter.next++}`;
      ctx.loaded.add('weights4');
      eBody.push(letS(name, index(id('weights4'), add(rowOffset, clamp(NB === 1 && c === 0 ? id('lane') : bin('+', quadAt(8 * c), id('lane')))))));
      lanes.set(key, name);
      return name;
    };
    const term = (k: number, q: number): Expr => {
      const n = def.nodes[k]!;
      if (!n.space.includes(over)) return lw.node(def, k, env);
      if (n.op === 'const') return lit.f32(n.value);
      if (n.op === 'binary') return bin(n.fn === 'add' ? '+' : n.fn === 'sub' ? '-' : '*', term(n.args[0], q), term(n.args[1], q));
      if (n.op === 'load' && n.source === 'param') return call('subgroupBroadcast', id(laneLoad(n, Math.floor(q / 8))), u(q % 8));
      if (n.op === 'load') return id(`x_${n.tensor}_${q}`);
      throw new Error(`emitSubgroupPrepass: ${n.op} in a term`);
    };
    eBody.push(varS('acc', vec4f, call('vec4<f32>')));
    for (let q = 0; q < BQ; q++) {
      if (!present(q)) continue;
      const t = term(s.args[0], q);
      // In the last block of a ragged sum, quads past its end add nothing.
      const guarded = ragged && (NB - 1) * BQ + q >= K4 ? call('select', call('vec4<f32>'), t, bin('<', quadAt(q), u(K4))) : t;
      eBody.push(assign(id('acc'), bin('+', id('acc'), guarded)));
    }
    const a = (c: string) => member(id('acc'), c);
    const r0 = ctx.scratch(rep.target);
    const address = add(add(mul(id('step_row'), ctx.perStep), shifted(r0.offset, loop.scratchStride)), flat(dims, coords));
    eBody.push(letS('at', address));
    eBody.push(varS('s', W.f32, bin('+', bin('+', a('x'), a('y')), bin('+', a('z'), a('w')))));
    if (NB > 1) eBody.push(ifS(bin('>', kb, u(0)), [assign(id('s'), bin('+', id('s'), index(id('scratch'), id('at'))))]));
    // What each definition does with its sum, after the last block (its sum alone: nothing); the
    // stacked definition `g`'s own weights and lets, not the shifted ones of the sums.
    const rests = loop.defs.map((k, i) => ({ k, i })).filter(({ k, i }) => k.def.root !== loop.sums[i]);
    if (rests.length === 0) eBody.push(ifS(id('live'), [assign(index(id('scratch'), id('at')), id('s'))]));
    else {
      const last: Stmt[] = [];
      shifting = false;
      for (const { k, i } of rests) {
        const branch = lw.open([]);
        sumValue = { def: k.def, node: loop.sums[i]!, value: id('s') };
        const value = lw.evaluate(k.def, coords, k.def.vars.map(() => lw.depth));
        sumValue = undefined;
        lw.close();
        branch.push(assign(id('s'), value));
        last.push(...(G > 1 ? [ifS(bin('==', id('g'), u(i)), branch)] : branch));
      }
      shifting = true;
      eBody.push(...(NB > 1 ? [ifS(bin('==', kb, u(NB - 1)), last)] : last));
      eBody.push(ifS(id('live'), [assign(index(id('scratch'), id('at')), id('s'))]));
    }
    lw.close();
    const names = loop.defs.map((k) => k.target.replace(/^par:/, 'par_')).join(', ');
    kbBody.push(forRange('e', u(0), u(G * count), eBody));
    loopStmts.push(blank, comment(`${names}: ${G > 1 ? `${G} definitions alike, one loop over their ${G * count} elements; ` : ''}the sum over ${loop.over.dim} in ${NB} block${NB > 1 ? 's' : ''} of ${BQ} quads`));
    loopStmts.push(NB === 1 ? { kind: 'block', body: kbBody } : forRange('kb', u(0), u(NB), kbBody));
  }
  current = undefined;
  const entry = W.workgroupEntry(SUBGROUP_ROWS, [...body, ...top, ...loopStmts]);
  entry.params = [...entry.params.filter((p) => p.name !== 'lid'), { name: 'lane', type: W.u32, attributes: ['builtin(subgroup_invocation_id)'] }];
  mod.entryPoints.push(entry);
  return lw.helpers;
}
