// The sequential backend: one kernel looping over time, for every cell. Buffers are shared per role
// (layout.ts); the run packs a batch into them (pack.ts).
import type { Backend, CompiledCell, PreparedRun, RunSize } from '../backend.js';
import { hostModule } from '../host/host-module.js';
import { buildManifest } from '../host/manifest.js';
import { emitSeq, prepassDispatch, seqDispatch } from './emit.js';
import { bufferElements, HALF_ROLES, scaleValue, type OffsetScale } from './layout.js';
import { halfStorage } from '../../src/compiler/plan/plan.js';
import { halfRun } from '../half-run.js';
import { seqPasses, unpackRun } from './pack.js';

const SCALE_PREFIX: Record<OffsetScale, string[]> = { '1': [], batch: ['batch'], 'batch*T': ['batch', 'T'] };

export const seqBackend: Backend<'seq'> = {
  mode: 'seq',
  description: 'seq (a loop over time; every cell)',
  probe: () => ({ ok: true, why: 'a sequential loop over time runs every cell', decision: { mode: 'seq' } }),
  compile({ module, sizes, source, plan }): CompiledCell {
    const half = halfStorage(plan);
    const kernel = emitSeq(module, sizes, { parallel: true, ...(source ? { source } : {}), ...(half ? { half } : {}) });
    const label = `${module.name}.seq`;
    const preLabel = `${module.name}.seq.project`;
    const shaders = [...(kernel.prepass ? [{ label: preLabel, code: kernel.prepass.wgsl, entryPoint: kernel.prepass.entryPoint }] : []), { label, code: kernel.wgsl, entryPoint: kernel.entryPoint }];
    const files = { source: source?.path ?? `${module.name}.rnn`, kernel: `${module.name}.wgsl`, host: `${module.name}.ts`, ...(kernel.prepass ? { prepass: `${module.name}.project.wgsl` } : {}) };
    return {
      mode: 'seq',
      kernels: [
        ...(kernel.prepass && files.prepass ? [{ label: preLabel, file: files.prepass, wgsl: kernel.prepass.wgsl, entryPoint: kernel.prepass.entryPoint }] : []),
        { label, file: files.kernel, wgsl: kernel.wgsl, entryPoint: kernel.entryPoint },
      ],
      manifest: buildManifest(module, kernel, files),
      hostModule: (sourcePath) => hostModule(module, kernel, sourcePath, { half }),
      prepare: (size) => (half ? halfRun(prepare(size), HALF_ROLES) : prepare(size)),
    };
    function prepare({ batch, T }: RunSize): PreparedRun {
      return {
        mode: 'seq',
        shaders: Object.fromEntries(shaders.map((s) => [s.label, s.code])),
        footprint: [
          { buffer: 'params', usage: 'uniform', bytes: 16, tensors: [] },
          ...kernel.layout.buffers.map((b) => ({
            buffer: b.role,
            usage: b.usage,
            bytes: 4 * bufferElements(b, batch, T),
            tensors: b.regions.map((r) => ({ name: r.tensor, shape: [...SCALE_PREFIX[b.scale], ...r.dims], bytes: 4 * r.size * scaleValue(b.scale, batch, T) })),
          })),
          ...(kernel.scratch
            ? [
                {
                  buffer: 'scratch',
                  usage: 'storage' as const,
                  bytes: 4 * kernel.scratch.perStep * batch * T,
                  tensors: kernel.scratch.regions.map((r) => ({ name: `the state-independent ${r.key}`, shape: ['batch', 'T', ...r.dims], bytes: 4 * r.size * batch * T })),
                },
              ]
            : []),
        ],
        dispatches: [
          ...(kernel.prepass ? [{ label: preLabel, workgroups: prepassDispatch(kernel, batch, T), scaledBy: ['--batch', '--T'] }] : []),
          { label, workgroups: seqDispatch(kernel, batch), scaledBy: ['--batch', ...kernel.sliceAxes.map((d) => `--dim ${d}`)] },
        ],
        job(data) {
          const { buffers, passes } = seqPasses(module, kernel, data, { prepass: preLabel, main: label });
          return { shaders: shaders.filter((s) => passes.some((p) => p.shader === s.label)), buffers, passes };
        },
        decode: (buffers) => unpackRun(kernel, batch, T, buffers),
      };
    }
  },
};
