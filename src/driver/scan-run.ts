// `rnnc run --mode scan`: the scan kernels as a prepared run (buffers, dispatches, job, decoding).
import { analyse } from '../compiler/analyse/analyse.js';
import { buildScanJob, compileScan, scanSupport, scheduleScan, subgroupsUsable } from '../../backends/wgsl-scan/index.js';
import { RnncError } from './errors.js';
import type { RunBackend } from './run.js';
import type { Module } from '../compiler/ir/ir.js';
import type { DimSizes } from '../compiler/ir/dims.js';
import type { ScanPlan } from '../compiler/analyse/types.js';

/** The cell's scan plan, or the user error saying why it has none the scan backend takes (checked before the GPU starts). */
export function scanPlanFor(module: Module, sizes: DimSizes): ScanPlan {
  const plan = analyse(module).analysis.plan;
  if (!plan) throw new RnncError(`rnnc: ${module.name} is not associative (see rnnc check); run it with --mode seq or --mode auto`);
  const support = scanSupport(module, plan, sizes);
  if (!support.ok) throw new RnncError(`rnnc: ${module.name} cannot be scanned: ${support.reason}; run it with --mode seq or --mode auto`);
  return plan;
}

export const scanRunBackend: RunBackend = (module, sizes, { batch, T }, adapter) => {
  const plan = scanPlanFor(module, sizes);
  const kernels = compileScan(module, plan, sizes, adapter ? { subgroups: subgroupsUsable(adapter) } : {});
  const { layout, tile } = kernels;
  const schedule = scheduleScan(layout, tile, batch, T);
  const aggBytes = 4 * layout.members.length * Math.max(1, schedule.aggElements);
  let decode: ReturnType<typeof buildScanJob>['decode'] | undefined;
  return {
    mode: 'scan',
    shaders: Object.fromEntries(Object.values(kernels.kernels).map((k) => [`${module.name}.${k.name}`, k.code])),
    footprint: [
      { buffer: 'inputs', usage: 'storage-read', bytes: 4 * batch * T * layout.inputWidth, tensors: layout.inputs.map((p) => ({ name: p.tensor.name, shape: ['batch', 'T', ...p.tensor.dims], bytes: 4 * batch * T * p.size })) },
      { buffer: 'outputs', usage: 'storage', bytes: 4 * batch * T * layout.outputWidth, tensors: layout.outputs.map((p) => ({ name: p.tensor.name, shape: ['batch', 'T', ...p.tensor.dims], bytes: 4 * batch * T * p.size })) },
      { buffer: 'aggs', usage: 'storage', bytes: aggBytes, tensors: [] },
    ],
    dispatches: schedule.passes.map((p) => ({ label: `${module.name}.${p.kernel}`, workgroups: [p.dispatch[0], p.dispatch[1], 1] as [number, number, number], scaledBy: ['--batch', '--T'] })),
    job(data) {
      const built = buildScanJob(module, kernels, data);
      decode = built.decode;
      return built.job;
    },
    decode: (buffers) => decode!(buffers),
  };
};
