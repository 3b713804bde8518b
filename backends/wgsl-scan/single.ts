// A single pass over the steps for few long sequences: decoupled look-back with a fallback (after
// Smith, Levien and Owens' Decoupled Fallback scan), for the 'stripe' split when the element fits in
// 64 bits. Each team takes the next block in start order (an atomic ticket), reduces it and publishes
// its aggregate, looks back over its predecessors' published aggregates or inclusive prefixes, and
// then scans its block from that prefix, writing the outputs: the inputs are read from memory once
// (the rescan of its own block hits the cache), in one dispatch. WebGPU promises no forward progress
// between workgroups, so a team never waits without bound: after `spin_limit` looks at a record that
// is not ready it reduces that predecessor's block itself and moves on.
//
// A record is published with relaxed 32-bit atomics only (WGSL has no 64-bit atomics, no acquire or
// release): each f32 of the element goes in two words, its high and low 16 bits, each tagged in its
// upper half with the record's kind and the run's epoch. A reader takes a record only when every
// word carries the tag it expects: each tag is written once per record and run, so equal tags mean
// one write. Tickets keep counting from run to run (a run dispatches exactly one team per block), so
// a run's epoch is ticket / (blocks of all lanes): a record left by the previous run is simply not
// ready, and repeated runs need no reset of the status buffer.
import { arrayOf, assign, atomic, bin, call, callS, callT, comment, f32, id, ifS, index, letS, member, named, u32, un, varS, type Expr, type Function, type Stmt } from '../wgsl/ast.js';
import { elementCall, invariantsLet } from './element.js';
import { shuffled } from './stripes.js';
import { flatWorkgroupIndex } from '../lower/grid.js';
import { U, ret, ELEM, u, tripLoops, floatRefs, structOf, type Ctx, type KernelSpec } from './kernel.js';

/** Record kinds (the low 2 bits of a tag): the block's own aggregate, the prefix through it; zeroed memory is neither. */
const AGGREGATE = 1;
const INCLUSIVE = 2;
/** Tags are 16 bits: 2 for the kind, 14 for the epoch (runs modulo 16,384). */
const EPOCH_MASK = 0x3fff;

/** Elements the single pass takes: one or two floats (two 16-bit halves each in a tagged word). */
export const singlePassFits = (ctx: Pick<Ctx, 'tile' | 'layout'>): boolean => ctx.tile.split === 'stripe' && ctx.layout.members.length <= 2;

/** Words per record: two per float of the element. */
export const recordWords = (members: number): number => 2 * members;

const statusAt = (i: Expr) => un('&', index(id('status'), i));

/** `publish(at, flag, v)` and `peek(at) -> Peek`: a record of status words at `at`, written and read as described above. */
export function recordFunctions(ctx: Ctx): Function[] {
  const floats = floatRefs(ctx.layout.fields, id('v'));
  const word = (k: number) => bin('+', id('at'), u(k));
  const publish: Stmt[] = [];
  floats.forEach((x, k) => {
    publish.push(
      letS(`bits${k}`, callT('bitcast', u32, x)),
      callS('atomicStore', statusAt(word(2 * k)), bin('|', bin('<<', id('tag'), u(16)), bin('>>', id(`bits${k}`), u(16)))),
      callS('atomicStore', statusAt(word(2 * k + 1)), bin('|', bin('<<', id('tag'), u(16)), bin('&', id(`bits${k}`), u(0xffff)))),
    );
  });
  const peek: Stmt[] = [];
  const words = recordWords(floats.length);
  for (let k = 0; k < words; k++) peek.push(letS(`w${k}`, call('atomicLoad', statusAt(word(k)))));
  peek.push(letS('tag', bin('>>', id('w0'), u(16))));
  const same = Array.from({ length: words - 1 }, (_, k) => bin('==', bin('>>', id(`w${k + 1}`), u(16)), id('tag'))).reduce<Expr | undefined>((a, c) => (a ? bin('&&', a, c) : c), undefined);
  const value = floats.map((_, k) => callT('bitcast', f32, bin('|', bin('<<', bin('&', id(`w${2 * k}`), u(0xffff)), u(16)), bin('&', id(`w${2 * k + 1}`), u(0xffff)))));
  peek.push(ret(call('Peek', same ? call('select', u(0), id('tag'), same) : id('tag'), structOf('Elem', ctx.layout.fields, value))));
  return [
    {
      name: 'publish',
      params: [
        { name: 'at', type: u32 },
        { name: 'tag', type: u32 },
        { name: 'v', type: ELEM },
      ],
      body: publish,
      comment: "Publishes a block's record: each float as two tagged 16-bit halves.",
    },
    {
      name: 'peek',
      params: [{ name: 'at', type: u32 }],
      returnType: named('Peek'),
      body: peek,
      comment: 'Reads a record; its tag is 0 (not ready) unless every word carries the same one.',
    },
  ];
}

