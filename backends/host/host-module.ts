// The typed TypeScript host module written next to a generated sequential kernel: one async function
// that takes a GPUDevice and typed arrays, packs them into the kernel's buffers, dispatches and reads
// back. It depends on nothing but WebGPU, so it runs in a browser as well as under Node's `webgpu`.
// The parts it shares with the scan and chunk host modules are in host-parts.ts.
import type { Module } from '../../src/compiler/ir/ir.js';
import type { SeqKernel } from '../wgsl-seq/emit.js';
import {
  checkFunctionText,
  formatHostModule,
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

export async function hostModule(m: Module, k: SeqKernel, sourcePath: string): Promise<string> {
  const T = pascal(m.name);
  const buffers = k.layout.buffers;
  const written = buffers.filter((b) => b.usage === 'storage');

  const code = `
${headerText(m, 'sequential kernel', sourcePath)}

export const ${m.name}Wgsl = \`${templateText(k.wgsl)}\`;

${runTypesText(m, k.dims)}

${checkFunctionText(m)}

/** Runs the kernel once over a batch of sequences. */
export async function run${T}(device: GPUDevice, run: ${T}Run): Promise<${T}Result> {
${runArgumentsText(m, k.dims)}
${seqLayoutPackingText(m, buffers)}

${uploadText}
  const params = upload(new Uint32Array([batch, T, 0, 0]), GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
${buffers
  .map((b) =>
    b.usage === 'storage'
      ? `  const ${b.role}Buffer = device.createBuffer({ size: ${b.perUnit} * ${scaleCode(b.scale)} * 4, usage: usage.write });`
      : `  const ${b.role}Buffer = upload(${b.role}, usage.read);`,
  )
  .join('\n')}

  const module = device.createShaderModule({ code: ${m.name}Wgsl });
  const pipeline = await device.createComputePipelineAsync({ layout: 'auto', compute: { module, entryPoint: '${k.entryPoint}' } });
  const bindGroup = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [
      { binding: 0, resource: { buffer: params } },
${buffers.map((b) => `      { binding: ${b.binding}, resource: { buffer: ${b.role}Buffer } },`).join('\n')}
    ],
  });
  const groups = ${k.strategy === 'workgroup' ? `batch * ${k.unitsPerSequence}` : `Math.ceil((batch * ${k.unitsPerSequence}) / ${k.workgroupSize})`};
  const x = Math.min(groups, 65535);
  const encoder = device.createCommandEncoder();
  const pass = encoder.beginComputePass();
  pass.setPipeline(pipeline);
  pass.setBindGroup(0, bindGroup);
  pass.dispatchWorkgroups(x, Math.ceil(groups / x), 1);
  pass.end();
${readbackText}
${written.map((b) => `  const ${b.role}Read = readback(${b.role}Buffer, ${b.perUnit} * ${scaleCode(b.scale)} * 4);`).join('\n')}
  device.queue.submit([encoder.finish()]);
${mapReadsText(written.map((b) => b.role))}
  for (const b of [params, ${buffers.map((b) => `${b.role}Buffer`).join(', ')}]) b.destroy();
${seqLayoutResultText(m, buffers)}
}
`;
  return formatHostModule(code);
}
