// The JSON manifest written next to a generated kernel: everything a host needs to run it without
// reading rnnc's source (bindings, buffer layouts, dispatch as a function of batch and T, dims).
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import type { SeqKernel } from '../wgsl-seq/emit.js';
import type { BufferLayout, OffsetScale } from '../wgsl-seq/layout.js';

export const MANIFEST_VERSION = 1;

export interface ManifestTensor {
  name: string;
  dims: string[];
  /** The full array shape: [batch, T, ...] for inputs/outputs, [batch, ...] for states, [...] for params. */
  shape: (string | number)[];
}

/** A buffer of a seq-layout kernel (sequential or wavefront) as the manifest describes it: sizes as expressions in its scale. */
export function manifestBuffer(b: BufferLayout) {
  const scaled = (n: number, scale: OffsetScale) => `${n}${scale === '1' ? '' : ` * ${scale}`}`;
  return {
    name: b.role,
    binding: b.binding,
    usage: b.usage,
    elementType: b.elementType,
    elements: scaled(b.perUnit, b.scale),
    regions: b.regions.map((r) => ({ tensor: r.tensor, dims: r.dims, size: r.size, offset: scaled(r.offset.elements, r.offset.scale) })),
  };
}

/** A dispatch's workgroups from its count `groups`, split over x and y as the kernels number them. */
const GRID_WORKGROUPS = '[min(groups, 65535), ceil(groups / min(groups, 65535)), 1]';

/**
 * The step kernel's part of the manifest (SeqStepKernel), present where the plan runs the step as a
 * dispatch of its own: the pre-pass (when any), then `init` once, then `main` once per step, the two
 * state buffers swapping (step t binds states[t % 2] at `stateCur` and states[(t + 1) % 2] at
 * `stateNext`); `init` writes states[0]. The loop kernel (`kernel`, `dispatch`) gives the same results.
 */
function stepManifest(k: SeqKernel, file: string) {
  const s = k.step!;
  const header = s.stateFloats(0);
  const perSequence = s.stateFloats(1) - header;
  return {
    kernel: file,
    entryPoint: s.entryPoint,
    workgroupSize: s.workgroupSize,
    tile: s.tile,
    bindings: s.bindings,
    stateCur: s.stateCur,
    stateNext: s.stateNext,
    // Two buffers of these floats each: element 0 the step index as a float (init writes 0, step t writes t + 1 for the next), the states from element `header` on, laid out as in state_in.
    states: { buffers: ['states_a', 'states_b'], elementType: 'f32', elements: `${header} + batch * ${perSequence}`, header },
    // Copies state_in into states_a (bound at stateNext) and into state_out (the final state of a run without steps).
    init: { entryPoint: s.initEntryPoint, bindings: s.initBindings, dispatch: { groups: `max(1, ceil(batch * ${perSequence} / ${s.workgroupSize}))`, workgroups: GRID_WORKGROUPS } },
    // Dispatched T times; step t binds states[t % 2] at stateCur and states[(t + 1) % 2] at stateNext; the last step writes state_out.
    dispatch: { times: 'T', groups: `${s.blocks} * ceil(batch / ${s.tile})`, workgroups: GRID_WORKGROUPS },
    order: [...(k.prepass ? ['prepass'] : []), 'step.init', 'step.main x T'],
  };
}

export function buildManifest(m: Module, k: SeqKernel, files: { source: string; kernel: string; host: string; prepass?: string; step?: string }) {
  const sizes = (dims: string[]) => dims.map((d) => k.dims[d]!);
  const tensors = (role: 'input' | 'param' | 'output', prefix: string[]): ManifestTensor[] => tensorsOf(m, role).map((t) => ({ name: t.name, dims: t.dims, shape: [...prefix, ...sizes(t.dims)] }));
  return {
    version: MANIFEST_VERSION,
    name: m.name,
    mode: 'seq',
    source: files.source,
    kernel: files.kernel,
    host: files.host,
    entryPoint: k.entryPoint,
    bindings: k.bindings,
    strategy: k.strategy,
    workgroupSize: k.workgroupSize,
    dims: Object.fromEntries(Object.keys(k.dims).map((d) => [d, k.dims[d]!])),
    sliceAxes: k.sliceAxes,
    unitsPerSequence: k.unitsPerSequence,
    // Bindings of a read-only buffer again, as array<vec4<f32>>, when present.
    ...(k.views.length ? { views: k.views } : {}),
    // Dispatched before the kernel on every call, when present.
    ...(k.prepass ? { prepass: { kernel: files.prepass ?? `${m.name}.project.wgsl`, entryPoint: k.prepass.entryPoint, workgroupSize: k.prepass.workgroupSize, bindings: k.prepass.bindings, dispatch: { groups: `ceil(batch * T / ${k.prepass.rowsPerWorkgroup})` } } } : {}),
    dispatch: {
      groups: k.strategy === 'workgroup' ? `batch * ${k.unitsPerSequence}` : `ceil(batch * ${k.unitsPerSequence} / ${k.workgroupSize})`,
      workgroups: GRID_WORKGROUPS,
    },
    // Present where the plan runs a dispatch per step (the generated host module runs it then).
    ...(k.step ? { step: stepManifest(k, files.step ?? `${m.name}.step.wgsl`) } : {}),
    uniform: { binding: k.layout.uniformBinding, struct: 'Params', fields: ['batch: u32', 'T: u32'], bytes: 16 },
    buffers: [
      ...k.layout.buffers.map(manifestBuffer),
      // Written by the pre-pass, read by the kernel: nothing to upload or read back. Step-major: row
      // (sequence * T + step) holds every region, at `offset + row * perStep`.
      ...(k.scratch
        ? [{ name: 'scratch', binding: k.scratch.binding, usage: 'storage', elementType: 'f32', elements: `${k.scratch.perStep} * batch * T`, regions: k.scratch.regions.map((r) => ({ tensor: r.key, dims: r.dims, size: r.size, offset: `${r.offset} + row * ${k.scratch!.perStep}` })) }]
        : []),
    ],
    inputs: tensors('input', ['batch', 'T']),
    params: tensors('param', []),
    states: tensorsOf(m, 'state').map((t) => ({ name: t.name, dims: t.dims, shape: ['batch', ...sizes(t.dims)], init: t.init?.kind === 'param' ? t.init.name : t.init?.kind === 'const' ? formatInit(t.init.value) : 0 })),
    outputs: tensors('output', ['batch', 'T']),
  };
}

/** JSON has no infinity: initial values print as numbers, or the strings "inf" / "-inf". */
const formatInit = (v: number): number | string => (v === Infinity ? 'inf' : v === -Infinity ? '-inf' : v);

export type Manifest = ReturnType<typeof buildManifest>;

export const manifestText = (m: Manifest): string => JSON.stringify(m, null, 2) + '\n';
