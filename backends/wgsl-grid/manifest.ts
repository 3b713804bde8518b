// The JSON manifest written next to a grid cell's wavefront kernel: what a host needs to run it
// without reading rnnc's source (bindings, buffer layouts with T = H*W, the carry buffer, dispatch).
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { MANIFEST_VERSION, manifestBuffer } from '../host/manifest.js';
import type { GridKernel } from './emit.js';

export function gridManifest(m: Module, k: GridKernel, files: { source: string; kernel: string; host: string }) {
  const sizes = (dims: string[]) => dims.map((d) => k.dims[d]!);
  const perPosition = (role: 'input' | 'output') => tensorsOf(m, role).map((t) => ({ name: t.name, dims: t.dims, shape: ['batch', 'H', 'W', ...sizes(t.dims)] }));
  const init = (t: (typeof m.tensors)[number]) => (t.init?.kind === 'param' ? t.init.name : t.init?.kind === 'const' ? t.init.value : 0);
  return {
    version: MANIFEST_VERSION,
    name: m.name,
    mode: 'seq',
    kernelKind: 'wavefront',
    grid: 'rows H and columns W are run-time values (the uniform); position (r, c) is step r * W + c, T = H * W',
    source: files.source,
    kernel: files.kernel,
    host: files.host,
    entryPoint: k.entryPoint,
    bindings: k.bindings,
    workgroupSize: k.workgroupSize,
    dims: Object.fromEntries(Object.keys(k.dims).map((d) => [d, k.dims[d]!])),
    dispatch: { groups: 'batch', workgroups: '[min(groups, 65535), ceil(groups / min(groups, 65535)), 1]' },
    uniform: { binding: k.layout.uniformBinding, struct: 'Params', fields: ['batch: u32', 'T: u32 (H * W)', 'H: u32', 'W: u32'], bytes: 16 },
    buffers: [
      ...k.layout.buffers.map(manifestBuffer),
      // Written and read by the kernel only: nothing to upload or read back.
      { name: 'carry', binding: k.carry.binding, usage: 'storage', elementType: 'f32', elements: `${k.carry.perSlot} * 2 * batch * (H + 1)`, regions: k.carry.regions.map((r) => ({ tensor: r.tensor, dims: r.dims, size: r.size, offset: `${r.offset} + ((parity * batch + sequence) * (H + 1) + slot) * ${k.carry.perSlot}` })) },
    ],
    inputs: perPosition('input'),
    params: tensorsOf(m, 'param').map((t) => ({ name: t.name, dims: t.dims, shape: sizes(t.dims) })),
    states: tensorsOf(m, 'state').map((t) => ({ name: t.name, dims: t.dims, shape: ['batch', ...sizes(t.dims)], init: init(t) })),
    outputs: perPosition('output'),
  };
}
