// The chained single pass (`scan_chained`): one dispatch that reads every input once, for few long
// sequences whose tensors hold one float per step (a diagonal (a, b) scan of one channel, a running
// sum, ...). Built for CPU implementations (lavapipe), where memory instructions, barriers and
// passes over the data are what costs, and safe where a workgroup that has started runs on.
//
// Each invocation owns a tile of CHAIN_STEPS consecutive steps, loaded with vec4 loads and kept in
// registers. A subgroup takes the next subgroup-size tiles of its sequence with one atomic ticket
// (tickets in start order: every tile before them belongs to a subgroup that has started), reduces
// them, scans their aggregates with shuffles, publishes the group's aggregate, looks back over the
// groups before it for their published aggregates or inclusive prefixes, publishes its own inclusive
// prefix, then scans its tiles from registers and stores the outputs with vec4 stores. No workgroup
// barrier and no workgroup memory: on lavapipe a barrier makes each workgroup a set of coroutines,
// which costs more than the scan itself.
//
// WebGPU promises no forward progress between workgroups or subgroups, so a look-back never waits
// without bound: after `spin_limit` looks at a record not yet published, the invocation reduces
// that group's steps itself and moves on (the fallback of Smith, Levien and Owens' Decoupled
// Fallback scan). The look-back runs per invocation, so that no subgroup operation sits in control
// flow that depends on what a look returned. Records are single.ts's (relaxed 32-bit atomics, tagged
// 16-bit halves, the run's epoch in the tag), one per group of a sequence, after one ticket counter
// per sequence. The planner compiles this kernel only for adapters where it is known to be safe and
// useful (plan Target.lookBack); see docs/scan-single-pass.md.
import { assign, bin, call, callS, comment, id, ifS, index, letS, member, named, u32, varS, vec, f32, type Expr, type Function, type Global, type Stmt } from '../wgsl/ast.js';
import { invariantsLet } from './element.js';
import { shuffled } from './stripes.js';
import { recordWords } from './single.js';
import { U, ret, ELEM, u, stepVar, type Ctx, type KernelSpec } from './kernel.js';
import type { ScanLayout, TileShape } from './layout.js';

/** Invocations per workgroup: lavapipe pays per workgroup, so as many as the default limits allow. */
export const CHAIN_WORKGROUP = 256;
/**
 * Steps per invocation: eight vec4 loads of each input and eight vec4 stores of each output. On
 * lavapipe (T = 2^22, CPU time per run) 32 steps beat 16: the ticket, records and look-back of a
 * group are spread over twice the steps.
 */
export const CHAIN_STEPS = 32;
/**
 * Looks at a record not yet published before the fallback: about what the fallback itself costs (one
 * invocation reducing a group of 8 tiles, 256 steps), so that a wait costs at most twice the best
 * choice made knowing how long the predecessor would take. A predecessor is often late by a whole
 * time slice on a loaded CPU (its thread descheduled): on lavapipe at T = 2^22, load 9, 32 gave
 * medians of 31-83 ms a run where 1,024 gave 48-96 ms (same session, 4 rounds).
 */
export const CHAIN_SPIN_LIMIT = 32;
/** Record kinds, as in single.ts. */
const AGGREGATE = 1;
const INCLUSIVE = 2;
const EPOCH_MASK = 0x3fff;
/** Most floats in an element the chained pass takes (each is two words of a record). */
export const CHAIN_MAX_FLOATS = 8;

/**
 * Where the chained pass fits: the 'stripe' split (outputs written by the thread that walks the
 * states, subgroups present), one lane per sequence, every input and output one float per step (so a
 * tile's steps are contiguous and vec4-aligned), an element of at most CHAIN_MAX_FLOATS scalars.
 */
export function chainedFits(ctx: { tile: TileShape; layout: ScanLayout }): boolean {
  const { tile, layout } = ctx;
  return (
    tile.split === 'stripe' &&
    layout.lanes === 1 &&
    layout.inputs.length > 0 &&
    layout.inputs.every((p) => p.size === 1) &&
    layout.outputs.every((p) => p.size === 1) &&
    layout.fields.every((f) => f.dims.length === 0) &&
    layout.members.length <= CHAIN_MAX_FLOATS
  );
}

