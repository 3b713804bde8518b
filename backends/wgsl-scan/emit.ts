// The scan kernels as WGSL modules, one per pass kind:
//   scan_steps    load elements from the inputs, scan, store states and outputs (optionally carrying in a prefix per block)
//   reduce_steps  load elements from the inputs, write one aggregate per block
//   reduce_aggs   aggregates of one level to aggregates of the next
//   scan_aggs     exclusive scan of one level of aggregates in place (optionally carrying in the level above)
// Each module holds the element functions (element.ts), the store phase (states.ts) and the entry
// point of its split: tiles.ts ('tile', 'thread') or stripes.ts ('stripe', over the steps).
import type { ScanPlan } from '../../src/compiler/analyse/types.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
import type { SampleRequest } from '../../src/compiler/plan/plan.js';
import { arrayOf, emptyModule, f32, named, u32, vec, type Global, type Module as WgslModule } from '../wgsl/ast.js';
import { mathPrelude } from '../wgsl/math.js';
import { printModule } from '../wgsl/print.js';
import { budgetUnrolling } from '../wgsl/unroll-budget.js';
import { storeHalfWhere } from '../wgsl/half.js';
import { elementFunctions } from './element.js';
import {
  advanceFunction,
  applyFunction,
  directOutputs,
  loadStateFunction,
  outputFunction,
  outputRowsFit,
  stateFields,
  storeFinalFunction,
  storeStepFunction,
} from './states.js';
import { laneScanFunction, tileEntryPoint } from './tiles.js';
import { stripeBody, stripeEntryPoint, teamScanFunction } from './stripes.js';
import { recordFunctions, reduceBlockFunction, singleEntryPoint, singlePassFits, singleWorkgroupVars, statusType } from './single.js';
import { chainedEntryPoint, chainedFits, chainedPrivateVars, chainReduceFunction } from './chained.js';
import type { MatrixShape } from './matrix.js';
import { HALF_BUFFERS, blocksOf, sharedFloatsOf, threadsOf, tileSteps, type LaneBlocks, type ScanLayout, type TileShape } from './layout.js';
import { type KernelName, type MatrixKernelName, type StandardKernel, kernelNames, type Binding, uniformFields, ELEM, type Ctx, type KernelSpec, specs, fieldType, elemAccessFunctions } from './kernel.js';

export interface ScanKernel {
  name: KernelName;
  code: string;
  bindings: Binding[];
}

export interface EmitOptions {
  /** Combine a lane's runs with subgroup shuffles (needs the `subgroups` feature) instead of workgroup memory. */
  subgroups: boolean;
  /** Force outputs through workgroup memory (false) or per thread (true, only where directOutputs allows). */
  direct?: boolean;
  /** Also emit `scan_chained` (chained.ts) where it fits: only for adapters where a look-back is safe (plan Target.lookBack). */
  chained?: boolean;
  /** Inputs, params and outputs in f16 buffers (layout.ts HALF_BUFFERS). */
  half?: boolean;
  /** Outputs written at sampled positions only (index.ts `sampleFits`). */
  sample?: SampleRequest;
}

const globalName: Record<Binding, string> = {
  uniforms: 'U',
  inputs: 'inputs',
  params: 'params',
  init: 'init',
  lengths: 'lengths',
  outputs: 'outputs',
  final_state: 'final_state',
  aggs: 'aggs',
  status: 'status',
  parts: 'parts',
};

function kernelBindings(spec: KernelSpec): Binding[] {
  if (spec.name === 'scan_single' || spec.name === 'scan_chained') return ['uniforms', 'inputs', 'params', 'init', 'lengths', 'outputs', 'final_state', 'status'];
  if (spec.source === 'aggs') return ['uniforms', 'aggs'];
  if (!spec.store) return ['uniforms', 'inputs', 'params', 'lengths', 'aggs', 'parts'];
  return ['uniforms', 'inputs', 'params', 'init', 'lengths', 'outputs', 'final_state', 'aggs', 'parts'];
}