/** `reduce_block(b, s, blk, len[, inv], sg_id)`: the aggregate of one block of lane s of sequence b, by the whole team. */
export function reduceBlockFunction(ctx: Ctx): Function {
  const W = ctx.tile.width!;
  const elemNames = ctx.layout.fields;
  const stripe = (guarded: boolean): Stmt[] => [
    letS('t', bin('+', id('tile0'), id('sg_id'))),
    ...(guarded
      ? [varS('e', undefined, call('identity')), ifS(bin('&&', bin('<', id('t'), id('end')), bin('<', id('t'), id('len'))), [assign(id('e'), elementCall(ctx))])]
      : [letS('e', elementCall(ctx))]),
    letS('x', call('team_scan', id('e'), id('sg_id'))),
    assign(id('carry'), call('combine', id('carry'), shuffled('Elem', elemNames, 'subgroupShuffle', id('x'), u(W - 1)))),
  ];
  return {
    name: 'reduce_block',
    params: [...['b', 's', 'blk', 'len'].map((name) => ({ name, type: u32 })), ...(ctx.invariants?.length ? [{ name: 'inv', type: named('Inv') }] : []), { name: 'sg_id', type: u32 }],
    returnType: ELEM,
    body: [
      letS('start', bin('*', id('blk'), U('block_len'))),
      letS('end', call('min', bin('+', id('start'), U('block_len')), U('T'))),
      varS('carry', undefined, call('identity')),
      ...tripLoops(W, U('min_len'), stripe),
      ret(id('carry')),
    ],
    comment: 'The aggregate of one block, reduced by the team a stripe at a time.',
  };
}