/** Where the vec4 holding step `t` of tensor `offset` (one float per step) sits: [batch, T] per tensor. */
const quad = (offset: number, t: Expr): Expr => bin('/', bin('+', bin('*', bin('*', U('batch'), U('T')), u(offset)), bin('+', bin('*', id('b'), U('T')), t)), u(4));

/** `let in_<k>_<j> = inputs[...]`: the j-th vec4 of input k in the tile from t0 (clamped into the sequence). */
function tileLoads(ctx: Ctx): Stmt[] {
  const V = CHAIN_STEPS / 4;
  return ctx.layout.inputs.flatMap((p, k) =>
    Array.from({ length: V }, (_, j) => letS(`in_${k}_${j}`, index(id('inputs'), quad(p.offset, call('min', bin('+', id('t0'), u(4 * j)), bin('-', U('T'), u(4))))))),
  );
}

/** Sets the private step inputs to step `4j + c` of the loaded tile. */
const stepInputs = (ctx: Ctx, j: number, c: number): Stmt[] => ctx.layout.inputs.map((_, k) => assign(id(stepVar('in', k)), index(id(`in_${k}_${j}`), u(c))));

/** `chain_reduce(b, s, k, sg_size, len[, inv])`: the aggregate of group k's steps, by one invocation (the fallback). */
export function chainReduceFunction(ctx: Ctx): Function {
  const inner: Stmt[] = [];
  for (let c = 0; c < 4; c++)
    inner.push(
      ifS(bin('<', bin('+', id('t'), u(c)), id('to')), [
        ...ctx.layout.inputs.map((_, k) => assign(id(stepVar('in', k)), index(id(`v${k}`), u(c)))),
        assign(id('agg'), call('combine', id('agg'), call('element', id('b'), bin('+', id('t'), u(c)), id('s'), ...(ctx.invariants?.length ? [id('inv')] : [])))),
      ]),
    );
  const loop: Stmt = {
    kind: 'for',
    init: varS('t', undefined, id('first_step')),
    cond: bin('<', id('t'), id('to')),
    update: assign(id('t'), u(4), '+='),
    body: [...ctx.layout.inputs.map((p, k) => letS(`v${k}`, index(id('inputs'), quad(p.offset, id('t'))))), ...inner],
  };
  return {
    name: 'chain_reduce',
    params: [...['b', 's', 'k', 'sg_size', 'len'].map((name) => ({ name, type: u32 })), ...(ctx.invariants?.length ? [{ name: 'inv', type: named('Inv') }] : [])],
    returnType: ELEM,
    body: [
      letS('first_step', bin('*', bin('*', id('k'), id('sg_size')), u(CHAIN_STEPS))),
      letS('to', call('min', bin('+', id('first_step'), bin('*', id('sg_size'), u(CHAIN_STEPS))), id('len'))),
      varS('agg', undefined, call('identity')),
      loop,
      ret(id('agg')),
    ],
    comment: "The aggregate of group k's steps (up to the sequence's length), reduced by one invocation: the look-back's fallback.",
  };
}