function globalsFor(ctx: Ctx, bindings: Binding[], spec: KernelSpec, subgroups: boolean): Global[] {
  const f32s = arrayOf(f32);
  const decl: Record<Binding, Global> = {
    uniforms: { name: 'U', space: 'uniform', type: named('Uniforms'), group: 0, binding: 0 },
    inputs: {
      name: 'inputs',
      space: 'storage',
      access: 'read',
      type: f32s,
      group: 0,
      binding: 1,
      comment: 'Every input, [batch, T, ...dims] each, one after another.',
    },
    params: { name: 'params', space: 'storage', access: 'read', type: f32s, group: 0, binding: 2 },
    init: { name: 'init', space: 'storage', access: 'read', type: f32s, group: 0, binding: 3, comment: 'Initial states, [batch, state floats].' },
    lengths: { name: 'lengths', space: 'storage', access: 'read', type: arrayOf(u32), group: 0, binding: 4 },
    outputs: { name: 'outputs', space: 'storage', access: 'read_write', type: f32s, group: 0, binding: 5 },
    final_state: { name: 'final_state', space: 'storage', access: 'read_write', type: f32s, group: 0, binding: 6 },
    aggs: {
      name: 'aggs',
      space: 'storage',
      access: 'read_write',
      type: arrayOf(ELEM),
      group: 0,
      binding: 7,
      comment: 'Block aggregates, one region per level: [batch, lanes, blocks].',
    },
    status: { name: 'status', space: 'storage', access: 'read_write', type: statusType, group: 0, binding: 8, comment: 'The ticket counter, then a record per block: [batch, lanes, blocks, words].' },
    parts: { name: 'parts', space: 'storage', access: 'read_write', type: arrayOf(ELEM), group: 0, binding: 9, comment: 'Aggregates of the parts of each block between sampled steps: [batch, lanes, blocks, parts per block].' },
  };
  if (ctx.outputRows) decl.outputs = { ...decl.outputs, type: arrayOf(vec(4, f32)), comment: 'Every output, [batch, T, ...dims] each, one after another, as vec4s (every row a multiple of 4 floats).' };
  if (spec.name === 'scan_chained') {
    // Tiles are loaded and stored a vec4 at a time (every tensor is one float per step, T a multiple of 4).
    decl.inputs = { ...decl.inputs, type: arrayOf(vec(4, f32)), comment: 'Every input, [batch, T] each (one float per step), one after another, as vec4s.' };
    decl.outputs = { ...decl.outputs, type: arrayOf(vec(4, f32)) };
    decl.status = { ...decl.status, comment: 'A ticket counter per sequence lane, then a record per group of tiles: [batch, lanes, groups, words].' };
  }
  const globals = bindings.map((b) => decl[b]);
  const { tile, layout } = ctx;
  if (spec.source === 'steps' && spec.store && !ctx.direct) {
    globals.push({
      name: 'st',
      space: 'workgroup',
      type: arrayOf(f32, tile.groups * (tileSteps(tile) + 1) * blocksOf(tile, layout).stateWidth),
      comment: `States of every step of the tile, slot 0 the state before it: [groups, TILE + 1, state floats${blocksOf(tile, layout).blocks > 1 ? ' of the lane block' : ''}].`,
    });
  }
  if (tile.runs > 1)
    globals.push({
      name: 'scratch',
      space: 'workgroup',
      type: arrayOf(ELEM, threadsOf(tile, layout)),
      comment: 'Run aggregates, then the prefix before each run: [runs, lanes].',
    });
  if (tile.runs > 1) globals.push({ name: 'lane_total', space: 'workgroup', type: arrayOf(ELEM, tile.groups * blocksOf(tile, layout).lanes) });
  if (spec.name === 'scan_single') globals.push(...singleWorkgroupVars);
  if (spec.name === 'scan_chained') globals.push(...chainedPrivateVars(layout));
  return globals;
}

function header(ctx: Ctx, spec: KernelSpec, subgroups: boolean): string {
  const { tile, layout } = ctx;
  return [
    `${ctx.module.name}: ${spec.name} (generated by rnnc, scan backend)`,
    `element: ${layout.mode === 'lanes' ? `${layout.members.length} floats per lane, lanes over [${layout.laneDims.join(', ')}] (${layout.lanes} per sequence)` : `${layout.members.length} floats per sequence (whole)`}`,
    spec.name === 'scan_chained'
      ? 'chained single pass: each invocation a range of block_len steps, walked twice with vec4 loads (reduce; then scan and store), a subgroup per ticket: reduce, scan across the subgroup, look back (with fallback), scan'
      : spec.name === 'scan_single'
      ? `split: a team of ${tile.width} invocations (one subgroup) per block, in one pass: reduce, look back (with fallback), scan`
      : tile.split === 'stripe' && spec.source === 'steps'
      ? `split: a team of ${tile.width} invocations (one subgroup) walks a block of one lane ${tile.width} steps at a time, scanning each stripe with subgroup shuffles; no barriers`
      : tile.split !== 'tile'
        ? `split: each of ${tile.width} invocations scans its own block of one lane, ${tile.runLength} steps per loop trip; no barriers`
        : `tile: ${tile.groups} sequence(s) x ${blocksOf(tile, layout).lanes} lane(s) x ${tile.runs} runs x ${tile.runLength} steps = ${tileSteps(tile)} steps${tile.runs > 1 ? `; runs combined with ${subgroups ? 'subgroup shuffles' : 'workgroup memory'}` : ''}`,
    ...(blocksOf(tile, layout).blocks > 1 ? [laneBlocksLine(layout, blocksOf(tile, layout))] : []),
  ].join('\n');
}

