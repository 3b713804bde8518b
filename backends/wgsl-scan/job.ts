// Host side of the scan: pack a run's tensors into the kernels' buffers, list the passes of a
// schedule as one GPU job, and unpack outputs and final states from the result.
import type { Module } from '../../src/compiler/ir/ir.js';
import { bytesView, type BufferPart, type GpuJob } from '../job.js';
import { bindingIndex, type KernelName, type ScanKernels } from './emit.js';
import { outputWidths, partsPerBlock, sampledRows, uniformFields } from './kernel.js';
import { paddedLanes, type PackedTensor } from './layout.js';
import { scheduleScan, type Schedule, type ScheduleOptions } from './schedule.js';
import { scheduleMatrix } from './matrix.js';
import type { RunArrays as ScanRunData, RunResult as ScanRunResult } from '../run-data.js';

/** A scan run takes and gives the data every backend does (backends/run-data.ts). */
export type { RunArrays as ScanRunData, RunResult as ScanRunResult } from '../run-data.js';

export type ScanGpuJob = GpuJob;

export interface ScanJob {
  job: ScanGpuJob;
  schedule: Schedule;
  /** Bytes the kernels must read and write at least: inputs once, outputs and final states once. */
  idealBytes: number;
  decode(buffers: Record<string, ArrayBuffer>): ScanRunResult;
}

/**
 * The per-step tensors as the parts of one buffer (each at its offset: [tensor][batch, T, size]), the
 * arrays as they are: the runtime writes each into the transfer, with no packed copy first.
 */
function stepTensorParts(packed: PackedTensor[], data: Record<string, Float32Array>, batch: number, T: number, kind: string): BufferPart[] {
  return packed.map((p) => {
    const src = data[p.tensor.name];
    if (!src) throw new Error(`scan run: missing ${kind} \`${p.tensor.name}\``);
    if (src.length !== batch * T * p.size) throw new Error(`scan run: ${kind} \`${p.tensor.name}\` has ${src.length} floats, expected ${batch * T * p.size}`);
    return { offset: 4 * batch * T * p.offset, data: src };
  });
}

function initialStates(module: Module, kernels: ScanKernels, data: ScanRunData): Float32Array {
  const { layout } = kernels;
  const out = new Float32Array(Math.max(1, data.batch * layout.stateWidth));
  for (const st of layout.states) {
    const given = data.initialState?.[st.tensor.name];
    for (let b = 0; b < data.batch; b++) {
      const at = b * layout.stateWidth + st.offset;
      if (given) out.set(given.subarray(b * st.size, (b + 1) * st.size), at);
      else if (st.tensor.init?.kind === 'param') out.set(data.params[st.tensor.init.name]!.subarray(0, st.size), at);
      else out.fill(st.tensor.init?.kind === 'const' ? st.tensor.init.value : 0, at, at + st.size);
    }
  }
  return out;
}


/** The passes for a run: the matrix layout's (matrix.ts) or scheduleScan's. */
export function scheduleFor(kernels: ScanKernels, batch: number, T: number, options: ScheduleOptions = {}, minLength = T): Schedule {
  if (kernels.matrix) return scheduleMatrix(kernels.layout, kernels.matrix, batch, T, minLength, options.targetBlocks);
  // scheduleScan's own options (strategy, levels) do not apply to the matrix layout.
  // Going from sampled step to sampled step reads the parts reduce_steps writes: always reduce first.
  return scheduleScan(kernels.layout, kernels.tile, batch, T, { chained: kernels.kernels.scan_chained !== undefined, ...options, ...(kernels.jump ? { strategy: 'reduce-then-scan' as const } : {}) }, minLength);
}

/** Bytes of the `parts` buffer (Ctx.jump): per lane and block of reduce_steps, its parts between sampled steps. */
export function partsBytes(kernels: ScanKernels, schedule: Schedule, batch: number): number {
  if (!kernels.jump || !kernels.sample) return 0;
  const reduce = schedule.passes.find((p) => p.kernel === 'reduce_steps');
  if (!reduce) throw new Error('scan run: sampled states only, but the schedule does not reduce the steps');
  const [blockLen, blocks] = [reduce.uniforms[uniformFields.indexOf('block_len')]!, reduce.uniforms[uniformFields.indexOf('blocks')]!];
  return 4 * kernels.layout.members.length * batch * paddedLanes(kernels.tile, kernels.layout) * blocks * partsPerBlock(blockLen, kernels.sample.every);
}

