// The step kernel over subgroups: lanes over 8 sequences, the recurrent sums' weights shared by broadcast.
//
// Today's step kernel (emit.ts stepModule) gives each invocation its rows of the recurrent weights
// (U): lavapipe loads a per-invocation address lane by lane. Here a workgroup is one subgroup of
// 8 lanes, one per sequence, and its units are a share of the step's (`blocks` workgroups per 8
// sequences, at least 2 so that both cores work at batch 8: laneSums). Phase 1, as the subgroup pre-pass
// does (prepass-subgroup.ts): the recurrent sums (`sum(m: U[j, m] * h[m])`), in blocks of 16 quads of
// the state, each lane's quads in lets, each weight vec4 loaded by one lane and shared by
// `subgroupBroadcast`, every sum alike but for its weights in one loop over (sum, unit), the partial
// sums added in workgroup memory (each lane reads only what it wrote: no barrier). Phase 2: the step's
// definitions at each unit for the lane's sequence, as the step kernel writes them (stepWrites), the
// recurrent sums read from workgroup memory.
//
// Measured by hand (docs/seq-bench.md): the 1024 x 256 mat-vec of LSTM X = H = 256 at batch 8 took
// 0.52-0.67 ms a step this way against 1.58-1.98 ms in the step kernel's layout (host CPU 0.69 against
// 1.75 ms), load 6-8.
import { nodesUnder, type Def, type Node } from '../../src/compiler/ir/ir.js';
import { strides, type DimSizes } from '../../src/compiler/ir/dims.js';
import { assign, bin, blank, call, comment, forRange, id, ifS, index, letS, lit, member, varS, type Expr, type Stmt } from '../wgsl/ast.js';
import * as W from '../wgsl/ast.js';
import type { LoadNode } from '../lower/expr.js';
import type { KernelDef } from './program.js';
import { BLOCK_QUADS, SUBGROUP_ROWS, type RegionOf } from './prepass-subgroup.js';

/** Workgroup storage WebGPU guarantees. */
const WORKGROUP_BYTES = 16384;

/** A recurrent sum of the step: its definition, node, and the per-lane state it reads. */
export interface RecurrentSum {
  k: KernelDef;
  node: number;
}

/** The step's recurrent sums, alike but for their weights (one loop), or why the step does not take the lanes form. */
export interface LaneSums {
  sums: RecurrentSum[];
  over: { name: string; dim: string };
  /** States read per lane in the sums' terms (each a vector over the sum's dim). */
  states: string[];
  /** Per weight tensor of the first sum: the distance to the same tensor of the next sum. */
  weightStride: Map<string, number>;
  /** Units (elements of the step's definitions). */
  units: number;
  /** Workgroups over the units per 8 sequences, and units each. */
  blocks: number;
  unitsPerBlock: number;
}


/**
 * The recurrent sums of a step's definitions (one run over the same units, the step kernel's form):
 * every reduction outside others is a sum over a multiple of 4 whose term is params read along the
 * sum's index last, old states read as vectors over it, constants, + - *; all alike but for their
 * weights, which are evenly spaced (LSTM's four `U·h`, GRU's three).
 */