/** The entry point `scan_chained`: ticket, load and reduce, subgroup scan, publish, look back (with fallback), publish, scan and store. */
export function chainedEntryPoint(ctx: Ctx, spec: KernelSpec) {
  const { layout } = ctx;
  const C = CHAIN_STEPS;
  const V = C / 4;
  const S = layout.lanes;
  const words = recordWords(layout.members.length);
  const fields = layout.fields;
  const inv = ctx.invariants?.length ? [id('inv')] : [];
  // Record of group k of this sequence lane: after one ticket counter per sequence lane.
  const recordOf = (k: Expr) => bin('+', bin('*', U('batch'), u(S)), bin('*', bin('+', bin('*', id('seq_lane'), U('blocks')), k), u(words)));
  const tagOf = (kind: number) => bin('|', bin('<<', id('epoch'), u(2)), u(kind));

  const body: Stmt[] = [
    comment('Workgroups along y are sequence lanes; along x, tiles. A subgroup takes the next subgroup-size tiles of its lane.'),
    letS('seq_lane', member(id('wid'), 'y')),
    letS('s', bin('%', id('seq_lane'), u(S))),
    letS('b', bin('/', id('seq_lane'), u(S))),
    varS('ticket', undefined, u(0)),
    ifS(bin('==', id('sg_id'), u(0)), [assign(id('ticket'), call('atomicAdd', { kind: 'unary', op: '&', arg: index(id('status'), id('seq_lane')) }, id('sg_size')))]),
    letS('first', call('subgroupBroadcast', id('ticket'), u(0))),
    comment('Every run takes exactly one ticket per invocation: the epoch tells this run\'s records from older ones.'),
    letS('per_run', bin('*', member(id('nwg'), 'x'), u(CHAIN_WORKGROUP))),
    letS('epoch', bin('&', bin('/', id('first'), id('per_run')), u(EPOCH_MASK))),
    letS('g', bin('/', bin('%', id('first'), id('per_run')), id('sg_size'))),
    letS('t0', bin('*', bin('+', bin('%', id('first'), id('per_run')), id('sg_id')), u(C))),
    letS('len', call('min', index(id('lengths'), id('b')), U('T'))),
    ...invariantsLet(ctx),
    comment(`This invocation's ${C} steps, ${V} vec4 loads per input (clamped into the sequence; steps past its length become the identity).`),
    ...tileLoads(ctx),
    varS('agg', undefined, call('identity')),
  ];
  for (let j = 0; j < C; j++) {
    body.push(
      ...stepInputs(ctx, j >> 2, j & 3),
      varS(`e${j}`, undefined, call('element', id('b'), bin('+', id('t0'), u(j)), id('s'), ...inv)),
      ifS(bin('>=', bin('+', id('t0'), u(j)), id('len')), [assign(id(`e${j}`), call('identity'))]),
      assign(id('agg'), call('combine', id('agg'), id(`e${j}`))),
    );
  }
  body.push(
    comment('Inclusive scan of the tiles\' aggregates across the subgroup; the group\'s total; the prefix before this tile.'),
    varS('x', undefined, id('agg')),
    {
      kind: 'for',
      init: varS('d', undefined, u(1)),
      cond: bin('<', id('d'), id('sg_size')),
      update: assign(id('d'), bin('*', id('d'), u(2))),
      body: [letS('up', shuffled('Elem', fields, 'subgroupShuffleUp', id('x'), id('d'))), ifS(bin('>=', id('sg_id'), id('d')), [assign(id('x'), call('combine', id('up'), id('x')))])],
    },
    letS('total', shuffled('Elem', fields, 'subgroupShuffle', id('x'), bin('-', id('sg_size'), u(1)))),
    varS('excl', undefined, shuffled('Elem', fields, 'subgroupShuffleUp', id('x'), u(1))),
    ifS(bin('==', id('sg_id'), u(0)), [assign(id('excl'), call('identity'))]),
    ifS(bin('==', id('sg_id'), u(0)), [callS('publish', recordOf(id('g')), call('select', tagOf(AGGREGATE), tagOf(INCLUSIVE), bin('==', id('g'), u(0))), id('total'))]),
    comment('Look back over the groups before this one (each invocation on its own: no subgroup operation depends on a look).'),
    varS('prefix', undefined, call('identity')),
    varS('k', undefined, id('g')),
    varS('spins', undefined, u(0)),
    {
      kind: 'loop',
      body: [
        ifS(bin('==', id('k'), u(0)), [{ kind: 'break' }]),
        letS('p', call('peek', recordOf(bin('-', id('k'), u(1))))),
        ifS(bin('==', member(id('p'), 'tag'), tagOf(INCLUSIVE)), [assign(id('prefix'), call('combine', member(id('p'), 'value'), id('prefix'))), { kind: 'break' }]),
        ifS(bin('==', member(id('p'), 'tag'), tagOf(AGGREGATE)), [
          assign(id('prefix'), call('combine', member(id('p'), 'value'), id('prefix'))),
          assign(id('k'), u(1), '-='),
          assign(id('spins'), u(0)),
          { kind: 'continue' },
        ]),
        assign(id('spins'), u(1), '+='),
        ifS(bin('>', id('spins'), U('spin_limit')), [
          comment('Fallback: that group has not published; reduce its steps here rather than wait on it.'),
          assign(id('prefix'), call('combine', call('chain_reduce', id('b'), id('s'), bin('-', id('k'), u(1)), id('sg_size'), id('len'), ...inv), id('prefix'))),
          assign(id('k'), u(1), '-='),
          assign(id('spins'), u(0)),
        ]),
      ],
    },
    ifS(bin('&&', bin('==', id('sg_id'), u(0)), bin('>', id('g'), u(0))), [callS('publish', recordOf(id('g')), tagOf(INCLUSIVE), call('combine', id('prefix'), id('total')))]),
    comment('Scan this tile from registers and store its outputs, a vec4 at a time.'),
    varS('h', undefined, call('advance', call('load_state', id('b'), id('s')), call('combine', id('prefix'), id('excl')))),
  );
  const stores: Stmt[] = [];
  for (let j = 0; j < V; j++) {
    stores.push(...layout.outputs.map((_, k) => varS(`o${k}_${j}`, vec(4, f32))));
    for (let c = 0; c < 4; c++) {
      const step = 4 * j + c;
      stores.push(...stepInputs(ctx, j, c), letS(`prev${step}`, id('h')), assign(id('h'), call('advance', id('h'), id(`e${step}`))));
      if (layout.outputWidth > 0)
        stores.push(callS('store_step', id(`prev${step}`), id('h'), id('b'), id('s'), bin('+', id('t0'), u(step)), id('len')), ...layout.outputs.map((_, k) => assign(index(id(`o${k}_${j}`), u(c)), id(stepVar('out', k)))));
    }
    stores.push(
      ifS(
        bin('<', bin('+', id('t0'), u(4 * j)), U('T')),
        layout.outputs.map((p, k) => assign(index(id('outputs'), quad(p.offset, bin('+', id('t0'), u(4 * j)))), id(`o${k}_${j}`))),
      ),
    );
  }
  body.push(...stores);
  body.push(
    comment('The invocation holding the last step stores the final states.'),
    ifS(bin('&&', bin('<', id('t0'), U('T')), bin('>=', bin('+', id('t0'), u(C)), U('T'))), [callS('store_final', id('h'), id('b'), id('s'), bin('*', id('b'), u(layout.stateWidth)))]),
  );
  const params = [
    { name: 'wid', type: named('vec3<u32>'), attributes: ['builtin(workgroup_id)'] },
    { name: 'nwg', type: named('vec3<u32>'), attributes: ['builtin(num_workgroups)'] },
    { name: 'sg_id', type: u32, attributes: ['builtin(subgroup_invocation_id)'] },
    { name: 'sg_size', type: u32, attributes: ['builtin(subgroup_size)'] },
  ];
  return { name: spec.name, stage: 'compute' as const, workgroupSize: [CHAIN_WORKGROUP] as [number], params, body };
}

