// The entry point of the 'tile' and 'thread' splits (layout.ts): a workgroup scans tiles of its block
// cooperatively, its runs combined by lane_scan (subgroup shuffles, then workgroup memory), or each
// invocation walks a block of its own. One skeleton serves the four kernels (emit.ts).
import {
  assign,
  bin,
  call,
  callS,
  comment,
  forRange,
  id,
  ifS,
  index,
  letS,
  lit,
  member,
  named,
  u32,
  varS,
  type Expr,
  type Function,
  type Stmt,
} from '../wgsl/ast.js';
import { elementCall, invariantsLet } from './element.js';
import { paddedLanes, threadsOf, tileSteps } from './layout.js';
import { flatWorkgroupIndex } from '../lower/grid.js';
import { countedLoop } from '../wgsl/unroll-budget.js';
import { U, ret, ELEM, u, mapStruct, elemAccess, aggIndex, ctxBlocks, laneInRange, sampledStep, type Ctx, type KernelSpec } from './kernel.js';

/**
 * Exclusive scan of each lane's run aggregates, and the lane's total. Threads are numbered run-major
 * (tid = c·L + lane), so that neighbouring invocations read neighbouring lanes of the same step.
 * With subgroups, the runs of a lane that share a subgroup (L < subgroup size) are first scanned
 * with shuffles; then one thread per lane rakes the segment totals in workgroup memory, in run order.
 * Without subgroups every run is its own segment. Three barriers, whatever P.
 */
export function laneScanFunction(ctx: Ctx, subgroups: boolean): Function {
  const P = ctx.tile.runs;
  const L = ctx.tile.groups * ctxBlocks(ctx).lanes;
  const shuffle = (v: Expr, delta: Expr, into: string) => mapStruct('Elem', ctx.layout.fields, v, into, (x) => call('subgroupShuffleUp', x, delta));
  const params = [
    { name: 'agg', type: ELEM },
    { name: 'tid', type: u32 },
    { name: 'c', type: u32 },
    { name: 'lane', type: u32 },
    ...(subgroups
      ? [
          { name: 'sg_id', type: u32 },
          { name: 'sg_size', type: u32 },
        ]
      : []),
  ];
  const scratch = elemAccess(ctx, 'scratch');
  const laneTotal = elemAccess(ctx, 'lane_total');
  const slot = (run: Expr) => bin('+', bin('*', run, u(L)), id('lane'));
  const segEnd = (run: Expr, sgId: Expr): Expr =>
    subgroups ? bin('||', bin('>=', bin('+', sgId, u(L)), id('sg_size')), bin('==', run, u(P - 1))) : lit.bool(true);
  const body: Stmt[] = [];
  if (subgroups) {
    body.push(
      comment('Inclusive scan over the runs of this lane within the subgroup (invocations are numbered consecutively in subgroups).'),
      varS('v', undefined, id('agg')),
      {
        kind: 'for',
        init: varS('d', undefined, u(L)),
        cond: bin('<', id('d'), id('sg_size')),
        update: assign(id('d'), bin('*', id('d'), u(2))),
        body: [...shuffle(id('v'), id('d'), 'up'), ifS(bin('>=', id('sg_id'), id('d')), [assign(id('v'), call('combine', id('up'), id('v')))])],
      },
      ...shuffle(id('v'), u(L), 'prev'),
      varS('in_seg', undefined, call('identity')),
      ifS(bin('>=', id('sg_id'), u(L)), [assign(id('in_seg'), id('prev'))]),
      ifS(segEnd(id('c'), id('sg_id')), [scratch.store(slot(id('c')), id('v'))]),
    );
  } else body.push(scratch.store(slot(id('c')), id('agg')));
  // The raking thread of each lane knows where segments end from the run's position in its subgroup.
  const rakeSgId = bin('%', bin('+', bin('*', id('k'), u(L)), id('lane')), id('sg_size'));
  body.push(
    callS('workgroupBarrier'),
    ifS(bin('==', id('c'), u(0)), [
      varS('running', undefined, call('identity')),
      countedLoop('k', u(0), P, [
        letS('seg_total', scratch.load(slot(id('k')))),
        scratch.store(slot(id('k')), id('running')),
        ...(subgroups
          ? [ifS(segEnd(id('k'), rakeSgId), [assign(id('running'), call('combine', id('running'), id('seg_total')))])]
          : [assign(id('running'), call('combine', id('running'), id('seg_total')))]),
      ]),
      laneTotal.store(id('lane'), id('running')),
    ]),
    callS('workgroupBarrier'),
    letS('before', scratch.load(slot(id('c')))),
    letS('total', laneTotal.load(id('lane'))),
    callS('workgroupBarrier'),
    ret(call('LaneScan', subgroups ? call('combine', id('before'), id('in_seg')) : id('before'), id('total'))),
  );
  return {
    name: 'lane_scan',
    params,
    returnType: named('LaneScan'),
    body,
    comment: `Across the ${P} runs of each of the ${L} lanes: the exclusive prefix of this run and the lane's total.`,
  };
}

