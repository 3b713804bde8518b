// The typed TypeScript host module of the scan kernels: the same public shape as the sequential
// kernel's (host-module.ts), run<Name>(device, run), plus schedule<Name>(batch, T), which picks the
// passes, their uniforms and their grids at run time exactly as the scan backend's scheduleScan
// does with its default options, so the module needs nothing from rnnc. scan_single, run only on
// request, is left out.
import type { Module } from '../../src/compiler/ir/ir.js';
import { bindingIndex, kernelNames as standardKernelNames, uniformFields, type Binding, type ScanKernels } from '../wgsl-scan/emit.js';
import { blocksOf, paddedLanes, stepsPerTrip, type ScanLayout } from '../wgsl-scan/layout.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';
// scheduleScan's defaults (schedule.ts), one source: test/host/schedule.test.ts holds the generated schedule to scheduleScan's.
import { matrixKernelNames } from '../wgsl-scan/kernel.js';
import { MATRIX_MIN_BLOCK, MATRIX_TARGET_BLOCKS } from '../wgsl-scan/matrix.js';
import { MIN_CARRY_GROUPS, MIN_CARRY_THREADS, TARGET_THREADS, TILE_TARGET_BLOCKS, TOP_TRIPS } from '../wgsl-scan/schedule.js';
import {
  access,
  checkFunctionText,
  field,
  formatHostModule,
  headerText,
  optionalAccess,
  packRegionText,
  halfFeatureCheckText,
  pascal,
  readResultsText,
  runtimeImportText,
  runtimeNames,
  regionSliceText,
  runArgumentsText,
  runTypesText,
  stateInit,
  templateText,
} from './host-parts.js';


/** Words of a pass's uniform block: the fields, padded to a multiple of 16 bytes. */
const UNIFORM_WORDS = Math.ceil(uniformFields.length / 4) * 4;

