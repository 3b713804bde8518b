// The sequential backend: one kernel looping over time, for every cell. Buffers are shared per role
// (layout.ts); the run packs a batch into them (pack.ts).
import type { Backend, CompiledCell, PreparedRun, RunSize } from '../backend.js';
import { hostModule } from '../host/host-module.js';
import { buildManifest } from '../host/manifest.js';
import { emitSeq, laneStepForm, prepassDispatch, seqDispatch, stepDispatch, stepInitDispatch, stepwiseForm, subgroupPrepassForm, type SeqKernel } from './emit.js';
import { stepCost } from '../../src/compiler/ir/cost.js';
import { bufferFootprint, HALF_ROLES, type OffsetScale } from './layout.js';
import { halfStorage } from '../../src/compiler/plan/plan.js';
import { halfRun } from '../half-run.js';
import { localsBytes, seqPasses, unpackRun } from './pack.js';

const SCALE_PREFIX: Record<OffsetScale, string[]> = { '1': [], batch: ['batch'], 'batch*T': ['batch', 'T'] };

export const seqBackend: Backend<'seq'> = {
  mode: 'seq',
  description: 'seq (a loop over time; every cell)',
  probe: ({ module, sizes, request, target }) => {
    const half = request.precision === 'f16-storage' || request.precision === 'f16';
    // Sequences of one step (a staged rest): no step kernel (a dispatch per step), no workgroup per sequence.
    if (request.oneStep) return { ok: true, why: 'a sequential loop over time runs every cell; every sequence is one step, one invocation each', decision: { mode: 'seq', invocation: true } };
    const form = stepwiseForm(module, sizes, { half, ops: stepCost(module, sizes).ops });
    // The pre-pass over subgroups where the adapter has them (of at least 8 invocations) and its sums take it.
    const sub = target.subgroups && !half ? subgroupPrepassForm(module, sizes) : undefined;
    const pre = sub?.ok ? { why: `; ${sub.why}`, decision: { prepass: 'subgroups' as const } } : { why: '', decision: {} };
    if (!form.ok) return { ok: true, why: `a sequential loop over time runs every cell${pre.why}`, decision: { mode: 'seq', ...pre.decision } };
    // From a batch of 8 (at prepare), the step with lanes over 8 sequences where the adapter has subgroups.
    const lanes = target.subgroups && !half && laneStepForm(module, sizes).ok;
    const lanesWhy = lanes ? '; from a batch of 8, the step with lanes over 8 sequences, each recurrent weight vec4 loaded once and shared by subgroupBroadcast' : '';
    return { ok: true, why: `a sequential loop over time runs every cell; at these sizes it runs ${form.why}${lanesWhy}${pre.why}`, decision: { mode: 'seq', step: 'dispatch', tile: form.tile, ...(lanes ? { lanes: 'sequences' as const } : {}), ...pre.decision } };
  },
  compile({ module, sizes, source, plan }): CompiledCell {
    const half = halfStorage(plan);
    const decision = plan.decision.mode === 'seq' ? plan.decision : { mode: 'seq' as const };
    const emit = (tile?: number, subgroups = decision.prepass === 'subgroups', lanes = false, maxTile?: number) =>
      emitSeq(module, sizes, { parallel: true, ...(decision.invocation ? { invocation: true } : {}), ...(source ? { source } : {}), ...(half ? { half } : {}), ...(tile !== undefined && !half ? { stepwise: { tile, ...(lanes ? { lanes } : {}) } } : {}), ...(subgroups && !half ? { subgroupPrepass: true } : {}), ...(maxTile !== undefined ? { maxTile } : {}) });
    const kernel = emit(decision.step === 'dispatch' ? decision.tile ?? 1 : undefined);
    // The files `rnnc compile` writes (kernels, manifest, host module) keep the rows pre-pass: the host
    // module does not check the device for subgroups (docs/host-module.md).
    const written = kernel.prepass?.subgroups ? emit(decision.step === 'dispatch' ? decision.tile ?? 1 : undefined, false) : kernel;
    const label = `${module.name}.seq`;
    const preLabel = `${module.name}.seq.project`;
    const stepLabel = `${module.name}.seq.step`;
    const initLabel = `${module.name}.seq.init`;
    const shadersOf = (k: SeqKernel) => [
      ...(k.prepass ? [{ label: preLabel, code: k.prepass.wgsl, entryPoint: k.prepass.entryPoint }] : []),
      { label, code: k.wgsl, entryPoint: k.entryPoint },
      ...(k.step ? [{ label: stepLabel, code: k.step.wgsl, entryPoint: k.step.entryPoint }, { label: initLabel, code: k.step.wgsl, entryPoint: k.step.initEntryPoint }] : []),
    ];
    // The step kernel's tile, or the loop kernel's batch tile, at a batch below it: fewer sequences per
    // invocation or workgroup (emitted when first asked). LSTM X = H = 128's backward loop at batch 1
    // ran the steps of an absent second sequence: 1,678 ms against 1,110 with a tile of 1 (docs/grad.md).
    const byTile = new Map<number, SeqKernel>();
    let laneKernel: SeqKernel | undefined;
    const kernelFor = (batch: number): SeqKernel => {
      // From a batch of 8: lanes over 8 sequences (the plan's `lanes`).
      if (kernel.step && decision.lanes === 'sequences' && batch >= 8) return (laneKernel ??= emit(decision.tile ?? 1, undefined, true));
      const tile = kernel.step?.tile ?? kernel.sequencesPerWorkgroup;
      if (batch >= tile) return kernel;
      const fewer = Math.max(1, batch);
      if (!byTile.has(fewer)) byTile.set(fewer, kernel.step ? emit(fewer) : emit(undefined, undefined, false, fewer));
      return byTile.get(fewer)!;
    };
    const files = { source: source?.path ?? `${module.name}.rnn`, kernel: `${module.name}.wgsl`, host: `${module.name}.ts`, ...(written.prepass ? { prepass: `${module.name}.project.wgsl` } : {}) };
    return {
      mode: 'seq',
      kernels: [
        ...(written.prepass && files.prepass ? [{ label: preLabel, file: files.prepass, wgsl: written.prepass.wgsl, entryPoint: written.prepass.entryPoint }] : []),
        { label, file: files.kernel, wgsl: written.wgsl, entryPoint: written.entryPoint },
        ...(written.step ? [{ label: stepLabel, file: `${module.name}.step.wgsl`, wgsl: written.step.wgsl, entryPoint: written.step.entryPoint }] : []),
      ],
      manifest: buildManifest(module, written, files),
      hostModule: (sourcePath) => hostModule(module, written, sourcePath, { half }),
      prepare: (size) => (half ? halfRun(prepare(size), HALF_ROLES) : prepare(size)),
    };
    function prepare({ batch, T }: RunSize): PreparedRun {
      const kernel = kernelFor(batch);
      const shaders = shadersOf(kernel);
      return {
        mode: 'seq',
        shaders: Object.fromEntries(shaders.map((s) => [s.label, s.code])),
        footprint: [
          { buffer: 'params', usage: 'uniform', bytes: 16, tensors: [] },
          ...kernel.layout.buffers.map((b) => bufferFootprint(b, batch, T, SCALE_PREFIX)),
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
          ...(kernel.locals ? [{ buffer: 'locals', usage: 'storage' as const, bytes: localsBytes(kernel, batch), tensors: [{ name: "each sequence's lets and states", shape: ['batch', 'locals'], bytes: localsBytes(kernel, batch) }] }] : []),
          ...(kernel.step ? ['states_a', 'states_b'].map((buffer) => ({ buffer, usage: 'storage' as const, bytes: 4 * kernel.step!.stateFloats(batch), tensors: [{ name: 'the step index and the states (the step kernel swaps the two every step)', shape: ['batch', 'states'], bytes: 4 * kernel.step!.stateFloats(batch) }] })) : []),
        ],
        dispatches: [
          ...(kernel.prepass ? [{ label: preLabel, workgroups: prepassDispatch(kernel, batch, T), scaledBy: ['--batch', '--T'] }] : []),
          ...(kernel.step
            ? [
                { label: initLabel, workgroups: stepInitDispatch(kernel.step, batch), scaledBy: ['--batch'] },
                { label: `${stepLabel} (x${T}, one per step)`, workgroups: stepDispatch(kernel.step, batch), scaledBy: ['--batch'] },
              ]
            : [{ label, workgroups: seqDispatch(kernel, batch), scaledBy: ['--batch', ...kernel.sliceAxes.map((d) => `--dim ${d}`)] }]),
        ],
        job(data) {
          const { buffers, passes } = seqPasses(module, kernel, data, { prepass: preLabel, main: label, step: stepLabel, init: initLabel });
          // The subgroup pre-pass needs the feature, and subgroups that hold its 8 step rows.
          const subgroups = kernel.prepass?.subgroups || kernel.step?.subgroups ? { requiredFeatures: ['subgroups' as GPUFeatureName], minSubgroupSize: 8 } : {};
          return { shaders: shaders.filter((s) => passes.some((p) => p.shader === s.label)), buffers, passes, ...subgroups };
        },
        decode: (buffers) => unpackRun(kernel, batch, T, buffers),
      };
    }
  },
};
