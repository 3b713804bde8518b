// The typed TypeScript host module of the chunk kernels: the same public shape as the sequential
// kernel's (host-module.ts), run<Name>(device, run), plus schedule<Name>(batch, T), the chunk count
// and the three passes' grids as chunkDispatches (backends/wgsl-chunk) computes them. The passes
// share the sequential kernel's buffers, so packing and unpacking are the seq module's
// (host-parts.ts); `agg` and `carry` are scratch.
import type { Module } from '../../src/compiler/ir/ir.js';
import { HALF_ROLES } from '../wgsl-seq/layout.js';
import { chunkBindings, type ChunkBuffer } from '../wgsl-chunk/emit.js';
import { chunkScratchFloats, passesOf, passGroups, passGroupsText, type ChunkKernels } from '../wgsl-chunk/index.js';
import {
  checkFunctionText,
  formatHostModule,
  headerText,
  bufferBytesText,
  halfFeatureCheckText,
  pascal,
  readResultsText,
  runtimeImportText,
  runtimeNames,
  runArgumentsText,
  runTypesText,
  scaleCode,
  seqLayoutPackingText,
  seqLayoutResultText,
  templateText,
} from './host-parts.js';


export { chunkManifest } from './chunk-manifest.js';

function scheduleText(m: Module, k: ChunkKernels): string {
  const T = pascal(m.name);
  const groups = passGroups(k);
  return `export interface ${T}Schedule {
  /** Chunks per sequence (at least 1). */
  chunks: number;
  /** Workgroups [x, y] of each pass. */
  dispatch: Record<${T}Pass, [number, number]>;
}

/** Chunks of ${k.geometry.C} steps; ${k.shape.form === 'wy' ? `a workgroup per (sequence, chunk) builds the chunk's WY factors; a workgroup per block of ${k.geometry.workgroupSize} rows of a sequence carries, and per (sequence, chunk, block) replays` : `a workgroup per (sequence, chunk) aggregates and replays; ${groups.carry.divide} invocations per workgroup carry, one per (sequence, row)`}. */
export function schedule${T}(batch: number, T: number): ${T}Schedule {
  const chunks = Math.max(1, Math.ceil(T / ${k.geometry.C}));
  return {
    chunks,
    dispatch: { ${passesOf(k).map((p) => `${p}: grid(${passGroupsText(groups[p], 'Math.ceil')})`).join(', ')} },
  };
}`;
}

export async function chunkHostModule(m: Module, k: ChunkKernels, sourcePath: string): Promise<string> {
  const T = pascal(m.name);
  // f16 storage (the plan's precision): the seq layout's inputs, weights and outputs hold f16 (HALF_ROLES).
  const half = k.geometry.half ?? false;
  const elementsOf = (b: (typeof layoutBuffers)[number]) => `${b.perUnit} * ${scaleCode(b.scale)}`;
  const bytesOf = (b: (typeof layoutBuffers)[number]) => bufferBytesText(elementsOf(b), half && HALF_ROLES.has(b.role));
  const dims = k.seq.dims;
  const layoutBuffers = k.seq.layout.buffers;
  const scratch = chunkScratchFloats(k);
  const chunkPasses = passesOf(k);
  const present: ChunkBuffer[] = ['params', ...layoutBuffers.map((b) => b.role), 'agg', ...(scratch.carry ? ['carry' as const] : [])];
  for (const p of chunkPasses)
    for (const b of k.passes[p]!.buffers) if (!present.includes(b)) throw new Error(`chunk host module: the ${p} pass binds \`${b}\`, which the sequential layout of ${m.name} lacks`);
  const created = [
    `    params: gpu.upload(new Uint32Array([batch, T, schedule.chunks, 0]), UNIFORMS),`,
    ...layoutBuffers.map((b) =>
      b.usage === 'storage'
        ? `    ${b.role}: gpu.buffer(${bytesOf(b)}, WRITE),`
        : `    ${b.role}: gpu.upload(${b.role}, READ),`,
    ),
    `    agg: gpu.buffer(batch * schedule.chunks * ${scratch.agg * 4}, WRITE),`,
    ...(scratch.carry ? [`    carry: gpu.buffer(batch * schedule.chunks * ${scratch.carry * 4}, WRITE),`] : []),
  ];
  const written = layoutBuffers.filter((b) => b.usage === 'storage');

  const code = `
${headerText(m, 'chunk kernels', sourcePath)}
${runtimeImportText(runtimeNames(half))}
// Chunks of ${k.geometry.C} steps; the ${k.shape.K}×${k.shape.K} transition is shared by ${k.shape.R} state rows.

/** The WGSL of each pass, run in this order; every entry point is \`main\`. */
export const ${m.name}Wgsl = {
${chunkPasses.map((p) => `  ${p}: \`${templateText(k.passes[p]!.code)}\`,`).join('\n')}
};

export type ${T}Pass = keyof typeof ${m.name}Wgsl;

${runTypesText(m, dims, half)}

${scheduleText(m, k)}

type ${T}Buffer = ${present.map((b) => `'${b}'`).join(' | ')};

/** The buffers each pass binds, by binding number. */
const bindings: Record<${T}Pass, [number, ${T}Buffer][]> = {
${chunkPasses.map((p) => `  ${p}: [${k.passes[p]!.buffers.map((b) => `[${chunkBindings[b]}, '${b}']`).join(', ')}],`).join('\n')}
};

${checkFunctionText(m)}

/** Runs the passes once over a batch of sequences. */
export async function run${T}(device: GPUDevice, run: ${T}Run): Promise<${T}Result> {
${runArgumentsText(m, dims)}${halfFeatureCheckText(m, half)}
  const schedule = schedule${T}(batch, T);
${seqLayoutPackingText(m, layoutBuffers, undefined, half)}

  // Pipelines are compiled once per device and buffers pooled across calls (rnnc/runtime).
  const gpu = HostGpu.for(device);
  const buffers: Record<${T}Buffer, GPUBuffer> = {
${created.join('\n')}
  };
  const passes = [];
  for (const name of [${chunkPasses.map((p) => `'${p}'`).join(', ')}] as const)
    passes.push({
      pipeline: await gpu.pipeline(${m.name}Wgsl[name], 'main'),
      bindings: bindings[name].map(([binding, buffer]) => [binding, buffers[buffer]] as const),
      dispatch: schedule.dispatch[name],
    });
${readResultsText(
  written.map((b) => b.role),
  `gpu.submit(passes, { reads: [${written.map((b) => `[buffers.${b.role}, ${half && HALF_ROLES.has(b.role) ? `2 * ${elementsOf(b)}` : bytesOf(b)}]`).join(', ')}], release: Object.values(buffers) })`,
  Object.fromEntries(written.filter((b) => half && HALF_ROLES.has(b.role)).map((b) => [b.role, elementsOf(b)])),
)}
${seqLayoutResultText(m, layoutBuffers)}
}
`;
  return formatHostModule(code);
}