/** `schedule<Name>(batch, T, minLength)` and its types, specialised to the kernels' layout and tile. */
function scheduleText(m: Module, k: ScanKernels): string {
  const T = pascal(m.name);
  const { layout, tile } = k;
  const TILE = stepsPerTrip(tile);
  const perThread = tile.split !== 'tile';
  const perBlock = tile.split === 'stripe' ? tile.width! : 1;
  // Workgroups for `blocks` blocks of every lane (scheduleScan's `workgroups`).
  // The 'tile' split's lane blocks: more workgroups per sequence group, and padded lanes (layout.ts).
  const laneBlocks = blocksOf(tile, layout).blocks;
  const workgroups =
    tile.split === 'tile'
      ? laneBlocks > 1
        ? `groups * ${laneBlocks} * blocks`
        : `groups * blocks`
      : tile.split === 'thread'
        ? `Math.ceil((lanes * blocks) / ${tile.width})`
        : `kernel === 'scan_steps' || kernel === 'reduce_steps' ? lanes * blocks : Math.ceil((lanes * blocks) / ${tile.width})`;
  const manyLanes = perThread ? `lanes * ${perBlock} >= ${MIN_CARRY_THREADS}` : laneBlocks > 1 ? `groups * ${laneBlocks} >= ${MIN_CARRY_GROUPS}` : `groups >= ${MIN_CARRY_GROUPS}`;
  const targetBlocks = perThread ? `Math.max(2, Math.ceil(${TARGET_THREADS} / (lanes * ${perBlock})))` : `${TILE_TARGET_BLOCKS}`;
  return `${schedulePreludeText(T, 'Elements of the aggregates buffer (every level).')}

/**
 * The passes for a batch of sequences of T steps, the shortest minLength: one pass carrying the
 * prefix when ${perThread ? 'the lanes alone fill enough invocations' : 'there are many groups of sequences'} or T is short, else reduce-then-scan over
 * blocks of ${TILE}-step trips with levels of aggregates (2L + 1 dispatches for L levels).
 */
export function schedule${T}(batch: number, T: number, minLength: number = T): ${T}Schedule {
  const lanes = batch * ${paddedLanes(tile, layout)};
  const groups = Math.ceil(batch / ${tile.groups});
  const workgroups = (kernel: ${T}Kernel, blocks: number) => ${workgroups};
  const base = { T, batch, groups, min_len: Math.min(T, minLength) };
  if (${manyLanes} || T <= ${2 * TILE}) {
    const pass: ${T}Pass = { kernel: 'scan_steps', uniforms: uniforms({ ...base, n: T, block_len: Math.max(T, 1), blocks: 1 }), dispatch: grid(workgroups('scan_steps', 1)) };
    return { strategy: 'carry', passes: [pass], aggElements: 1 };
  }
  const targetBlocks = ${targetBlocks};
  // Level 0 (the steps) is reduced into level 1, and so on while a level is too long for one workgroup.
  const levels: { n: number; blockLen: number; blocks: number; offset: number }[] = [];
  let offset = 0;
  let n = T;
  for (;;) {
    const blockLen = ${TILE} * Math.max(1, Math.ceil(n / (${TILE} * targetBlocks)));
    const blocks = Math.ceil(n / blockLen);
    levels.push({ n, blockLen, blocks, offset });
    if (levels.length > 1) offset += n * lanes;
    n = blocks;
    if (n <= ${TOP_TRIPS * TILE}) break;
  }
  const top = { n, offset };
  const offsetOf = (j: number) => (j === levels.length ? top.offset : levels[j]!.offset);
  const passes: ${T}Pass[] = [];
  levels.forEach((lv, j) => {
    const kernel = j === 0 ? 'reduce_steps' : 'reduce_aggs';
    const u = uniforms({ ...base, n: lv.n, block_len: lv.blockLen, blocks: lv.blocks, in_offset: lv.offset, out_offset: offsetOf(j + 1) });
    passes.push({ kernel, uniforms: u, dispatch: grid(workgroups(kernel, lv.blocks)) });
  });
  const topUniforms = uniforms({ ...base, n: top.n, block_len: Math.max(top.n, 1), blocks: 1, out_offset: top.offset });
  passes.push({ kernel: 'scan_aggs', uniforms: topUniforms, dispatch: grid(workgroups('scan_aggs', 1)) });
  for (let j = levels.length - 1; j >= 0; j--) {
    const lv = levels[j]!;
    const kernel = j === 0 ? 'scan_steps' : 'scan_aggs';
    const u = uniforms({ ...base, n: lv.n, block_len: lv.blockLen, blocks: lv.blocks, in_offset: offsetOf(j + 1), out_offset: lv.offset, carry_in: 1 });
    passes.push({ kernel, uniforms: u, dispatch: grid(workgroups(kernel, lv.blocks)) });
  }
  return { strategy: 'reduce-then-scan', passes, aggElements: top.offset + top.n * lanes };
}`;
}

/** The types and helpers every generated schedule starts with: a pass, the schedule, the uniform block, the grid. */
function schedulePreludeText(T: string, aggElementsDoc: string): string {
  return `/** One dispatch: a kernel, its uniform block and its workgroups [x, y]. */
export interface ${T}Pass {
  kernel: ${T}Kernel;
  uniforms: Uint32Array;
  dispatch: [number, number];
}

export interface ${T}Schedule {
  strategy: 'carry' | 'reduce-then-scan';
  passes: ${T}Pass[];
  /** ${aggElementsDoc} */
  aggElements: number;
}

type UniformField = ${uniformFields.map((f) => `'${f}'`).join(' | ')};

/** A pass's uniform block: the kernels' fields in order (missing ones 0), padded to 16 bytes. */
function uniforms(u: Partial<Record<UniformField, number>>): Uint32Array {
  return new Uint32Array([${[...uniformFields.map((f) => `u.${f} ?? 0`), ...Array(UNIFORM_WORDS - uniformFields.length).fill('0')].join(', ')}]);
}`;
}