export function tileEntryPoint(ctx: Ctx, spec: KernelSpec, subgroups: boolean) {
  const { tile, layout } = ctx;
  const S = layout.lanes;
  // The 'tile' split's lanes of a sequence in this workgroup: a block of them where they are spread (layout.ts).
  const blocks = ctxBlocks(ctx);
  const blocked = blocks.blocks > 1;
  const SB = blocks.lanes;
  const LB = blocks.blocks;
  const stateWidth = blocked ? blocks.stateWidth : layout.stateWidth;
  const P = tile.runs;
  const R = tile.runLength;
  const TILE = tileSteps(tile);
  const G = tile.groups;
  const threads = threadsOf(tile, layout);
  const steps = spec.source === 'steps';
  const aggs = elemAccess(ctx, 'aggs');
  const aggLoad = (offset: Expr, count: Expr, i: Expr) => aggs.load(aggIndex(ctx, offset, count, i));
  const aggStore = (offset: Expr, count: Expr, i: Expr, value: Expr) => aggs.store(aggIndex(ctx, offset, count, i), value);

  // The stripe split's passes over the aggregates are the thread split's (stripeEntryPoint does the steps).
  const perThread = tile.split !== 'tile';
  const liveBlocked = (): Expr => {
    const inSeq = bin('<', bin('+', bin('*', id('grp'), u(G)), id('g')), U('batch'));
    const inRange = laneInRange(ctx, id('s'));
    return inRange ? bin('&&', inSeq, inRange) : inSeq;
  };
  const wgIndex = [
    comment('Workgroups are numbered across a 2-D grid so that any count fits (65,535 per dimension).'),
    letS('wg', flatWorkgroupIndex()),
  ];
  const body: Stmt[] = perThread
    ? [
        letS('tid', member(id('lid'), 'x')),
        ...wgIndex,
        comment('Invocations take (sequence, lane, block), block fastest: neighbours walk neighbouring blocks of one lane.'),
        letS('gid', bin('+', bin('*', id('wg'), u(threads)), id('tid'))),
        ifS(bin('>=', id('gid'), bin('*', bin('*', U('batch'), u(S)), U('blocks'))), [{ kind: 'return' }]),
        letS('blk', bin('%', id('gid'), U('blocks'))),
        letS('seq_lane', bin('/', id('gid'), U('blocks'))),
        letS('s', bin('%', id('seq_lane'), u(S))),
        letS('b', bin('/', id('seq_lane'), u(S))),
      ]
    : !blocked
      ? [
          letS('tid', member(id('lid'), 'x')),
          // Run-major: neighbouring invocations take neighbouring lanes of the same steps.
          letS('c', bin('/', id('tid'), u(G * S))),
          letS('lane', bin('%', id('tid'), u(G * S))),
          letS('g', bin('/', id('lane'), u(S))),
          letS('s', bin('%', id('lane'), u(S))),
          ...wgIndex,
          ifS(bin('>=', id('wg'), bin('*', U('groups'), U('blocks'))), [{ kind: 'return' }]),
          letS('grp', bin('/', id('wg'), U('blocks'))),
          letS('blk', bin('%', id('wg'), U('blocks'))),
          letS('live', bin('<', bin('+', bin('*', id('grp'), u(G)), id('g')), U('batch'))),
          letS('b', call('min', bin('+', bin('*', id('grp'), u(G)), id('g')), bin('-', U('batch'), u(1)))),
        ]
      : [
          letS('tid', member(id('lid'), 'x')),
          letS('c', bin('/', id('tid'), u(G * SB))),
          letS('lane', bin('%', id('tid'), u(G * SB))),
          letS('g', bin('/', id('lane'), u(SB))),
          ...wgIndex,
          comment(`Workgroups take (sequence group, lane block, block of steps), the steps fastest; ${LB} blocks of ${SB} lanes.`),
          ifS(bin('>=', id('wg'), bin('*', bin('*', U('groups'), u(LB)), U('blocks'))), [{ kind: 'return' }]),
          letS('grp', bin('/', id('wg'), bin('*', u(LB), U('blocks')))),
          letS('lb', bin('%', bin('/', id('wg'), U('blocks')), u(LB))),
          letS('blk', bin('%', id('wg'), U('blocks'))),
          comment('Lanes are numbered block-major; those past a padded dim compute a copy of a lane and write nothing.'),
          letS('s', bin('+', bin('*', id('lb'), u(SB)), bin('%', id('lane'), u(SB)))),
          letS('live', liveBlocked()),
          letS('b', call('min', bin('+', bin('*', id('grp'), u(G)), id('g')), bin('-', U('batch'), u(1)))),
        ];
  if (steps) body.push(...invariantsLet(ctx));
  body.push(
    letS('count', steps ? U('T') : U('n')),
    letS('start', bin('*', id('blk'), U('block_len'))),
    letS('end', call('min', bin('+', id('start'), U('block_len')), id('count'))),
  );
  // Threads past the batch (only with the 'tile' split) compute a clamped copy of the last sequence with length 0.
  const lenOf = steps ? call('min', index(id('lengths'), id('b')), U('T')) : id('count');
  body.push(letS('len', perThread ? lenOf : call('select', u(0), lenOf, id('live'))));
  const liveAnd = (cond: Expr): Expr => (perThread ? cond : bin('&&', id('live'), cond));
  body.push(varS('carry', undefined, call('identity')));
  if (spec.store) body.push(ifS(bin('!=', U('carry_in'), u(0)), [assign(id('carry'), aggLoad(U('in_offset'), U('blocks'), id('blk')))]));
  // The direct store phase walks the states (see advance): from the carried-in prefix with one run
  // per lane, else from each run's prefix.
  const walk = steps && spec.store && ctx.direct;
  const oneRun = P === 1 && spec.store;
  if (walk) body.push(letS('h0', call('load_state', id('b'), id('s'))));
  if (walk && oneRun) body.push(varS('h', undefined, call('advance', id('h0'), id('carry'))));
  // Sampled states only (Ctx.jump): the parts of this block between sampled steps, in `parts` from `pb`
  // (block_len / every + 2 a block: partsPerBlock, which sizes the buffer on the host).
  const jump = steps && ctx.jump === true && (spec.store ? walk && oneRun : perThread);
  const parts = elemAccess(ctx, 'parts');
  if (jump) body.push(letS('pb', bin('*', bin('+', bin('*', bin('+', bin('*', id('b'), u(paddedLanes(ctx.tile, ctx.layout))), id('s')), U('blocks')), id('blk')), bin('+', bin('/', U('block_len'), u(ctx.sample!.every)), u(2)))));
  if (jump && !spec.store) body.push(varS('part', undefined, call('identity')), varS('k', undefined, u(0)));

  const t = perThread ? bin('+', id('tile0'), id('r')) : bin('+', bin('+', id('tile0'), bin('*', id('c'), u(R))), id('r'));
  // Aggregates are scanned in place (scan_aggs) or reduced into the next level (reduce_aggs).
  const load = steps ? elementCall(ctx) : aggLoad(spec.store ? U('out_offset') : U('in_offset'), U('n'), id('t'));
  // A step's element, or the identity past the block, the sequence's length or the batch. Read twice
  // (reduce, then rescan): the second read hits the cache, and registers stay free for the state.
  // The load reads the step clamped into the block, so it needs no guard (lavapipe masks and
  // scalarises guarded loads); only what it read is replaced. One loop for full and partial tiles:
  // each copy of the tile's body inlines the combine and the lane scan again (compile time).
  const tileBody = (): Stmt[] => {
    const elementAt = (into: string): Stmt[] => [
      letS('step', t),
      letS('t', call('min', id('step'), bin('-', id('end'), u(1)))),
      varS(into, undefined, load),
      ifS(bin('||', bin('>=', id('step'), id('end')), bin('>=', id('step'), id('len'))), [assign(id(into), call('identity'))]),
    ];
    const storeIf = (cond: Expr, stmts: Stmt[]): Stmt[] => [ifS(cond, stmts)];
    // With one run per lane the carry is the run's prefix: scan straight from it, one element per step.
    // Otherwise reduce the run, scan the runs across the workgroup, then rescan the run from its prefix.
    const tileBody: Stmt[] = [];
    // A sampled step past the block's start closes a part: the carry takes it, and the next begins.
    const closePart = (): Stmt[] => [
      ifS(bin('&&', bin('&&', bin('>', id('step'), id('start')), bin('<', id('step'), call('min', id('end'), id('len')))), sampledStep(ctx, id('step'), id('len'))), [
        parts.store(bin('+', id('pb'), id('k')), id('part')),
        assign(id('carry'), call('combine', id('carry'), id('part'))),
        assign(id('k'), u(1), '+='),
        assign(id('part'), call('identity')),
      ]),
    ];
    if (jump && !spec.store) tileBody.push(countedLoop('r', u(0), R, [...elementAt('e'), ...closePart(), assign(id('part'), call('combine', id('part'), id('e')))]));
    else if (!oneRun)
      tileBody.push(
        varS('agg', undefined, call('identity')),
        countedLoop('r', u(0), R, [...elementAt('e'), assign(id('agg'), call('combine', id('agg'), id('e')))]),
      );
    if (P > 1) tileBody.push(letS('scan', call('lane_scan', id('agg'), id('tid'), id('c'), id('lane'), ...(subgroups ? [id('sg_id'), id('sg_size')] : []))));
    const slotBase = (slot: Expr) => bin('*', bin('+', bin('*', id('g'), u(TILE + 1)), slot), u(stateWidth));
    const runPrefix = oneRun ? id('carry') : call('combine', id('carry'), member(id('scan'), 'excl'));
    if (walk) {
      if (!oneRun) tileBody.push(varS('h', undefined, call('advance', id('h0'), runPrefix)));
      const perStep: Stmt[] = [...elementAt('e'), letS('prev', id('h')), assign(id('h'), call('advance', id('h'), id('e')))];
      if (layout.outputWidth > 0)
        perStep.push(...storeIf(liveAnd(bin('<', id('step'), id('end'))), [callS('store_step', id('prev'), id('h'), id('b'), id('s'), id('t'), id('len'))]));
      tileBody.push(countedLoop('r', u(0), R, perStep));
    } else if (spec.store) {
      tileBody.push(varS('p', undefined, runPrefix));
      const viaShared = steps;
      if (viaShared) tileBody.push(ifS(bin('==', id('c'), u(0)), [callS('store_states', id('carry'), id('b'), id('s'), slotBase(u(0)))]));
      const perStep: Stmt[] = elementAt('e');
      if (!steps) perStep.push(...storeIf(liveAnd(bin('<', id('step'), id('end'))), [aggStore(U('out_offset'), U('n'), id('t'), id('p'))]));
      perStep.push(assign(id('p'), call('combine', id('p'), id('e'))));
      if (viaShared) perStep.push(callS('store_states', id('p'), id('b'), id('s'), slotBase(bin('+', bin('+', bin('*', id('c'), u(R)), id('r')), u(1)))));
      tileBody.push(countedLoop('r', u(0), R, perStep));
    }
    // The carry is the prefix through this tile (unused once a single run walks the states; with
    // parts, the closed parts so far).
    if (!(walk && oneRun) && !(jump && !spec.store)) tileBody.push(assign(id('carry'), oneRun ? id('p') : call('combine', id('carry'), P > 1 ? member(id('scan'), 'total') : id('agg'))));
    if (steps && spec.store && !ctx.direct && layout.outputWidth > 0) {
      // Outputs of this workgroup's lane block: every output of the sequence where the lanes are not spread.
      const OW = blocked ? blocks.outputWidth : layout.outputWidth;
      tileBody.push(
        callS('workgroupBarrier'),
        comment('Store phase: every output element of the tile, spread over the workgroup.'),
        forRange(
          'w',
          id('tid'),
          u(G * TILE * OW),
          [
            letS('og', bin('/', id('w'), u(TILE * OW))),
            letS('tl', bin('%', bin('/', id('w'), u(OW)), u(TILE))),
            letS('ob', bin('+', bin('*', id('grp'), u(G)), id('og'))),
            letS('ot', bin('+', id('tile0'), id('tl'))),
            ifS(bin('&&', bin('<', id('ob'), U('batch')), bin('<', id('ot'), call('min', bin('+', id('start'), U('block_len')), U('T')))), [
              callS(
                'write_output',
                id('ob'),
                id('ot'),
                bin('+', bin('*', id('og'), u(TILE + 1)), id('tl')),
                bin('%', id('w'), u(OW)),
                call('min', index(id('lengths'), id('ob')), U('T')),
                ...(blocked ? [id('lb')] : []),
              ),
            ]),
          ],
          u(threads),
        ),
        callS('workgroupBarrier'),
      );
    } else if (steps && spec.store && !ctx.direct) tileBody.push(callS('workgroupBarrier'));
    return tileBody;
  };
  if (jump && spec.store) {
    // From part to part: at each part's first step the sampled outputs (store_step writes only at
    // sampled positions), then the part's aggregate. A part ends at the next sampled step before the
    // sequence's end, or at the block's end (reduce_steps cut them there).
    body.push(
      comment("Sampled states only: from each part's first step to the next, one advance a part (reduce_steps wrote the parts)."),
      varS('tj', undefined, id('start')),
      varS('k', undefined, u(0)),
      {
        kind: 'loop',
        body: [
          ifS(bin('>=', id('tj'), id('end')), [{ kind: 'break' }]),
          varS('nt', undefined, bin('+', id('tj'), u(1))),
          { kind: 'loop', body: [ifS(bin('||', bin('||', bin('>=', id('nt'), id('end')), bin('>=', id('nt'), id('len'))), sampledStep(ctx, id('nt'), id('len'))), [{ kind: 'break' }]), assign(id('nt'), u(1), '+=')] },
          ifS(bin('>=', id('nt'), id('len')), [assign(id('nt'), id('end'))]),
          ...(layout.outputWidth > 0 ? [ifS(liveAnd(bin('<', id('tj'), id('len'))), [callS('store_step', id('h'), id('h'), id('b'), id('s'), id('tj'), id('len'))])] : []),
          assign(id('h'), call('advance', id('h'), parts.load(bin('+', id('pb'), id('k'))))),
          assign(id('k'), u(1), '+='),
          assign(id('tj'), id('nt')),
        ],
      },
    );
  } else
    body.push({
      kind: 'for',
      init: varS('tile0', undefined, id('start')),
      cond: bin('<', id('tile0'), id('end')),
      update: assign(id('tile0'), u(TILE), '+='),
      body: tileBody(),
    });
  // The last part of the block.
  if (jump && !spec.store) body.push(parts.store(bin('+', id('pb'), id('k')), id('part')), assign(id('carry'), call('combine', id('carry'), id('part'))));

  if (steps && spec.store) {
    const final = walk ? (oneRun ? id('h') : call('advance', id('h0'), id('carry'))) : id('carry');
    body.push(
      ifS(liveAnd(bin('==', id('blk'), bin('-', U('blocks'), u(1)))), [callS('store_final', final, id('b'), id('s'), bin('*', id('b'), u(layout.stateWidth)))]),
    );
  } else if (!spec.store) {
    const write = aggStore(U('out_offset'), U('blocks'), id('blk'), id('carry'));
    body.push(perThread ? write : ifS(bin('&&', id('live'), bin('==', id('c'), u(0))), [write]));
  }
  const params = [
    { name: 'lid', type: named('vec3<u32>'), attributes: ['builtin(local_invocation_id)'] },
    { name: 'wid', type: named('vec3<u32>'), attributes: ['builtin(workgroup_id)'] },
    { name: 'nwg', type: named('vec3<u32>'), attributes: ['builtin(num_workgroups)'] },
    ...(subgroups
      ? [
          { name: 'sg_id', type: u32, attributes: ['builtin(subgroup_invocation_id)'] },
          { name: 'sg_size', type: u32, attributes: ['builtin(subgroup_size)'] },
        ]
      : []),
  ];
  return { name: spec.name, stage: 'compute' as const, workgroupSize: [threads] as [number], params, body };
}
