// The scan backend: a parallel scan over the element the analysis derived, for associative cells.
// The probe makes the layout and tile decisions (recorded in the plan); compile builds exactly those;
// the schedule of passes is chosen per run size (schedule.ts), since it depends on batch and T.
import type { StateReport } from '../../src/compiler/analyse/types.js';
import { halfStorage, type PlanSubject, type Verdict } from '../../src/compiler/plan/plan.js';
import { halfRun } from '../half-run.js';
import type { Backend, CompiledCell, PreparedRun, RunSize } from '../backend.js';
import { scanHostModule } from '../host/scan-host.js';
import { isBidirectional } from '../lower/time.js';
import { directOutputs } from './emit.js';
import { buildScanJob, chainedFits, chooseLayout, compileScan, sampleFits, scanManifest, scanSupport, usesMatrix } from './index.js';
import { partsBytes } from './job.js';
import { scheduleFor } from './job.js';
import { outputWidths, sampledRows } from './kernel.js';
import { matrixShape } from './matrix.js';
import { HALF_BUFFERS, blocksOf, chooseTile, scanLayout, TileRefused, type ScanLayout, type TileShape } from './layout.js';

/** Why one state is not a scan, separating "not associative" from "associative, but not planned". */
function whyNotScanned(report: StateReport): string {
  const c = report.classification;
  const name = `\`${report.state}\``;
  switch (c.kind) {
    case 'nonlinear':
      // Too large to analyse is not a proof of non-associativity: say what is known.
      if (c.unanalysed) return `whether ${name} is an associative recurrence is unknown: ${c.reason.message}`;
      return `${name} is not an associative recurrence: ${c.reason.message}`;
    case 'coupled':
      return `${name} is associative jointly with other states, but coupled ones are not planned as a scan: ${c.reason.message}`;
    default:
      return `${name} is associative, but not planned as a scan${report.unplanned ? `: ${report.unplanned.message}` : ''}`;
  }
}

/** Where the 'tile' split spreads a sequence's lanes over workgroups: how, for the plan's reason. */
function spread(layout: ScanLayout, tile: TileShape): string {
  const b = blocksOf(tile, layout);
  return b.blocks > 1 ? `, ${b.blocks} workgroups of ${b.lanes} lanes per sequence` : '';
}

function probe({ module, analysis, sizes, target, request }: PlanSubject): Verdict<'scan'> {
  const plan = analysis.plan;
  if (!plan) return { ok: false, why: `${analysis.states.filter((s) => !s.scan).map(whyNotScanned).join('; ')} (see rnnc check)` };
  const support = scanSupport(module, plan, sizes);
  if (!support.ok) return { ok: false, why: support.reason };
  const split = request.split;
  const whole = scanLayout(module, plan, sizes);
  if (usesMatrix(whole)) {
    if (split) return { ok: false, why: `its scan element has ${whole.members.length} floats: a workgroup holds each (the 'matrix' layout), which has no '${split}' split` };
    const shape = matrixShape(whole);
    return {
      ok: true,
      why: `every state is an associative recurrence: a parallel scan over time (one element of ${whole.members.length} floats per sequence, held by a workgroup of ${shape.width} invocations in ${shape.place === 'workgroup' ? 'workgroup memory' : 'storage'}: the 'matrix' layout)`,
      decision: { mode: 'scan', layout: 'matrix', floats: whole.members.length, tile: { split: 'thread', groups: 1, runs: 1, runLength: 1, width: shape.width }, subgroups: false },
    };
  }
  try {
    const layout = chooseLayout(module, plan, sizes, { ...(split ? { tile: { split } } : {}), ...(request.gather ? { gather: true } : {}) });
    const chosen = chooseTile(layout, split ? { split } : {}, directOutputs(module, layout), target.subgroups);
    // Sampled outputs are f32 rows: a request for f16 storage does not take them.
    const sampled = request.sample ? (request.precision === undefined || request.precision === 'auto' || request.precision === 'f32' ? sampleFits(module, layout, request.sample) : 'sampled outputs are f32') : true;
    if (sampled !== true) return { ok: false, why: `${request.sample!.outputs.join(', ')} cannot be written every ${request.sample!.every} steps only: ${sampled}` };
    // The chained single pass only where a look-back is safe on the adapter (chained.ts, lookBackSafe).
    // Not for a reversed cell: its vec4 loads take four consecutive positions, and a reversed step's position depends on the length.
    // Not when the request asks for the same bits on every run (PlanRequest.deterministic): its look-back's combining order follows timing.
    const chained = target.lookBack === true && !request.deterministic && !request.sample && !module.reversed && !isBidirectional(module) && chainedFits({ tile: chosen, layout });
    const tile = chained ? { ...chosen, chained } : chosen;
    const floats = layout.members.length;
    const single = chained
      ? `; few sequences of a length that is a multiple of 4 take one chained pass, reading each input once (the adapter runs started workgroups on, so a look-back is safe)`
      : '';
    return {
      ok: true,
      why: `every state is an associative recurrence: a parallel scan over time (${layout.mode === 'whole' ? 'one element of' : `${layout.lanes} lanes of`} ${floats} floats, '${tile.split}' split${spread(layout, tile)}${single})`,
      decision: { mode: 'scan', layout: layout.mode, floats, tile: { ...tile }, subgroups: target.subgroups, ...(request.sample ? { sample: request.sample } : {}) },
    };
  } catch (e) {
    if (e instanceof TileRefused) return { ok: false, why: e.message };
    throw e;
  }
}