/** How a sequence's lanes are spread over workgroups, for headers and the manifest. */
export function laneBlocksLine(layout: ScanLayout, b: LaneBlocks): string {
  const cut = layout.laneDims.filter((_, k) => b.count[k]! > 1).map((d) => `${d} in ${b.count[layout.laneDims.indexOf(d)]} blocks of ${b.extent[layout.laneDims.indexOf(d)]}`);
  return `lanes spread over ${b.blocks} workgroups per sequence group: ${cut.join(', ')} (outputs reduce within a block)`;
}

export interface ScanKernels {
  /**
   * The four passes of every scan, `scan_single` where the element fits it (single.ts) and
   * `scan_chained` where it fits and was asked for (chained.ts); the
   * 'matrix' layout (matrix.ts) has no `reduce_aggs` (one level of aggregates).
   */
  kernels: Record<MatrixKernelName, ScanKernel> & Partial<Record<KernelName, ScanKernel>>;
  layout: ScanLayout;
  tile: TileShape;
  subgroups: boolean;
  /** Set where a workgroup holds each element (matrix.ts): then `tile` is unused. */
  matrix?: MatrixShape;
  /** Outputs written at sampled positions only (`sampledRegions` places them in the `outputs` buffer). */
  sample?: SampleRequest;
  /** With `sample`: scan_steps goes from sampled step to sampled step (Ctx.jump), reading the `parts` reduce_steps writes. */
  jump?: true;
}

/**
 * Whether a sampled scan can go from sampled step to sampled step (Ctx.jump): every output is
 * sampled and is a state before the step (a staged core's carried adjoint), so no step between two
 * samples writes anything; one thread walks each block of one sequence ('thread' split, one run).
 * A saving cell also writes the cell's outputs every step, so it steps. Gla's core at T = 2^20:
 * 44 -> 27 ms (docs/grad.md, "Session 32").
 */
export function jumpFits(module: Module, layout: ScanLayout, tile: TileShape, sample: SampleRequest | undefined, direct: boolean): boolean {
  if (!sample || !direct || tile.split !== 'thread' || tile.runs !== 1 || layout.mode !== 'whole') return false;
  return layout.outputs.every((o) => {
    const def = module.step.find((d) => d.kind === 'output' && d.target === o.tensor.name);
    const root = def?.nodes[def.root];
    return sample.outputs.includes(o.tensor.name) && root?.op === 'load' && root.source === 'state' && root.version !== 'new';
  });
}