/** `schedule<Name>(batch, T, minLength)` for the 'matrix' layout, as scheduleMatrix (matrix.ts) computes it. */
function matrixScheduleText(m: Module, k: ScanKernels): string {
  const T = pascal(m.name);
  const { layout } = k;
  const shape = k.matrix!;
  const perBlock = layout.members.length + layout.stateWidth + (shape.place === 'storage' ? shape.scratch : 0);
  return `${schedulePreludeText(T, `Elements (${layout.members.length} floats) of the aggregates buffer: block aggregates, block states${shape.place === 'storage' ? ' and working memory' : ''}.`)}

/**
 * The passes for a batch of sequences of T steps, the shortest minLength: at most ${MATRIX_TARGET_BLOCKS} blocks of
 * at least ${MATRIX_MIN_BLOCK} steps per sequence, a workgroup per (sequence, block) holding one element; with several blocks,
 * their aggregates (reduce_steps), the state at the start of each (scan_aggs), then the steps (scan_steps).
 */
export function schedule${T}(batch: number, T: number, minLength: number = T): ${T}Schedule {
  const blockLen = Math.max(${MATRIX_MIN_BLOCK}, Math.ceil(T / ${MATRIX_TARGET_BLOCKS}));
  const blocks = Math.max(1, Math.ceil(T / blockLen));
  const u = uniforms({ T, batch, groups: batch, n: T, block_len: blockLen, blocks, min_len: Math.min(T, minLength) });
  const passes: ${T}Pass[] =
    blocks > 1
      ? [
          { kernel: 'reduce_steps', uniforms: u, dispatch: grid(batch * blocks) },
          { kernel: 'scan_aggs', uniforms: u, dispatch: grid(batch) },
          { kernel: 'scan_steps', uniforms: u, dispatch: grid(batch * blocks) },
        ]
      : [{ kernel: 'scan_steps', uniforms: u, dispatch: grid(batch) }];
  return { strategy: blocks > 1 ? 'reduce-then-scan' : 'carry', passes, aggElements: Math.max(1, Math.ceil((batch * blocks * ${perBlock}) / ${layout.members.length})) };
}`;
}

/** Dim sizes, read off the packed tensors' strides (a tensor over [d0, d1, ...] has strides [|d1|·|d2|…, |d2|…, …, 1]). */
function dimSizes(layout: ScanLayout): DimSizes {
  const sizes: DimSizes = {};
  for (const p of [...layout.inputs, ...layout.params, ...layout.states, ...layout.outputs])
    p.tensor.dims.forEach((d, i) => (sizes[d] = (i === 0 ? p.size : p.strides[i - 1]!) / p.strides[i]!));
  return sizes;
}

/** What the device must offer: the subgroups feature, and subgroups that hold a stripe's team. */
function deviceChecksText(m: Module, k: ScanKernels): string {
  if (!k.subgroups) return '';
  const lines = [
    `  if (!device.features.has('subgroups')) throw new Error("${m.name}: these kernels use subgroup operations: open the device with the 'subgroups' feature, or compile with --no-subgroups");`,
  ];
  if (k.tile.split === 'stripe')
    lines.push(
      `  const subgroupMin = device.adapterInfo?.subgroupMinSize;`,
      `  if (subgroupMin !== undefined && subgroupMin < ${k.tile.width}) throw new Error(\`${m.name}: a team of ${k.tile.width} invocations must fit in one subgroup; this device's subgroups may have \${subgroupMin}: compile with --no-subgroups\`);`,
    );
  return lines.join('\n');
}

/**
 * Inputs and params packed one tensor after another, initial states interleaved per sequence
 * ([batch, state floats]); only the buffers some kernel binds.
 */