export const scanBackend: Backend<'scan'> = {
  mode: 'scan',
  description: 'scan (a parallel scan over time; associative cells)',
  probe,
  compile({ module, analysis, sizes, plan }): CompiledCell {
    if (plan.decision.mode !== 'scan' || !analysis.plan) throw new Error(`scan backend: asked to compile a ${plan.mode} plan`);
    const decision = plan.decision;
    const half = halfStorage(plan);
    const kernels = compileScan(module, analysis.plan, sizes, { tile: decision.tile, subgroups: decision.subgroups, ...(decision.layout === 'whole' ? { gather: true } : {}), ...(half ? { half } : {}), ...(decision.sample ? { sample: decision.sample } : {}) });
    // Each scan kernel's entry point is named after it (scan_steps, reduce_aggs, ...).
    const compiledKernels = Object.values(kernels.kernels).map((k) => ({ label: `${module.name}.${k.name}`, file: `${module.name}.${k.name}.wgsl`, wgsl: k.code, entryPoint: k.name }));
    return {
      mode: 'scan',
      kernels: compiledKernels,
      manifest: { ...scanManifest(module, kernels), plan: { why: plan.why, decision } },
      hostModule: (sourcePath) => {
        // Sampled outputs are the gradient runs' own (src/driver/grad.ts); `rnnc compile --grad` writes the cells without them.
        if (decision.sample) throw new Error(`scan backend: ${module.name} writes sampled outputs, which the host module does not read`);
        return scanHostModule(module, kernels, sourcePath, { half });
      },
      prepare(size) {
        const run = prepareScan(size);
        return half ? halfRun(run, HALF_BUFFERS) : run;
      },
    };
    function prepareScan({ batch, T }: RunSize): PreparedRun {
      const { layout } = kernels;
      const schedule = scheduleFor(kernels, batch, T);
      const aggBytes = 4 * layout.members.length * Math.max(1, schedule.aggElements);
      let decode: ReturnType<typeof buildScanJob>['decode'] | undefined;
      const widths = outputWidths(layout, kernels.sample);
      const perStep = (packed: typeof layout.inputs) => packed.map((p) => ({ name: p.tensor.name, shape: ['batch', 'T', ...p.tensor.dims], bytes: 4 * batch * T * p.size }));
      return {
        mode: 'scan',
        shaders: Object.fromEntries(compiledKernels.map((k) => [k.label, k.wgsl])),
        footprint: [
          { buffer: 'inputs', usage: 'storage-read', bytes: 4 * batch * T * layout.inputWidth, tensors: perStep(layout.inputs) },
          { buffer: 'outputs', usage: 'storage', bytes: 4 * batch * (T * widths.step + (kernels.sample ? sampledRows(T, kernels.sample.every) : 0) * widths.sampled), tensors: perStep(layout.outputs) },
          { buffer: 'aggs', usage: 'storage', bytes: aggBytes, tensors: [] },
          ...(kernels.jump ? [{ buffer: 'parts', usage: 'storage' as const, bytes: partsBytes(kernels, schedule, batch), tensors: [] }] : []),
        ],
        dispatches: schedule.passes.map((p) => ({ label: `${module.name}.${p.kernel}`, workgroups: [p.dispatch[0], p.dispatch[1], 1], scaledBy: ['--batch', '--T'] })),
        job(data) {
          const built = buildScanJob(module, kernels, data);
          decode = built.decode;
          return built.job;
        },
        decode: (buffers) => {
          if (!decode) throw new Error('scan backend: decode before job');
          return decode(buffers);
        },
      };
    }
  },
};
