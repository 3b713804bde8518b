// The sequential backend: one kernel looping over time, for every cell. Buffers are shared per role
// (layout.ts); the run packs a batch into them (pack.ts).
import type { Backend, CompiledCell } from '../backend.js';
import { hostModule } from '../host/host-module.js';
import { buildManifest } from '../host/manifest.js';
import { emitSeq, seqDispatch } from './emit.js';
import { bufferElements, scaleValue, type OffsetScale } from './layout.js';
import { packRun, unpackRun } from './pack.js';

const SCALE_PREFIX: Record<OffsetScale, string[]> = { '1': [], batch: ['batch'], 'batch*T': ['batch', 'T'] };

export const seqBackend: Backend<'seq'> = {
  mode: 'seq',
  description: 'seq (a loop over time; every cell)',
  probe: () => ({ ok: true, why: 'a sequential loop over time runs every cell', decision: { mode: 'seq' } }),
  compile({ module, sizes, source }): CompiledCell {
    const kernel = emitSeq(module, sizes, source ? { source } : {});
    const label = `${module.name}.seq`;
    const files = { source: source?.path ?? `${module.name}.rnn`, kernel: `${module.name}.wgsl`, host: `${module.name}.ts` };
    return {
      mode: 'seq',
      kernels: [{ label, file: files.kernel, wgsl: kernel.wgsl, entryPoint: kernel.entryPoint }],
      manifest: buildManifest(module, kernel, files),
      hostModule: (sourcePath) => hostModule(module, kernel, sourcePath),
      prepare: ({ batch, T }) => ({
        mode: 'seq',
        shaders: { [label]: kernel.wgsl },
        footprint: [
          { buffer: 'params', usage: 'uniform', bytes: 16, tensors: [] },
          ...kernel.layout.buffers.map((b) => ({
            buffer: b.role,
            usage: b.usage,
            bytes: 4 * bufferElements(b, batch, T),
            tensors: b.regions.map((r) => ({ name: r.tensor, shape: [...SCALE_PREFIX[b.scale], ...r.dims], bytes: 4 * r.size * scaleValue(b.scale, batch, T) })),
          })),
        ],
        dispatches: [{ label, workgroups: seqDispatch(kernel, batch), scaledBy: ['--batch', ...kernel.sliceAxes.map((d) => `--dim ${d}`)] }],
        job(data) {
          const packed = packRun(module, kernel, data);
          return {
            shaders: [{ label, code: kernel.wgsl, entryPoint: kernel.entryPoint }],
            buffers: packed.buffers,
            passes: [{ shader: label, bindings: packed.bindings, dispatch: packed.dispatch }],
          };
        },
        decode: (buffers) => unpackRun(kernel, batch, T, buffers),
      }),
    };
  },
};
