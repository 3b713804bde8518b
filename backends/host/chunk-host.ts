// The typed TypeScript host module of the chunk kernels: the same public shape as the sequential
// kernel's (host-module.ts), run<Name>(device, run), plus schedule<Name>(batch, T), the chunk count
// and the three passes' grids as chunkDispatches (backends/wgsl-chunk) computes them. The passes
// share the sequential kernel's buffers, so packing and unpacking are the seq module's
// (host-parts.ts); `agg` and `carry` are scratch.
import type { Module } from '../../src/compiler/ir/ir.js';
import { chunkBindings, type ChunkBuffer } from '../wgsl-chunk/emit.js';
import { chunkScratchFloats, passesOf, passGroups, passGroupsText, type ChunkKernels } from '../wgsl-chunk/index.js';
import {
  checkFunctionText,
  formatHostModule,
  gridFunctionText,
  headerText,
  mapReadsText,
  pascal,
  readbackText,
  runArgumentsText,
  runTypesText,
  scaleCode,
  seqLayoutPackingText,
  seqLayoutResultText,
  templateText,
  uploadText,
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

${gridFunctionText}

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
  const dims = k.seq.dims;
  const layoutBuffers = k.seq.layout.buffers;
  const scratch = chunkScratchFloats(k);
  const chunkPasses = passesOf(k);
  const present: ChunkBuffer[] = ['params', ...layoutBuffers.map((b) => b.role), 'agg', ...(scratch.carry ? ['carry' as const] : [])];
  for (const p of chunkPasses)
    for (const b of k.passes[p]!.buffers) if (!present.includes(b)) throw new Error(`chunk host module: the ${p} pass binds \`${b}\`, which the sequential layout of ${m.name} lacks`);
  const created = [
    `    params: upload(new Uint32Array([batch, T, schedule.chunks, 0]), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST),`,
    ...layoutBuffers.map((b) =>
      b.usage === 'storage'
        ? `    ${b.role}: device.createBuffer({ size: ${b.perUnit} * ${scaleCode(b.scale)} * 4, usage: usage.write }),`
        : `    ${b.role}: upload(${b.role}, usage.read),`,
    ),
    `    agg: device.createBuffer({ size: batch * schedule.chunks * ${scratch.agg * 4}, usage: usage.write }),`,
    ...(scratch.carry ? [`    carry: device.createBuffer({ size: batch * schedule.chunks * ${scratch.carry * 4}, usage: usage.write }),`] : []),
  ];
  const written = layoutBuffers.filter((b) => b.usage === 'storage');

  const code = `
${headerText(m, 'chunk kernels', sourcePath)}
// Chunks of ${k.geometry.C} steps; the ${k.shape.K}×${k.shape.K} transition is shared by ${k.shape.R} state rows.

/** The WGSL of each pass, run in this order; every entry point is \`main\`. */
export const ${m.name}Wgsl = {
${chunkPasses.map((p) => `  ${p}: \`${templateText(k.passes[p]!.code)}\`,`).join('\n')}
};

export type ${T}Pass = keyof typeof ${m.name}Wgsl;

${runTypesText(m, dims)}

${scheduleText(m, k)}

type ${T}Buffer = ${present.map((b) => `'${b}'`).join(' | ')};

/** The buffers each pass binds, by binding number. */
const bindings: Record<${T}Pass, [number, ${T}Buffer][]> = {
${chunkPasses.map((p) => `  ${p}: [${k.passes[p]!.buffers.map((b) => `[${chunkBindings[b]}, '${b}']`).join(', ')}],`).join('\n')}
};

${checkFunctionText(m)}

/** Runs the passes once over a batch of sequences. */
export async function run${T}(device: GPUDevice, run: ${T}Run): Promise<${T}Result> {
${runArgumentsText(m, dims)}
  const schedule = schedule${T}(batch, T);
${seqLayoutPackingText(m, layoutBuffers)}

${uploadText}
  const buffers: Record<${T}Buffer, GPUBuffer> = {
${created.join('\n')}
  };
  const encoder = device.createCommandEncoder();
  for (const name of [${chunkPasses.map((p) => `'${p}'`).join(', ')}] as const) {
    const module = device.createShaderModule({ code: ${m.name}Wgsl[name] });
    const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: 'main' } });
    const entries = bindings[name].map(([binding, buffer]) => ({ binding, resource: { buffer: buffers[buffer] } }));
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries }));
    pass.dispatchWorkgroups(schedule.dispatch[name][0], schedule.dispatch[name][1], 1);
    pass.end();
  }
${readbackText}
${written.map((b) => `  const ${b.role}Read = readback(buffers.${b.role}, ${b.perUnit} * ${scaleCode(b.scale)} * 4);`).join('\n')}
  device.queue.submit([encoder.finish()]);
${mapReadsText(written.map((b) => b.role))}
  for (const b of Object.values(buffers)) b.destroy();
${seqLayoutResultText(m, layoutBuffers)}
}
`;
  return formatHostModule(code);
}