/** Private step inputs and outputs (Ctx.stepIO) of the chained pass. */
export function chainedPrivateVars(layout: ScanLayout): Global[] {
  return [
    ...layout.inputs.map((_, k): Global => ({ name: stepVar('in', k), space: 'private', type: f32, ...(k === 0 ? { comment: "One step's inputs and outputs, a float per tensor (the kernel loads and stores them as vec4s)." } : {}) })),
    ...layout.outputs.map((_, k): Global => ({ name: stepVar('out', k), space: 'private', type: f32 })),
  ];
}

/**
 * Whether a look-back across workgroups is safe on this adapter: a workgroup that has started keeps
 * running while a later one spins on its record. CPU implementations run each workgroup to
 * completion on a thread once started (lavapipe/llvmpipe, SwiftShader); desktop NVIDIA, AMD and
 * Intel GPUs schedule resident workgroups fairly enough for the decoupled look-back scans that CUB
 * and others ship. Other GPUs (Apple, mobile) make no such promise, and the kernel is not compiled
 * for them. The fallback bounds the wait in any case (chainedEntryPoint).
 */
export function lookBackSafe(adapter: { vendor?: string; architecture?: string; device?: string; description?: string; isSoftware?: boolean }): boolean {
  const text = [adapter.vendor, adapter.architecture, adapter.device, adapter.description].join(' ').toLowerCase();
  if (/llvmpipe|lavapipe|swiftshader/.test(text)) return true;
  if (adapter.isSoftware) return false;
  return ['nvidia', 'amd', 'intel'].includes((adapter.vendor ?? '').toLowerCase());
}
