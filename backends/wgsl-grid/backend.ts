// The grid backend: the wavefront kernel (emit.ts) of a grid cell, the `seq` mode's kernel for a
// `rnn name grid` cell (a loop over the positions in dependency order, as seq loops over time). Its
// buffers are the sequential kernel's with T = H*W (no `lengths`), plus `carry`; a run packs them here.
import type { CompiledCell, PreparedRun, RunSize } from '../backend.js';
import type { Compilation } from '../../src/compiler/plan/plan.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import type { RunArrays, RunResult } from '../run-data.js';
import type { GpuBufferSpec } from '../job.js';
import { bufferElements, bufferFootprint, scaleValue, type OffsetScale } from '../wgsl-seq/layout.js';
import { fillBuffer, initialStates } from '../wgsl-seq/pack.js';
import { emitGrid, GRID_WORKGROUP, gridKernelDispatch, gridWorkgroupFor, type GridKernel } from './emit.js';
import { gridHostModule } from './host.js';
import { gridManifest } from './manifest.js';

const SCALE_PREFIX: Record<OffsetScale, string[]> = { '1': [], batch: ['batch'], 'batch*T': ['batch', 'H', 'W'] };

/** The grid of a run: `size.grid`, which must cover T. */
function gridOf(size: RunSize): { H: number; W: number } {
  const g = size.grid;
  if (!g || g.H * g.W !== size.T) throw new Error(`grid backend: a run of a grid cell needs its grid with H * W = T (got ${g ? `${g.H} x ${g.W}` : 'none'}, T = ${size.T})`);
  return g;
}

/** Floats of `carry`: two parities of H + 1 slots per sequence. */
export const carryElements = (k: GridKernel, batch: number, H: number): number => 2 * batch * (H + 1) * k.carry.perSlot;

export function compileGrid(c: Compilation): CompiledCell {
  const { module, sizes, source } = c;
  const kernel = emitGrid(module, sizes, { ...(source ? { source } : {}), workgroupSize: GRID_WORKGROUP });
  const variants = new Map<number, GridKernel>();
  const label = `${module.name}.grid`;
  const files = { source: source?.path ?? `${module.name}.rnn`, kernel: `${module.name}.wgsl`, host: `${module.name}.ts` };
  return {
    mode: 'seq',
    kernels: [{ label, file: files.kernel, wgsl: kernel.wgsl, entryPoint: kernel.entryPoint }],
    manifest: gridManifest(module, kernel, files),
    hostModule: (sourcePath) => gridHostModule(module, kernel, sourcePath),
    prepare: (size) => {
      // The written kernel is 64 wide; a lower grid runs a narrower one (gridWorkgroupFor), emitted once.
      const wg = gridWorkgroupFor(gridOf(size).H);
      if (wg === kernel.workgroupSize) return prepareGrid(module, kernel, label, size);
      let narrow = variants.get(wg);
      if (!narrow) variants.set(wg, (narrow = emitGrid(module, sizes, { ...(source ? { source } : {}), workgroupSize: wg })));
      return prepareGrid(module, narrow, `${label}.wg${wg}`, size);
    },
  };
}

export function prepareGrid(module: Module, kernel: GridKernel, label: string, size: RunSize): PreparedRun {
  const { batch, T } = size;
  const { H, W } = gridOf(size);
  return {
    mode: 'seq',
    shaders: { [label]: kernel.wgsl },
    footprint: [
      { buffer: 'params', usage: 'uniform', bytes: 16, tensors: [] },
      ...kernel.layout.buffers.map((b) => bufferFootprint(b, batch, T, SCALE_PREFIX)),
      { buffer: 'carry', usage: 'storage', bytes: 4 * carryElements(kernel, batch, H), tensors: kernel.carry.regions.map((r) => ({ name: `every row's latest ${r.tensor}`, shape: ['2', 'batch', 'H', ...r.dims], bytes: 4 * 2 * batch * (H + 1) * r.size })) },
    ],
    dispatches: [{ label, workgroups: gridKernelDispatch(batch), scaledBy: ['--batch'] }],
    job(data: RunArrays) {
      const states = initialStates(module, data, kernel.dims);
      const buffers: GpuBufferSpec[] = [{ name: 'params', usage: 'uniform', bytes: 16, data: new Uint32Array([batch, T, H, W]) }];
      for (const b of kernel.layout.buffers) {
        const bytes = 4 * bufferElements(b, batch, T);
        buffers.push(b.usage === 'storage' ? { name: b.role, usage: 'storage', bytes, read: true } : { name: b.role, usage: 'storage-read', bytes, data: new Float32Array(fillBuffer(b, data, states)) });
      }
      buffers.push({ name: 'carry', usage: 'storage', bytes: 4 * carryElements(kernel, batch, H) });
      const byBinding = new Map<number, string>([[0, 'params'], ...kernel.layout.buffers.map((b) => [b.binding, b.role] as [number, string]), [kernel.carry.binding, 'carry']]);
      const bindings = kernel.bindings.map((binding) => ({ binding, buffer: byBinding.get(binding)! }));
      return { shaders: [{ label, code: kernel.wgsl, entryPoint: kernel.entryPoint }], buffers, passes: [{ shader: label, bindings, dispatch: gridKernelDispatch(batch) }] };
    },
    decode: (read) => unpackGrid(module, kernel, batch, T, read),
  };
}

/** Splits the read-back `outputs` and `state_out` into one array per tensor. */
function unpackGrid(module: Module, kernel: GridKernel, batch: number, T: number, read: Record<string, ArrayBuffer>): RunResult {
  const split = (role: 'outputs' | 'state_out', names: string[]) => {
    const b = kernel.layout.buffers.find((x) => x.role === role);
    const out: Record<string, Float32Array> = {};
    if (!b) return out;
    const all = new Float32Array(read[role]!);
    const scale = scaleValue(b.scale, batch, T);
    for (const r of b.regions) if (names.includes(r.tensor)) out[r.tensor] = all.slice(r.offset.elements * scale, (r.offset.elements + r.size) * scale);
    return out;
  };
  return { outputs: split('outputs', tensorsOf(module, 'output').map((t) => t.name)), finalState: split('state_out', tensorsOf(module, 'state').map((t) => t.name)) };
}