export function emitScanKernels(module: Module, plan: ScanPlan, sizes: DimSizes, layout: ScanLayout, tile: TileShape, emitOptions: EmitOptions): ScanKernels {
  const kernels = {} as Record<StandardKernel, ScanKernel> & Partial<Record<KernelName, ScanKernel>>;
  // Subgroup operations only combine runs across threads: without runs the kernels need no feature.
  const striped = tile.split === 'stripe';
  if (striped && !emitOptions.subgroups) throw new Error(`scan backend: ${module.name}: the 'stripe' split needs subgroups`);
  const options = { ...emitOptions, subgroups: striped || (emitOptions.subgroups && tile.split === 'tile' && tile.runs > 1) };
  const direct = options.direct ?? directOutputs(module, layout);
  if (tile.split !== 'tile' && !direct) throw new Error(`scan backend: ${module.name}: the 'thread' split needs outputs each thread can write itself`);
  const names: KernelName[] = [
    ...kernelNames,
    ...(singlePassFits({ tile, layout }) ? ['scan_single' as const] : []),
    ...(emitOptions.chained && chainedFits({ tile, layout }) ? ['scan_chained' as const] : []),
  ];
  // The store phase writes rows of vec4s where it fits (states.ts): every kernel binding `outputs` declares them so.
  const rows = outputRowsFit(layout, { direct, half: emitOptions.half ?? false });
  const jump = jumpFits(module, layout, tile, emitOptions.sample, direct);
  for (const name of names) {
    const spec = specs[name];
    const chained = name === 'scan_chained';
    const single = name === 'scan_single' || chained;
    const ctx: Ctx = { module, plan, layout, tile, sizes, helpers: new Set(), direct, ...(chained ? { stepIO: 'private' as const } : rows ? { outputRows: true } : {}), ...(emitOptions.sample ? { sample: emitOptions.sample } : {}), ...(jump && !single ? { jump: true as const } : {}) };
    // `element` and `invariants` read the inputs and params: only the passes over the steps have them.
    const functions = [...elementFunctions(ctx), ...(tile.runs > 1 ? [laneScanFunction(ctx, options.subgroups)] : [])].filter(
      (f) => spec.source === 'steps' || (f.name !== 'element' && f.name !== 'invariants'),
    );
    if (spec.source === 'steps' && spec.store) {
      if (ctx.direct) {
        functions.push(loadStateFunction(ctx), advanceFunction(ctx));
        if (layout.outputWidth > 0) functions.push(storeStepFunction(ctx));
        functions.push(storeFinalFunction(ctx));
      } else {
        functions.push(applyFunction(ctx, 'store_states', 'st'));
        if (layout.outputWidth > 0) functions.push(outputFunction(ctx));
        functions.push(applyFunction(ctx, 'store_final', 'final_state'));
      }
    }
    const stripeSteps = striped && spec.source === 'steps' && !chained;
    if (stripeSteps) functions.push(teamScanFunction(ctx));
    if (chained) functions.push(chainReduceFunction(ctx), ...recordFunctions(ctx));
    else if (single) functions.push(reduceBlockFunction(ctx), ...recordFunctions(ctx));
    const prelude = mathPrelude(ctx.helpers);
    const entry = chained
      ? chainedEntryPoint(ctx, spec)
      : single
        ? singleEntryPoint(ctx, spec, stripeBody(ctx, true))
        : stripeSteps
          ? stripeEntryPoint(ctx, spec)
          : tileEntryPoint(ctx, spec, options.subgroups && !striped);
    // Element copies through memory, where something calls them.
    const calls = printModule({ ...emptyModule(), functions, entryPoints: [entry] });
    functions.unshift(...elemAccessFunctions(ctx).filter((f) => new RegExp(`\\b${f.name}\\(`).test(calls)));
    // With 'auto' pipeline layouts only the bindings the entry point uses exist: declare exactly those.
    const used = printModule({ ...emptyModule(), functions, entryPoints: [entry] });
    const bindings = kernelBindings(spec).filter((b) => new RegExp(`\\b${globalName[b]}\\b`).test(used));
    const wgsl: WgslModule = {
      ...emptyModule(),
      header: header(ctx, spec, options.subgroups),
      enables: options.subgroups && (stripeSteps || chained || !striped) ? ['subgroups'] : [],
      structs: [
        { name: 'Elem', members: layout.fields.map((f) => ({ name: f.name, type: fieldType(f) })) },
        ...(spec.source === 'steps' && ctx.invariants?.length ? [{ name: 'Inv', members: ctx.invariants.map((m) => ({ name: m.name, type: m.type })) }] : []),
        ...(spec.source === 'steps' && spec.store && direct ? [{ name: 'State', members: stateFields(ctx).map((f) => ({ name: f.name, type: fieldType(f) })) }] : []),
        ...(tile.runs > 1
          ? [
              {
                name: 'LaneScan',
                members: [
                  { name: 'excl', type: ELEM },
                  { name: 'total', type: ELEM },
                ],
              },
            ]
          : []),
        ...(single
          ? [
              {
                name: 'Peek',
                members: [
                  { name: 'tag', type: u32 },
                  { name: 'value', type: ELEM },
                ],
              },
            ]
          : []),
        { name: 'Uniforms', members: uniformFields.map((f) => ({ name: f, type: u32 })) },
      ],
      globals: [...globalsFor(ctx, bindings, spec, options.subgroups), ...prelude.globals],
      functions: [...prelude.functions, ...functions],
      entryPoints: [entry],
    };
    kernels[name] = { name, code: printModule(storeHalfWhere(emitOptions.half, budgetUnrolling(wgsl), HALF_BUFFERS)), bindings };
  }
  return { kernels, layout, tile, subgroups: options.subgroups, ...(emitOptions.sample ? { sample: emitOptions.sample } : {}), ...(jump ? { jump: true as const } : {}) };
}

export { sharedFloatsOf };

export { bindingIndex, kernelNames, uniformFields, type Binding, type KernelName, type MatrixKernelName, type StandardKernel } from './kernel.js';
export { directOutputs } from './states.js';
