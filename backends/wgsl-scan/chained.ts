// The chained single pass (`scan_chained`): one dispatch for few long sequences whose tensors hold
// one float per step (a diagonal (a, b) scan of one channel, a running sum, ...). Built for CPU
// implementations (lavapipe), where memory instructions, barriers and unrolled code are what costs,
// and safe where a workgroup that has started runs on.
//
// Each invocation owns a range of `block_len` consecutive steps (a uniform: the loops over it are
// never unrolled) and walks it twice with vec4 loads: once to reduce it, once to scan it and store
// the outputs. A subgroup takes the next subgroup-size ranges of its sequence with one atomic
// ticket (tickets in start order: every range before them belongs to a subgroup that has started),
// scans the ranges' aggregates with shuffles, publishes the group's aggregate, looks back over the
// groups before it for their published aggregates or inclusive prefixes, publishes its own
// inclusive prefix, then scans. No workgroup barrier and no workgroup memory: on lavapipe a barrier
// makes each workgroup a set of coroutines, which costs more than the scan itself. The second walk
// reads the range again rather than keeping it: on lavapipe a range kept in registers spills, and
// that cost twice the elementwise kernel's time, where reading it again costs about half of it
// (docs/scan-single-pass.md).
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
 * Steps per invocation (`block_len`), the most and the least: long ranges spread the ticket, records
 * and look-back of a group over more steps; shorter ones keep CHAIN_MIN_WORKGROUPS workgroups busy
 * on a shorter sequence. On lavapipe at T = 2^22, 512 steps took 4.7-5.1 ms where 1,024 took 6.3 and
 * the 32-step register tile before it 14-16 ms (.scratch probes, same sessions; docs/scan-single-pass.md).
 */
export const CHAIN_MAX_STEPS = 512;
export const CHAIN_MIN_STEPS = 16;
/** Workgroups a run aims for (over all its sequence lanes), so that every core has several. */
const CHAIN_MIN_WORKGROUPS = 8;
/**
 * Looks at a record not yet published before the fallback: about what the fallback itself costs, so
 * that a wait costs at most twice the best choice made knowing how long the predecessor would take.
 * A predecessor is often late by a whole time slice on a loaded CPU (its thread descheduled): on
 * lavapipe at T = 2^22, load 9, 32 gave medians of 31-83 ms a run where 1,024 gave 48-96 ms (same
 * session, 4 rounds; the register-tile kernel).
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

/**
 * Steps per invocation for T steps of `lanes` sequence lanes: a power of two from CHAIN_MIN_STEPS to
 * CHAIN_MAX_STEPS, the longest that still gives CHAIN_MIN_WORKGROUPS workgroups.
 */
export function chainSteps(T: number, lanes: number): number {
  let steps = CHAIN_MAX_STEPS;
  while (steps > CHAIN_MIN_STEPS && Math.ceil(T / (steps * CHAIN_WORKGROUP)) * lanes < CHAIN_MIN_WORKGROUPS) steps /= 2;
  return steps;
}

/** Where the vec4 holding step `t` of tensor `offset` (one float per step) sits: [batch, T] per tensor. */
const quad = (offset: number, t: Expr): Expr => bin('/', bin('+', bin('*', bin('*', U('batch'), U('T')), u(offset)), bin('+', bin('*', id('b'), U('T')), t)), u(4));

/** `let v<k> = inputs[...]`: the vec4 of input k that holds steps t..t+3. */
const quadLoads = (ctx: Ctx): Stmt[] => ctx.layout.inputs.map((p, k) => letS(`v${k}`, index(id('inputs'), quad(p.offset, id('t')))));

/** Sets the private step inputs to step `t + c` of the loaded vec4s. */
const stepInputs = (ctx: Ctx, c: number): Stmt[] => ctx.layout.inputs.map((_, k) => assign(id(stepVar('in', k)), index(id(`v${k}`), u(c))));

/** `for (var t = from; t < to; t += 4u) { body }`: a walk over vec4s of steps. */
const quadLoop = (from: Expr, to: Expr, body: Stmt[]): Stmt => ({ kind: 'for', init: varS('t', undefined, from), cond: bin('<', id('t'), to), update: assign(id('t'), u(4), '+='), body });

/** Step `t + c`'s element, the identity past the sequence's length. */
const maskedElement = (ctx: Ctx, c: number): Stmt[] => {
  const inv = ctx.invariants?.length ? [id('inv')] : [];
  return [
    ...stepInputs(ctx, c),
    varS(`e${c}`, undefined, call('element', id('b'), bin('+', id('t'), u(c)), id('s'), ...inv)),
    ifS(bin('>=', bin('+', id('t'), u(c)), id('len')), [assign(id(`e${c}`), call('identity'))]),
  ];
};

/**
 * `chain_reduce(b, s, first_step, end_step, len[, inv])`: the aggregate of steps first_step..end_step (a multiple of 4 apart;
 * steps past the sequence's length are the identity), a vec4 of each input at a time. Both the
 * invocation's own reduce walk and the look-back's fallback (a whole group's steps) call it.
 */
