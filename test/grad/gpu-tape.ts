// Shared by the GPU gradient tests: `runGrad` on Dawn and the float64 tape on the same seeded data and
// upstream gradients, and each gradient tensor's norm-wise error against the tape.
import { tensorSize } from '../../src/compiler/ir/dims.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { randomLengths, randomRunData, uniformFloats } from '../../src/driver/data.js';
import { runGrad, type GradCompilation, type GradRunOptions } from '../../src/driver/grad.js';
import { gradientTensors } from '../../src/driver/grad-io.js';
import { tensorError } from '../../src/driver/verify.js';
import type { Device } from '../../src/runtime/device.js';
import type { AdapterLimits } from '../../backends/job.js';
import { interpretGrad } from '../../src/runtime/reference/grad.js';

export interface GpuGradCase {
  batch: number;
  T: number;
  /** Variable lengths (randomLengths), else every sequence full. */
  lengths: boolean;
  /** Given initial states, else the spec's. */
  initial: boolean;
  checkpoint?: number;
}

const f32 = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v)]));
const f64 = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));

/** Runs `g` on the GPU and the tape on `m`; the gradients' errors (norm-wise), with both results. */
export async function gpuAgainstTape(gpu: Device, g: GradCompilation, m: Module, c: GpuGradCase, tolerance: number, options: GradRunOptions = {}) {
  const sizes = g.forward.sizes;
  const lengths = c.lengths ? randomLengths(c.batch, c.T, 4) : undefined;
  const shape = { batch: c.batch, T: c.T, sizes, ...(lengths ? { lengths } : {}) };
  const data = randomRunData(m, shape, 13, { initial: c.initial });
  const upstream = {
    outputs: Object.fromEntries(tensorsOf(m, 'output').map((o) => [o.name, uniformFloats(13, `grad:${o.name}`, c.batch * c.T * tensorSize(o, sizes))])),
    final: Object.fromEntries(tensorsOf(m, 'state').map((s) => [s.name, uniformFloats(13, `grad:${s.name}.final`, c.batch * tensorSize(s, sizes))])),
  };
  const arrays = { batch: c.batch, T: c.T, inputs: f32(data.inputs), params: f32(data.params), ...(data.initial ? { initialState: f32(data.initial) } : {}), ...(lengths ? { lengths } : {}) };
  const got = await runGrad(gpu, g, arrays, upstream, { ...options, ...(c.checkpoint !== undefined ? { checkpoint: c.checkpoint } : {}) });
  const tape = interpretGrad(m, shape, { inputs: f64(data.inputs), params: f64(data.params), ...(data.initial ? { initial: f64(data.initial) } : {}) }, { outputs: f64(upstream.outputs), final: f64(upstream.final) });
  const size = { batch: c.batch, T: c.T };
  const want = gradientTensors(m, sizes, size, tape);
  const errors = gradientTensors(m, sizes, size, got).map((t, k) => tensorError(t.name, 'grad', t.data, want[k]!.data, tolerance, { normwise: true }));
  return { errors, got, tape };
}

/** The same device, reporting smaller limits to the planners. */
export const withLimits = (device: Device, limits: Partial<AdapterLimits>): Device => ({
  adapter: { ...device.adapter, limits: { ...device.adapter.limits, ...limits } },
  run: (job) => device.run(job),
  compileShaders: (...a) => device.compileShaders(...a),
  close: async () => {},
});

/** The same device, reporting a smaller maxStorageBufferBindingSize to the planners (so that runs are cut into pieces); itself without one. */
export const withBindingLimit = (device: Device, binding?: number): Device => (binding ? withLimits(device, { maxStorageBufferBindingSize: binding }) : device);
