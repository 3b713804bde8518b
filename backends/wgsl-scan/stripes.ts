// The entry point of the 'stripe' split (layout.ts) over the steps: a team of invocations (one
// subgroup) walks a block a stripe of consecutive steps at a time, scanning each stripe with
// subgroup shuffles and carrying states or the aggregate from stripe to stripe in registers.
import { assign, bin, call, callS, comment, id, ifS, index, letS, member, named, u32, varS, type Expr, type Function, type Stmt } from '../wgsl/ast.js';
import { elementCall, invariantsLet } from './element.js';
import { stateFields } from './states.js';
import type { StructField } from './layout.js';
import { flatWorkgroupIndex } from '../lower/grid.js';
import { U, ret, ELEM, u, tripLoops, elemAccess, aggIndex, type Ctx, type KernelSpec } from './kernel.js';

/** Member-wise subgroup operation on a struct value of scalars (`Elem` or `State` of a lane: the 'stripe' split's). */
export function shuffled(type: 'Elem' | 'State', fields: StructField[], fn: string, v: Expr, arg: Expr): Expr {
  if (fields.some((f) => f.dims.length)) throw new Error(`scan backend: the 'stripe' split shuffles lane elements, not whole ones`);
  return call(type, ...fields.map((f) => call(fn, member(v, f.name), arg)));
}

/** `team_scan(e, sg_id)`: inclusive scan of the team's elements, lane sg_id holding steps 0..sg_id of the stripe (log2 W shuffles). */
export function teamScanFunction(ctx: Ctx): Function {
  const W = ctx.tile.width!;
  const names = ctx.layout.fields;
  const body: Stmt[] = [varS('x', undefined, id('e'))];
  for (let d = 1; d < W; d *= 2) {
    // The shuffle runs in every lane (uniform control flow); only lanes with a lane d below combine.
    body.push(
      letS(`up${d}`, shuffled('Elem', names, 'subgroupShuffleUp', id('x'), u(d))),
      ifS(bin('>=', id('sg_id'), u(d)), [assign(id('x'), call('combine', id(`up${d}`), id('x')))]),
    );
  }
  body.push(ret(id('x')));
  return {
    name: 'team_scan',
    params: [
      { name: 'e', type: ELEM },
      { name: 'sg_id', type: u32 },
    ],
    returnType: ELEM,
    body,
    comment: `Inclusive scan across the ${W} lanes of a stripe: lane i gets the aggregate of the stripe's steps 0..i.`,
  };
}

/**
 * The 'stripe' split's passes over the steps: a team of W invocations (one subgroup) owns a block
 * of one lane and walks it W consecutive steps at a time, one step per invocation — loads and stores
 * of neighbouring steps side by side — scanning each stripe with subgroup shuffles and carrying the
 * states (scan_steps) or the aggregate (reduce_steps) from one stripe to the next in registers.
 */
export function stripeEntryPoint(ctx: Ctx, spec: KernelSpec) {
  const { layout } = ctx;
  const W = ctx.tile.width!;
  const S = layout.lanes;
  const aggs = elemAccess(ctx, 'aggs');
  const body: Stmt[] = [
    comment('Workgroups are numbered across a 2-D grid so that any count fits (65,535 per dimension).'),
    letS('wg', flatWorkgroupIndex()),
    comment(`A workgroup is one team (one subgroup of at least ${W} invocations, numbered as in the workgroup) on one block of one lane.`),
    ifS(bin('>=', id('wg'), bin('*', bin('*', U('batch'), u(S)), U('blocks'))), [{ kind: 'return' }]),
    letS('blk', bin('%', id('wg'), U('blocks'))),
    letS('seq_lane', bin('/', id('wg'), U('blocks'))),
    letS('s', bin('%', id('seq_lane'), u(S))),
    letS('b', bin('/', id('seq_lane'), u(S))),
    letS('start', bin('*', id('blk'), U('block_len'))),
    letS('end', call('min', bin('+', id('start'), U('block_len')), U('T'))),
    letS('len', call('min', index(id('lengths'), id('b')), U('T'))),
    ...invariantsLet(ctx),
    varS('carry', undefined, call('identity')),
  ];
  if (spec.store) {
    body.push(ifS(bin('!=', U('carry_in'), u(0)), [assign(id('carry'), aggs.load(aggIndex(ctx, U('in_offset'), U('blocks'), id('blk'))))]));
    body.push(varS('h', undefined, call('advance', call('load_state', id('b'), id('s')), id('carry'))));
  }
  body.push(...tripLoops(W, U('min_len'), stripeBody(ctx, spec.store)));
  if (spec.store)
    body.push(
      ifS(bin('&&', bin('==', id('sg_id'), u(0)), bin('==', id('blk'), bin('-', U('blocks'), u(1)))), [
        callS('store_final', id('h'), id('b'), id('s'), bin('*', id('b'), u(layout.stateWidth))),
      ]),
    );
  else body.push(ifS(bin('==', id('sg_id'), u(0)), [aggs.store(aggIndex(ctx, U('out_offset'), U('blocks'), id('blk')), id('carry'))]));
  const params = [
    { name: 'wid', type: named('vec3<u32>'), attributes: ['builtin(workgroup_id)'] },
    { name: 'nwg', type: named('vec3<u32>'), attributes: ['builtin(num_workgroups)'] },
    { name: 'sg_id', type: u32, attributes: ['builtin(subgroup_invocation_id)'] },
  ];
  return { name: spec.name, stage: 'compute' as const, workgroupSize: [W] as [number], params, body };
}

/**
 * One stripe at `tile0`: every lane's step, the team's scan, then the states carried to the next
 * stripe with the outputs stored (store), or the aggregate carried (not store). Guarded past the
 * block's end or the sequence's length.
 */
export function stripeBody(ctx: Ctx, store: boolean): (guarded: boolean) => Stmt[] {
  const { layout } = ctx;
  const W = ctx.tile.width!;
  const stateNames = stateFields(ctx);
  const elemNames = layout.fields;
  return (guarded: boolean): Stmt[] => {
    const out: Stmt[] = [letS('t', bin('+', id('tile0'), id('sg_id')))];
    if (guarded)
      out.push(
        varS('e', undefined, call('identity')),
        ifS(bin('&&', bin('<', id('t'), id('end')), bin('<', id('t'), id('len'))), [assign(id('e'), elementCall(ctx))]),
      );
    else out.push(letS('e', elementCall(ctx)));
    out.push(letS('x', call('team_scan', id('e'), id('sg_id'))));
    if (store) {
      out.push(letS('hx', call('advance', id('h'), id('x'))));
      if (layout.outputWidth > 0) {
        // The state before this step: the previous lane's, or the carried one in lane 0.
        out.push(
          varS('prev', undefined, shuffled('State', stateNames, 'subgroupShuffleUp', id('hx'), u(1))),
          ifS(bin('==', id('sg_id'), u(0)), [assign(id('prev'), id('h'))]),
        );
        const store = callS('store_step', id('prev'), id('hx'), id('b'), id('s'), id('t'), id('len'));
        out.push(guarded ? ifS(bin('<', id('t'), id('end')), [store]) : store);
      }
      out.push(assign(id('h'), shuffled('State', stateNames, 'subgroupShuffle', id('hx'), u(W - 1))));
    } else out.push(assign(id('carry'), call('combine', id('carry'), shuffled('Elem', elemNames, 'subgroupShuffle', id('x'), u(W - 1)))));
    return out;
  };
}