export function laneSums(defs: KernelDef[], sizes: DimSizes, region: (role: 'weights' | 'state_in', tensor: string) => RegionOf): LaneSums | string {
  const found: { k: KernelDef; node: number; order: number[] }[] = [];
  const states = new Set<string>();
  let over: { name: string; dim: string } | undefined;
  for (const k of defs) {
    const def = k.def;
    const seen = new Set<number>();
    let why: string | undefined;
    const visit = (id: number): void => {
      if (seen.has(id) || why) return;
      seen.add(id);
      const n = def.nodes[id]!;
      if (n.op !== 'reduce') {
        if ('args' in n) n.args.forEach(visit);
        return;
      }
      if (n.fn !== 'sum' || sizes[n.over.dim]! % 4 !== 0) return void (why = 'a reduction that is not a sum over a multiple of 4');
      if (over && over.dim !== n.over.dim) return void (why = 'sums over different dims');
      const name = n.over.name;
      let reads = false;
      const term = (t: number): void => {
        const m = def.nodes[t]!;
        if (why) return;
        if (!m.space.includes(name)) {
          if (nodesUnder(def, t).some((x) => def.nodes[x]!.op === 'load' && (def.nodes[x] as LoadNode).source !== 'param')) why = 'a factor of a sum that reads more than params';
          return;
        }
        if (m.op === 'const') return;
        if (m.op === 'binary' && (m.fn === 'add' || m.fn === 'sub' || m.fn === 'mul')) return m.args.forEach(term);
        if (m.op === 'load' && m.index.indexOf(name) === m.index.length - 1 && m.index.filter((v) => v === name).length === 1) {
          if (m.source === 'param') {
            const r = region('weights', m.tensor);
            if (r.offset % 4 !== 0 || r.size % 4 !== 0) why = `${m.tensor} is not 4-aligned`;
            return;
          }
          if (m.source === 'state' && m.version !== 'new' && m.index.length === 1) {
            states.add(m.tensor);
            reads = true;
            return;
          }
        }
        why = 'a sum whose term is not weights times the state';
      };
      term(n.args[0]);
      if (!why && !reads) why = 'a sum that does not read the state';
      over = { name: n.over.name, dim: n.over.dim };
      found.push({ k, node: id, order: nodesUnder(def, id) });
    };
    visit(def.root);
    if (why) return why;
  }
  if (found.length === 0 || !over) return 'no recurrent sum';
  // Alike: the same nodes in the same order, params of the same sizes; weights evenly spaced.
  const shape = (x: (typeof found)[number]) =>
    JSON.stringify(
      x.order.map((id) => {
        const n = x.k.def.nodes[id]! as Node & { args?: number[] };
        const args = 'args' in n ? n.args!.map((a) => x.order.indexOf(a)) : [];
        return n.op === 'load' && n.source === 'param' ? { ...n, id: 0, args, tensor: region('weights', n.tensor).size, span: 0 } : { ...n, id: 0, args, span: 0 };
      }),
    );
  if (found.some((x) => shape(x) !== shape(found[0]!))) return 'recurrent sums that are not alike';
  const weightStride = new Map<string, number>();
  const first = found[0]!;
  for (let i = 0; i < first.order.length; i++) {
    const n = first.k.def.nodes[first.order[i]!]!;
    if (n.op !== 'load' || n.source !== 'param') continue;
    const offsets = found.map((x) => region('weights', (x.k.def.nodes[x.order[i]!] as LoadNode).tensor).offset);
    const stride = found.length > 1 ? offsets[1]! - offsets[0]! : 0;
    if (stride % 4 !== 0 || offsets.some((o, g) => o !== offsets[0]! + g * stride)) return 'recurrent weights not evenly spaced';
    weightStride.set(n.tensor, stride);
  }
  const target = defs[0]!.def.vars.map((v) => v.dim);
  const units = target.reduce((n, d) => n * sizes[d]!, 1);
  // Workgroups per 8 sequences: at least 2 (two cores), enough for the partial sums in workgroup memory.
  let blocks = 2;
  while (blocks < units && found.length * Math.ceil(units / blocks) * SUBGROUP_ROWS * 4 > WORKGROUP_BYTES) blocks *= 2;
  const unitsPerBlock = Math.ceil(units / blocks);
  if (found.length * unitsPerBlock * SUBGROUP_ROWS * 4 > WORKGROUP_BYTES) return 'its sums do not fit in workgroup memory';
  return { sums: found.map((x) => ({ k: x.k, node: x.node })), over, states: [...states], weightStride, units, blocks, unitsPerBlock };
}

const u = (n: number) => lit.u32(n);
const isZero = (e: Expr) => e.kind === 'literal' && e.value === 0;
const add = (a: Expr, b: Expr): Expr => (isZero(a) ? b : isZero(b) ? a : bin('+', a, b));
const mul = (a: Expr, k: number): Expr => (k === 0 ? u(0) : k === 1 ? a : bin('*', a, u(k)));

/**
 * Phase 1 (see the header): the recurrent sums of this workgroup's units for the lane's sequence,
 * into workgroup array `lane_sums` at ((s * unitsPerBlock + unit) * 8 + lane). `stateQuad(name, q)`:
 * the lane's state vec4 at quad `q` (an expression); `blk` and `lane` are in scope.
 */
