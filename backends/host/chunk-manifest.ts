// The JSON manifest of the chunk kernels, shaped like the scan manifest (name, backend, kernels
// with files and bindings, layouts): what a host written by hand needs to bind, size and dispatch
// the three passes without reading rnnc's source.
import type { Module } from '../../src/compiler/ir/ir.js';
import { chunkBindings } from '../wgsl-chunk/emit.js';
import { chunkScratchFloats, passesOf, passGroups, passGroupsText, type ChunkKernels } from '../wgsl-chunk/index.js';
import { MAX_WORKGROUPS_PER_DIMENSION } from '../lower/grid.js';

export { chunkScratchFloats };

export function chunkManifest(module: Module, k: ChunkKernels) {
  const { shape, geometry } = k;
  const { K, R } = shape;
  const chunks = `max(1, ceil(T / ${geometry.C}))`;
  const pg = passGroups(k);
  const passes = passesOf(k);
  const groups = Object.fromEntries(passes.map((p) => [p, passGroupsText(pg[p], 'ceil')])) as Record<string, string>;
  const buffers = k.seq.layout.buffers;
  const scratch = chunkScratchFloats(k);
  const regions = (role: string, scale: string) =>
    (buffers.find((b) => b.role === role)?.regions ?? []).map((r) => ({ name: r.tensor, offset: r.offset.elements, size: r.size, ...(scale ? { scale } : {}) }));
  return {
    name: module.name,
    backend: 'chunk',
    chunk: {
      steps: geometry.C,
      mixedDim: shape.state.dims[shape.position],
      K,
      rows: R,
      rowDims: shape.rowDims,
      transition: shape.kind,
      form: shape.form,
      ...(shape.rank !== undefined ? { rank: shape.rank } : {}),
    },
    kernels: passes.map((p) => ({
      name: p,
      file: `${module.name}.chunk.${p}.wgsl`,
      entryPoint: 'main',
      workgroupSize: k.passes[p]!.workgroupSize,
      bindings: k.passes[p]!.buffers,
      workgroups: groups[p],
    })),
    dispatch: {
      order: passes,
      chunks,
      workgroups: `[min(groups, ${MAX_WORKGROUPS_PER_DIMENSION}), ceil(groups / min(groups, ${MAX_WORKGROUPS_PER_DIMENSION})), 1]`,
    },
    uniform: { name: 'params', binding: chunkBindings.params, struct: 'Params', fields: ['batch: u32', 'T: u32', 'chunks: u32'], bytes: 16 },
    buffers: [
      ...buffers.map((b) => ({ name: b.role, binding: chunkBindings[b.role], usage: b.usage, elementType: b.elementType, elements: `${b.perUnit}${b.scale === '1' ? '' : ` * ${b.scale}`}` })),
      { name: 'agg', binding: chunkBindings.agg, usage: 'storage', elementType: 'f32', elements: `${scratch.agg} * batch * chunks` },
      ...(scratch.carry ? [{ name: 'carry', binding: chunkBindings.carry, usage: 'storage', elementType: 'f32', elements: `${scratch.carry} * batch * chunks` }] : []),
    ],
    layouts: {
      inputs: regions('inputs', 'batch*T'),
      params: regions('weights', ''),
      states: regions('state_in', 'batch'),
      outputs: regions('outputs', 'batch*T'),
    },
  };
}