function packingText(m: Module, k: ScanKernels, bound: readonly Binding[], half: boolean): string {
  const { layout } = k;
  const lines: string[] = [];
  // With f16 storage the inputs and params buffers hold f16 bits (layout.ts HALF_BUFFERS).
  const array = half ? 'halfArray' : 'new Float32Array';
  if (bound.includes('inputs')) {
    lines.push(`  const inputs = ${array}(Math.max(1, ${layout.inputWidth} * batch * T));`);
    for (const p of layout.inputs) lines.push(packRegionText('inputs', 'inputs', p.tensor.name, p.offset, 'batch * T', half));
  }
  if (bound.includes('params')) {
    lines.push(`  const params = ${array}(${Math.max(1, layout.paramWidth)});`);
    for (const p of layout.params) lines.push(packRegionText('params', 'params', p.tensor.name, p.offset, '1', half));
  }
  if (!bound.includes('init')) return lines.join('\n');
  lines.push(`  const init = new Float32Array(Math.max(1, batch * ${layout.stateWidth}));`);
  for (const st of layout.states) {
    const init = stateInit(m, st.tensor.name);
    lines.push(
      `  {`,
      `    const given = run.initialState${optionalAccess(st.tensor.name)};`,
      `    if (given) check('initialState.${st.tensor.name}', given, batch * ${st.size});`,
      `    for (let b = 0; b < batch; b++) {`,
      `      const at = b * ${layout.stateWidth} + ${st.offset};`,
      `      if (given) init.set(given.subarray(b * ${st.size}, (b + 1) * ${st.size}), at);`,
      'param' in init ? `      else init.set(${init.param}, at);` : `      else init.fill(${init.value}, at, at + ${st.size});`,
      `    }`,
      `  }`,
    );
  }
  return lines.join('\n');
}

/** Outputs sliced per tensor; final states taken out of their per-sequence interleaving. */
function resultText(k: ScanKernels): string {
  const { layout } = k;
  const outputs = layout.outputs.map((p) => `${field(p.tensor.name)}: ${regionSliceText('outputs', p.offset, p.size, 'batch * T')}`).join(', ');
  const states = layout.states.map((st) => `${field(st.tensor.name)}: new Float32Array(batch * ${st.size})`).join(', ');
  const copies = layout.states.map(
    (st) => `    finalState${access(st.tensor.name)}.set(final_state.subarray(b * ${layout.stateWidth} + ${st.offset}, b * ${layout.stateWidth} + ${st.offset + st.size}), b * ${st.size});`,
  );
  return `  const finalState = { ${states} };
  for (let b = 0; b < batch; b++) {
${copies.join('\n')}
  }
  return { outputs: { ${outputs} }, finalState };`;
}

/** `half`: the kernels store inputs, params and outputs as f16 (the plan's f16-storage precision; HALF_BUFFERS). */
export async function scanHostModule(m: Module, k: ScanKernels, sourcePath: string, { half = false }: { half?: boolean } = {}): Promise<string> {
  const T = pascal(m.name);
  const { layout, tile } = k;
  const sizes = dimSizes(k.layout);
  // The 'matrix' layout (matrix.ts) has three kernels and its own schedule.
  const kernelNames: readonly (keyof ScanKernels['kernels'])[] = k.matrix ? matrixKernelNames : standardKernelNames;
  // The storage buffers some kernel binds: those the host fills, then those the kernels write (with their bytes).
  const bound = (b: Binding) => kernelNames.some((n) => k.kernels[n]!.bindings.includes(b));
  const uploaded = (['inputs', 'params', 'init', 'lengths'] as const).filter(bound);
  const outputElements = `Math.max(1, ${layout.outputWidth} * batch * T)`;
  const writtenBytes = {
    outputs: half ? `halfBytes(${outputElements})` : `4 * ${outputElements}`,
    final_state: `4 * Math.max(1, batch * ${layout.stateWidth})`,
    aggs: `${4 * layout.members.length} * Math.max(1, schedule.aggElements)`,
  };
  const written = (['outputs', 'final_state', 'aggs'] as const).filter(bound);
  const storage: Binding[] = [...uploaded, ...written];
  for (const n of kernelNames)
    for (const b of k.kernels[n]!.bindings) if (b !== 'uniforms' && !storage.includes(b)) throw new Error(`scan host module: kernel ${n} binds \`${b}\`, which the host module does not make`);
  const bindings = kernelNames
    .map((n) => `  ${n}: [${k.kernels[n]!.bindings.filter((b) => b !== 'uniforms').map((b) => `[${bindingIndex[b]}, '${b}']`).join(', ')}],`)
    .join('\n');
  const read = written.filter((b) => b !== 'aggs');

  const code = `
${headerText(m, 'scan kernels', sourcePath)}
${runtimeImportText(runtimeNames(half))}
// Element: ${layout.mode === 'lanes' ? `${layout.members.length} floats per lane, ${layout.lanes} lanes per sequence` : `${layout.members.length} floats per sequence`}; ${k.matrix ? `held by a workgroup of ${k.matrix.width} invocations (the 'matrix' layout)` : `'${tile.split}' split`}${k.subgroups ? ', subgroup operations' : ''}.

/** The WGSL of each kernel; its entry point has the kernel's name. */
export const ${m.name}Wgsl = {
${kernelNames.map((n) => `  ${n}: \`${templateText(k.kernels[n]!.code)}\`,`).join('\n')}
};