export function laneSumsPhase(ls: LaneSums, sizes: DimSizes, region: (role: 'weights', tensor: string) => RegionOf, stateQuad: (name: string, q: Expr) => Expr, counter: { next: number }, loaded: Set<string>): { globals: W.Global[]; stmts: Stmt[] } {
  const S = ls.sums.length;
  const UW = ls.unitsPerBlock;
  const K4 = sizes[ls.over.dim]! / 4;
  const BQ = Math.min(BLOCK_QUADS, 8 * Math.ceil(K4 / 8));
  const NB = Math.ceil(K4 / BQ);
  const kb: Expr = NB === 1 ? u(0) : id('kb');
  const quadAt = (q: number): Expr => (NB === 1 ? u(q) : q === 0 ? mul(kb, BQ) : bin('+', mul(kb, BQ), u(q)));
  const ragged = NB * BQ > K4;
  const clamp = (q: Expr): Expr => (ragged ? call('min', q, u(K4 - 1)) : q);
  const present = (q: number) => NB > 1 || q < K4;
  const first = ls.sums[0]!;
  const def = first.k.def;
  const s = def.nodes[first.node]! as Extract<Node, { op: 'reduce' }>;
  const over = s.over.name;
  const kbBody: Stmt[] = [];
  for (const name of ls.states) for (let q = 0; q < BQ; q++) if (present(q)) kbBody.push(letS(`h_${name}_${q}`, stateQuad(name, clamp(quadAt(q)))));
  const rBody: Stmt[] = [];
  rBody.push(letS('g', bin('/', id('r'), u(UW))), letS('unit', bin('+', mul(id('blk'), UW), bin('%', id('r'), u(UW)))));
  const inner: Stmt[] = [];
  const coords = [call('min', id('unit'), u(ls.units - 1))];
  const lanes = new Map<string, string>();
  const laneLoad = (n: LoadNode, c: number): string => {
    const key = `${n.tensor}[${n.index.join(',')}]#${c}`;
    const known = lanes.get(key);
    if (known) return known;
    const r = region('weights', n.tensor);
    const rs = strides(r.dims, sizes);
    const stride = ls.weightStride.get(n.tensor) ?? 0;
    const base: Expr = S > 1 && stride ? add(u(r.offset / 4), mul(id('g'), stride / 4)) : u(r.offset / 4);
    const rowOffset = n.index.slice(0, -1).reduce<Expr>((acc, v, i) => add(acc, mul(coords[def.vars.findIndex((x) => x.name === v)]!, rs[i]! / 4)), base);
    const name = `w${counter.next++}`;
    loaded.add('weights4');
    inner.push(letS(name, index(id('weights4'), add(rowOffset, clamp(NB === 1 && c === 0 ? id('lane') : bin('+', quadAt(8 * c), id('lane')))))));
    lanes.set(key, name);
    return name;
  };
  const term = (k: number, q: number): Expr => {
    const n = def.nodes[k]!;
    if (!n.space.includes(over)) {
      if (n.op === 'const') return lit.f32(n.value);
      throw new Error('laneSumsPhase: a factor that does not depend on the sum index');
    }
    if (n.op === 'const') return lit.f32(n.value);
    if (n.op === 'binary') return bin(n.fn === 'add' ? '+' : n.fn === 'sub' ? '-' : '*', term(n.args[0], q), term(n.args[1], q));
    if (n.op === 'load' && n.source === 'param') return call('subgroupBroadcast', id(laneLoad(n, Math.floor(q / 8))), u(q % 8));
    if (n.op === 'load') return id(`h_${n.tensor}_${q}`);
    throw new Error(`laneSumsPhase: ${n.op} in a term`);
  };
  inner.push(varS('acc', W.vec(4, W.f32), call('vec4<f32>')));
  for (let q = 0; q < BQ; q++) {
    if (!present(q)) continue;
    const t = term(s.args[0], q);
    const guarded = ragged && (NB - 1) * BQ + q >= K4 ? call('select', call('vec4<f32>'), t, bin('<', quadAt(q), u(K4))) : t;
    inner.push(assign(id('acc'), bin('+', id('acc'), guarded)));
  }
  const at = bin('+', mul(id('r'), SUBGROUP_ROWS), id('lane'));
  const a = (c: string) => member(id('acc'), c);
  inner.push(letS('p', bin('+', bin('+', a('x'), a('y')), bin('+', a('z'), a('w')))));
  inner.push(NB > 1 ? ifS(bin('==', kb, u(0)), [assign(index(id('lane_sums'), at), id('p'))], [assign(index(id('lane_sums'), at), bin('+', index(id('lane_sums'), at), id('p')))]) : assign(index(id('lane_sums'), at), id('p')));
  // Rows of units past the last (the last workgroup's share) compute nothing: `unit` is the same in every lane.
  rBody.push(ifS(bin('<', id('unit'), u(ls.units)), inner));
  kbBody.push(forRange('r', u(0), u(S * UW), rBody));
  const stmts: Stmt[] = [blank, comment(`the recurrent sums of this workgroup's ${UW} units (${S} alike, one loop), the state in ${NB} block${NB > 1 ? 's' : ''} of ${BQ} quads, into lane_sums`)];
  stmts.push(NB === 1 ? { kind: 'block', body: kbBody } : forRange('kb', u(0), u(NB), kbBody));
  return { globals: [{ name: 'lane_sums', space: 'workgroup', type: W.arrayOf(W.f32, S * UW * SUBGROUP_ROWS) }], stmts };
}

/** The expression phase 2 reads for recurrent sum `s` at unit-in-block `u`. */
export const laneSumAt = (s: number, unitsPerBlock: number, unitInBlock: Expr): Expr => index(id('lane_sums'), bin('+', mul(add(u(s * unitsPerBlock), unitInBlock), SUBGROUP_ROWS), id('lane')));