export function buildScanJob(module: Module, kernels: ScanKernels, data: ScanRunData, options: ScheduleOptions & { timing?: ScanGpuJob['timing'] } = {}): ScanJob {
  const { layout, tile } = kernels;
  const { batch, T } = data;
  const lengths = new Uint32Array(batch);
  for (let b = 0; b < batch; b++) lengths[b] = Math.max(0, Math.min(T, data.lengths ? data.lengths[b]! : T));
  const schedule = scheduleFor(kernels, batch, T, options, lengths.reduce((a, x) => Math.min(a, x), T));
  const inputs = stepTensorParts(layout.inputs, data.inputs, batch, T, 'input');
  const params = new Float32Array(Math.max(1, layout.paramWidth));
  for (const p of layout.params) {
    const src = data.params[p.tensor.name];
    if (!src || src.length !== p.size) throw new Error(`scan run: param \`${p.tensor.name}\` missing or of the wrong size`);
    params.set(src, p.offset);
  }
  // Outputs written every step, then the sampled ones' rows (kernel.ts outputWidths).
  const widths = outputWidths(layout, kernels.sample);
  const rows = kernels.sample ? sampledRows(T, kernels.sample.every) : 0;
  const outFloats = Math.max(1, batch * T * widths.step + batch * rows * widths.sampled);
  const elemBytes = 4 * layout.members.length;
  const buffers: ScanGpuJob['buffers'] = [
    { name: 'inputs', bytes: Math.max(4, 4 * batch * T * layout.inputWidth), usage: 'storage-read', parts: inputs },
    { name: 'params', bytes: params.byteLength, usage: 'storage-read', data: bytesView(params) },
    { name: 'init', bytes: 4 * Math.max(1, batch * layout.stateWidth), usage: 'storage-read', data: bytesView(initialStates(module, kernels, data)) },
    { name: 'lengths', bytes: lengths.byteLength, usage: 'storage-read', data: bytesView(lengths) },
    { name: 'outputs', bytes: 4 * outFloats, usage: 'storage', read: true },
    { name: 'final_state', bytes: 4 * Math.max(1, batch * layout.stateWidth), usage: 'storage', read: true },
    { name: 'aggs', bytes: elemBytes * Math.max(1, schedule.aggElements), usage: 'storage' },
    ...(kernels.jump ? [{ name: 'parts', bytes: partsBytes(kernels, schedule, batch), usage: 'storage' as const }] : []),
    // Zeroed: the ticket counter starts at 0 and no record is published.
    ...(schedule.statusWords ? [{ name: 'status', bytes: 4 * schedule.statusWords, usage: 'storage' as const }] : []),
  ];
  const kernelOf = (name: KernelName) => {
    const kernel = kernels.kernels[name];
    if (!kernel) throw new Error(`scan run: the schedule runs \`${name}\`, which these kernels lack`);
    return kernel;
  };
  const passes: ScanGpuJob['passes'] = schedule.passes.map((pass, k) => {
    const uniforms = new Uint32Array(12); // 11 fields, padded to a 16-byte multiple
    uniforms.set(pass.uniforms);
    buffers.push({ name: `uniforms${k}`, bytes: uniforms.byteLength, usage: 'uniform', data: bytesView(uniforms) });
    const kernel = kernelOf(pass.kernel);
    return {
      shader: pass.kernel,
      bindings: kernel.bindings.map((b) => ({ binding: bindingIndex[b], buffer: b === 'uniforms' ? `uniforms${k}` : b })),
      dispatch: pass.dispatch,
    };
  });
  const used = new Set(schedule.passes.map((p) => p.kernel));
  const shaders = [...used].map((name) => ({ label: name, code: kernelOf(name).code, entryPoint: name }));
  const decode = (result: Record<string, ArrayBuffer>): ScanRunResult => {
    const out = new Float32Array(result['outputs']!);
    const fin = new Float32Array(result['final_state']!);
    const outputs: Record<string, Float32Array> = {};
    // Views of the read-back buffer, which is the result's own: no copy into fresh memory.
    for (const o of layout.outputs) {
      if (kernels.sample?.outputs.includes(o.tensor.name)) {
        const at = batch * T * widths.step + batch * rows * (o.offset - widths.step);
        outputs[o.tensor.name] = out.subarray(at, at + batch * rows * o.size);
        continue;
      }
      outputs[o.tensor.name] = out.subarray(batch * T * o.offset, batch * T * (o.offset + o.size));
    }
    const finalState: Record<string, Float32Array> = {};
    for (const st of layout.states) {
      const v = new Float32Array(batch * st.size);
      for (let b = 0; b < batch; b++) v.set(fin.subarray(b * layout.stateWidth + st.offset, b * layout.stateWidth + st.offset + st.size), b * st.size);
      finalState[st.tensor.name] = v;
    }
    return { outputs, finalState };
  };
  const idealBytes = 4 * (batch * T * (layout.inputWidth + layout.outputWidth) + 2 * batch * layout.stateWidth);
  const job: GpuJob = {
    shaders,
    buffers,
    passes,
    ...(kernels.subgroups ? { requiredFeatures: ['subgroups' as GPUFeatureName] } : {}),
    // A stripe's team is one subgroup: the adapter's smallest subgroup must hold it.
    ...(tile.split === 'stripe' ? { minSubgroupSize: tile.width! } : {}),
    ...(options.timing ? { timing: options.timing } : {}),
  };
  return { job, schedule, idealBytes, decode };
}