/** The single-pass kernel `scan_single`: ticket, reduce, publish, look back (with fallback), publish, scan. */
export function singleEntryPoint(ctx: Ctx, spec: KernelSpec, scanStripe: (guarded: boolean) => Stmt[]) {
  const { layout } = ctx;
  const W = ctx.tile.width!;
  const S = layout.lanes;
  const words = recordWords(layout.members.length);
  // Record of block k of this lane: after the ticket counter, [lane of the batch, block].
  const recordOf = (k: Expr) => bin('+', u(1), bin('*', bin('+', bin('*', id('seq_lane'), U('blocks')), k), u(words)));
  const tagOf = (kind: number) => bin('|', bin('<<', id('epoch'), u(2)), u(kind));
  const reduceCall = (blk: Expr) => call('reduce_block', id('b'), id('s'), blk, id('len'), ...(ctx.invariants?.length ? [id('inv')] : []), id('sg_id'));
  const lookBack: Stmt[] = [
    ifS(bin('==', id('k'), u(0)), [{ kind: 'break' }]),
    ifS(bin('==', id('sg_id'), u(0)), [letS('p', call('peek', recordOf(bin('-', id('k'), u(1))))), assign(id('peek_tag'), member(id('p'), 'tag')), assign(id('peek_value'), member(id('p'), 'value'))]),
    comment("Lane 0's look is the team's: the tag comes back uniform, the value after the same barrier."),
    letS('tag', call('workgroupUniformLoad', un('&', id('peek_tag')))),
    letS('seen', id('peek_value')),
    callS('workgroupBarrier'),
    ifS(bin('==', id('tag'), tagOf(INCLUSIVE)), [assign(id('prefix'), call('combine', id('seen'), id('prefix'))), { kind: 'break' }]),
    ifS(bin('==', id('tag'), tagOf(AGGREGATE)), [assign(id('prefix'), call('combine', id('seen'), id('prefix'))), assign(id('k'), u(1), '-='), assign(id('spins'), u(0)), { kind: 'continue' }]),
    assign(id('spins'), u(1), '+='),
    ifS(bin('>', id('spins'), U('spin_limit')), [
      comment('Fallback: the predecessor has not published; reduce its block here rather than wait on it.'),
      assign(id('prefix'), call('combine', reduceCall(bin('-', id('k'), u(1))), id('prefix'))),
      assign(id('k'), u(1), '-='),
      assign(id('spins'), u(0)),
    ]),
  ];
  const body: Stmt[] = [
    comment('Workgroups are numbered across a 2-D grid so that any count fits; those past the blocks take no ticket.'),
    letS('teams', bin('*', bin('*', U('batch'), u(S)), U('blocks'))),
    ifS(bin('>=', flatWorkgroupIndex(), id('teams')), [{ kind: 'return' }]),
    comment('Tickets in start order: a team only looks back at blocks whose teams have started.'),
    ifS(bin('==', id('sg_id'), u(0)), [assign(id('ticket_wg'), call('atomicAdd', statusAt(u(0)), u(1)))]),
    letS('ticket', call('workgroupUniformLoad', un('&', id('ticket_wg')))),
    letS('epoch', bin('&', bin('/', id('ticket'), id('teams')), u(EPOCH_MASK))),
    letS('blk', bin('%', bin('%', id('ticket'), id('teams')), U('blocks'))),
    letS('seq_lane', bin('/', bin('%', id('ticket'), id('teams')), U('blocks'))),
    letS('s', bin('%', id('seq_lane'), u(S))),
    letS('b', bin('/', id('seq_lane'), u(S))),
    letS('len', call('min', index(id('lengths'), id('b')), U('T'))),
    ...invariantsLet(ctx),
    letS('agg', reduceCall(id('blk'))),
    ifS(bin('==', id('sg_id'), u(0)), [callS('publish', recordOf(id('blk')), call('select', tagOf(AGGREGATE), tagOf(INCLUSIVE), bin('==', id('blk'), u(0))), id('agg'))]),
    varS('prefix', undefined, call('identity')),
    varS('k', undefined, id('blk')),
    varS('spins', undefined, u(0)),
    { kind: 'loop', body: lookBack },
    ifS(bin('&&', bin('==', id('sg_id'), u(0)), bin('>', id('blk'), u(0))), [callS('publish', recordOf(id('blk')), tagOf(INCLUSIVE), call('combine', id('prefix'), id('agg')))]),
    comment('The scan of this block from the prefix before it, as in scan_steps.'),
    letS('start', bin('*', id('blk'), U('block_len'))),
    letS('end', call('min', bin('+', id('start'), U('block_len')), U('T'))),
    varS('h', undefined, call('advance', call('load_state', id('b'), id('s')), id('prefix'))),
    ...tripLoops(W, U('min_len'), scanStripe),
    ifS(bin('&&', bin('==', id('sg_id'), u(0)), bin('==', id('blk'), bin('-', U('blocks'), u(1)))), [
      callS('store_final', id('h'), id('b'), id('s'), bin('*', id('b'), u(layout.stateWidth))),
    ]),
  ];
  const params = [
    { name: 'wid', type: named('vec3<u32>'), attributes: ['builtin(workgroup_id)'] },
    { name: 'nwg', type: named('vec3<u32>'), attributes: ['builtin(num_workgroups)'] },
    { name: 'sg_id', type: u32, attributes: ['builtin(subgroup_invocation_id)'] },
  ];
  return { name: spec.name, stage: 'compute' as const, workgroupSize: [W] as [number], params, body };
}

/** Workgroup memory of the single pass: the team's ticket and lane 0's look at a record. */
export const singleWorkgroupVars = [
  { name: 'ticket_wg', space: 'workgroup' as const, type: u32 },
  { name: 'peek_tag', space: 'workgroup' as const, type: u32 },
  { name: 'peek_value', space: 'workgroup' as const, type: ELEM },
];

/** The status buffer: the ticket counter, then every block's record. */
export const statusType = arrayOf(atomic(u32));