export function chainReduceFunction(ctx: Ctx): Function {
  const inner: Stmt[] = [];
  for (let c = 0; c < 4; c++) inner.push(...maskedElement(ctx, c), assign(id('agg'), call('combine', id('agg'), id(`e${c}`))));
  return {
    name: 'chain_reduce',
    params: [...['b', 's', 'first_step', 'end_step', 'len'].map((name) => ({ name, type: u32 })), ...(ctx.invariants?.length ? [{ name: 'inv', type: named('Inv') }] : [])],
    returnType: ELEM,
    body: [varS('agg', undefined, call('identity')), quadLoop(id('first_step'), id('end_step'), [...quadLoads(ctx), ...inner]), ret(id('agg'))],
    comment: 'The aggregate of steps first_step..end_step (up to the sequence\'s length), a vec4 of each input at a time: an invocation\'s reduce walk, and the look-back\'s fallback over a whole group.',
  };
}

/** The entry point `scan_chained`: ticket, reduce, subgroup scan, publish, look back (with fallback), publish, scan and store. */
export function chainedEntryPoint(ctx: Ctx, spec: KernelSpec) {
  const { layout } = ctx;
  const S = layout.lanes;
  const words = recordWords(layout.members.length);
  const fields = layout.fields;
  const inv = ctx.invariants?.length ? [id('inv')] : [];
  // Record of group k of this sequence lane: after one ticket counter per sequence lane.
  const recordOf = (k: Expr) => bin('+', bin('*', U('batch'), u(S)), bin('*', bin('+', bin('*', id('seq_lane'), U('blocks')), k), u(words)));
  const tagOf = (kind: number) => bin('|', bin('<<', id('epoch'), u(2)), u(kind));

  const scan: Stmt[] = [...quadLoads(ctx), ...layout.outputs.map((_, k) => varS(`o${k}`, vec(4, f32)))];
  for (let c = 0; c < 4; c++) {
    scan.push(...maskedElement(ctx, c), letS(`prev${c}`, id('h')), assign(id('h'), call('advance', id('h'), id(`e${c}`))));
    if (layout.outputWidth > 0)
      scan.push(callS('store_step', id(`prev${c}`), id('h'), id('b'), id('s'), bin('+', id('t'), u(c)), id('len')), ...layout.outputs.map((_, k) => assign(index(id(`o${k}`), u(c)), id(stepVar('out', k)))));
  }
  scan.push(...layout.outputs.map((p, k) => assign(index(id('outputs'), quad(p.offset, id('t'))), id(`o${k}`))));

  const body: Stmt[] = [
    comment('Workgroups along y are sequence lanes; along x, ranges of steps. A subgroup takes the next subgroup-size ranges of its lane.'),
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
    letS('t0', bin('*', bin('+', bin('%', id('first'), id('per_run')), id('sg_id')), U('block_len'))),
    letS('len', call('min', index(id('lengths'), id('b')), U('T'))),
    letS('t1', call('min', bin('+', id('t0'), U('block_len')), U('T'))),
    letS('t_len', call('min', id('t1'), id('len'))),
    ...invariantsLet(ctx),
    comment('Reduce this invocation\'s steps (those past the sequence\'s length are the identity).'),
    letS('agg', call('chain_reduce', id('b'), id('s'), id('t0'), id('t_len'), id('len'), ...inv)),
    comment('Inclusive scan of the ranges\' aggregates across the subgroup; the group\'s total; the prefix before this range.'),
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
          letS('group_from', bin('*', bin('*', bin('-', id('k'), u(1)), id('sg_size')), U('block_len'))),
          letS('group_to', call('min', bin('+', id('group_from'), bin('*', id('sg_size'), U('block_len'))), id('len'))),
          assign(id('prefix'), call('combine', call('chain_reduce', id('b'), id('s'), id('group_from'), id('group_to'), id('len'), ...inv), id('prefix'))),
          assign(id('k'), u(1), '-='),
          assign(id('spins'), u(0)),
        ]),
      ],
    },
    ifS(bin('&&', bin('==', id('sg_id'), u(0)), bin('>', id('g'), u(0))), [callS('publish', recordOf(id('g')), tagOf(INCLUSIVE), call('combine', id('prefix'), id('total')))]),
    comment('Scan this invocation\'s steps again from the prefix before them and store the outputs, a vec4 at a time (zero past the sequence\'s length).'),
    varS('h', undefined, call('advance', call('load_state', id('b'), id('s')), call('combine', id('prefix'), id('excl')))),
    quadLoop(id('t0'), id('t1'), scan),
    comment('The invocation holding the last step stores the final states.'),
    ifS(bin('&&', bin('<', id('t0'), U('T')), bin('>=', bin('+', id('t0'), U('block_len')), U('T'))), [callS('store_final', id('h'), id('b'), id('s'), bin('*', id('b'), u(layout.stateWidth)))]),
  ];
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