export type ${T}Kernel = keyof typeof ${m.name}Wgsl;

${runTypesText(m, sizes, half)}

${k.matrix ? matrixScheduleText(m, k) : scheduleText(m, k)}

type ${T}Buffer = ${storage.map((b) => `'${b}'`).join(' | ')};

/** The storage buffers each kernel binds, by binding number; binding ${bindingIndex.uniforms} holds the pass's uniforms. */
const bindings: Record<${T}Kernel, [number, ${T}Buffer][]> = {
${bindings}
};

${checkFunctionText(m)}

/** Runs the passes of schedule${T}(batch, T) once over a batch of sequences. */
export async function run${T}(device: GPUDevice, run: ${T}Run): Promise<${T}Result> {
${runArgumentsText(m, sizes)}
${deviceChecksText(m, k)}${halfFeatureCheckText(m, half)}
  const schedule = schedule${T}(batch, T, lengths.reduce((a, n) => Math.min(a, n), T));
${packingText(m, k, storage, half)}

  // Pipelines are compiled once per device and buffers pooled across calls (rnnc/runtime).
  const gpu = HostGpu.for(device);
  const buffers: Record<${T}Buffer, GPUBuffer> = {
${uploaded.map((b) => `    ${b}: gpu.upload(${b}, READ),`).join('\n')}
${written.map((b) => `    ${b}: gpu.buffer(${writtenBytes[b]}, WRITE),`).join('\n')}
  };
  const pipelines = new Map<${T}Kernel, GPUComputePipeline>();
  for (const kernel of new Set(schedule.passes.map((p) => p.kernel))) pipelines.set(kernel, await gpu.pipeline(${m.name}Wgsl[kernel], kernel));
  const uniformBuffers = schedule.passes.map((p) => gpu.upload(p.uniforms, UNIFORMS));
  const passes = schedule.passes.map((p, k) => ({
    pipeline: pipelines.get(p.kernel)!,
    bindings: [[${bindingIndex.uniforms}, uniformBuffers[k]!] as const, ...bindings[p.kernel].map(([binding, name]) => [binding, buffers[name]] as const)],
    dispatch: p.dispatch,
  }));
${readResultsText(
  read,
  `gpu.submit(passes, { reads: [${read.map((b) => `[buffers.${b}, ${half && b === 'outputs' ? `2 * ${outputElements}` : writtenBytes[b]}]`).join(', ')}], release: [...uniformBuffers, ...Object.values(buffers)] })`,
  half ? { outputs: outputElements } : {},
)}
${resultText(k)}
}
`;
  return formatHostModule(code);
}
