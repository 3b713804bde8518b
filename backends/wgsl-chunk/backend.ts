// The chunk backend: for matrix-affine (+,×) transitions shared by every row (DeltaNet, DeltaProduct,
// RWKV-7, dense): per chunk the transition is aggregated once for all rows, the chunk carries are
// scanned, and each chunk replays its steps from its carried state (emit.ts).
import { halfStorage, type PlanSubject, type Verdict } from '../../src/compiler/plan/plan.js';
import { halfRun } from '../half-run.js';
import { HALF_ROLES } from '../wgsl-seq/layout.js';
import type { Backend, CompiledCell } from '../backend.js';
import { chunkHostModule, chunkManifest } from '../host/chunk-host.js';
import { emitSeq } from '../wgsl-seq/emit.js';
import { chunkGeometry, passesOf, chunkShape, ChunkUnsupported, DEFAULT_CHUNK, emitPasses, prepareChunk, type ChunkKernels } from './index.js';

function probe({ module, analysis, sizes, request }: PlanSubject): Verdict<'chunk'> {
  try {
    const shape = chunkShape(module, sizes, analysis);
    const geometry = chunkGeometry(shape, request.chunk ?? DEFAULT_CHUNK);
    const lowered = request.chunk !== undefined && geometry.C < request.chunk ? ` (lowered from ${request.chunk} to fit ${shape.form === 'wy' ? 'an invocation\'s private memory' : 'workgroup memory'})` : '';
    const form = shape.form === 'wy' ? `in WY form (diagonal plus rank ${shape.wy!.plan.u.length})` : `in dense form${shape.whyNotWy ? ` (${shape.whyNotWy})` : ''}`;
    return {
      ok: true,
      why: `a matrix-affine transition of size ${shape.K} shared by ${shape.R} rows, ${form}: chunks of ${geometry.C} steps${lowered}`,
      decision: { mode: 'chunk', chunk: geometry.C, workgroupSize: geometry.workgroupSize, K: shape.K, R: shape.R },
    };
  } catch (e) {
    // The shape refuses other transitions, the geometry ones too big for a workgroup: refusals, not failures.
    if (e instanceof ChunkUnsupported) return { ok: false, why: e.message };
    throw e;
  }
}

export const chunkBackend: Backend<'chunk'> = {
  mode: 'chunk',
  description: 'chunk (chunks over time; matrix-affine cells such as DeltaNet)',
  probe,
  compile({ module, analysis, sizes, plan }): CompiledCell {
    if (plan.decision.mode !== 'chunk') throw new Error(`chunk backend: asked to compile a ${plan.mode} plan`);
    const { chunk: C, workgroupSize } = plan.decision;
    const shape = chunkShape(module, sizes, analysis);
    const seq = emitSeq(module, sizes);
    const half = halfStorage(plan);
    const geometry = { C, workgroupSize, ...(half ? { half } : {}) };
    const kernels: ChunkKernels = { shape, geometry, passes: emitPasses(shape, sizes, seq.layout, geometry), seq };
    const compiled = passesOf(kernels).map((p) => ({ label: `${module.name}.chunk.${p}`, file: `${module.name}.chunk.${p}.wgsl`, wgsl: kernels.passes[p]!.code, entryPoint: 'main' }));
    return {
      mode: 'chunk',
      kernels: compiled,
      manifest: { ...chunkManifest(module, kernels), plan: { why: plan.why, decision: plan.decision } },
      hostModule: (sourcePath) => chunkHostModule(module, kernels, sourcePath),
      prepare: (size) => (half ? halfRun(prepareChunk(module, kernels, size), HALF_ROLES) : prepareChunk(module, kernels, size)),
    };
  },
};
