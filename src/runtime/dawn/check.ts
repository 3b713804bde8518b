// Job checks that need no device: run in the parent before a job is sent to the host, so that a
// malformed job or one over the device's limits fails fast with a message naming the culprit.
import { GpuError, type AdapterSummary, type GpuBufferSpec, type GpuJob } from '../../../backends/job.js';

const roundUp = (n: number, m: number) => Math.ceil(n / m) * m;

/** Device size of a buffer: a multiple of 4 (uniforms: 16), never 0 (a zero-size binding is invalid). */
export function deviceBytes(spec: Pick<GpuBufferSpec, 'bytes' | 'usage'>): number {
  const align = spec.usage === 'uniform' ? 16 : 4;
  return roundUp(Math.max(spec.bytes, 1), align);
}

const fmtBytes = (n: number) =>
  n >= 1 << 20 ? `${n} bytes (${(n / (1 << 20)).toFixed(1)} MiB)` : `${n} bytes`;

/** Throws GpuError 'validation' for an inconsistent job, 'limits' for one the device cannot run. */
export function checkJob(job: GpuJob, adapter: AdapterSummary): void {
  const invalid = (msg: string) => new GpuError('validation', `invalid GPU job: ${msg}`);
  const { limits } = adapter;

  const shaders = new Set<string>();
  for (const s of job.shaders) {
    if (shaders.has(s.label)) throw invalid(`two shaders are labelled \`${s.label}\``);
    shaders.add(s.label);
  }

  const buffers = new Map<string, GpuBufferSpec>();
  for (const b of job.buffers) {
    if (buffers.has(b.name)) throw invalid(`two buffers are named \`${b.name}\``);
    buffers.set(b.name, b);
    if (!Number.isSafeInteger(b.bytes) || b.bytes < 0) throw invalid(`buffer \`${b.name}\` has size ${b.bytes}, not a byte count`);
    if (b.data && b.data.byteLength > b.bytes)
      throw invalid(`buffer \`${b.name}\` is ${b.bytes} bytes but its data is ${b.data.byteLength} bytes`);
    if (b.parts) {
      if (b.data) throw invalid(`buffer \`${b.name}\` has both data and parts`);
      let end = 0;
      for (const p of b.parts) {
        if (p.offset % 4 !== 0 || p.offset < end) throw invalid(`buffer \`${b.name}\` has a part at byte ${p.offset}: parts go in order, at multiples of 4, without overlapping`);
        end = p.offset + p.data.byteLength;
      }
      if (end > b.bytes) throw invalid(`buffer \`${b.name}\` is ${b.bytes} bytes but its parts reach byte ${end}`);
    }
    const size = deviceBytes(b);
    const limit = (name: keyof typeof limits, what: string) => {
      if (size > limits[name])
        throw new GpuError(
          'limits',
          `buffer \`${b.name}\` needs ${fmtBytes(size)}, more than the device's ${name} of ${fmtBytes(limits[name])} (${what}); ` +
            `split the job or use a smaller problem size`,
          { limit: name },
        );
    };
    limit('maxBufferSize', 'the largest buffer');
    if (b.usage === 'uniform') limit('maxUniformBufferBindingSize', 'the largest uniform binding');
    else limit('maxStorageBufferBindingSize', 'the largest storage binding');
  }

  for (const f of job.requiredFeatures ?? [])
    if (!adapter.features.includes(f))
      throw new GpuError('limits', `the job needs GPU feature '${f}', which this device does not have (it has: ${adapter.features.join(', ')})`, {
        limit: f,
      });

  if (job.minSubgroupSize !== undefined && (adapter.subgroupMinSize ?? 0) < job.minSubgroupSize)
    throw new GpuError(
      'limits',
      `the job's kernels need subgroups of at least ${job.minSubgroupSize} invocations; this device's can be as small as ${adapter.subgroupMinSize ?? 'unknown'} ` +
        `(plan the kernels without them: rnnc compile --no-subgroups, or the plan options' target: { subgroups: false })`,
      { limit: 'subgroupMinSize' },
    );

  if (job.timing) {
    const { repeats, warmup = 0 } = job.timing;
    if (!Number.isInteger(repeats) || repeats < 1 || !Number.isInteger(warmup) || warmup < 0)
      throw invalid(`timing needs an integer repeats >= 1 and warmup >= 0, got repeats ${repeats}, warmup ${warmup}`);
  }

  job.passes.forEach((p, i) => {
    const where = `pass ${i}${p.label ? ` (${p.label})` : ''}`;
    if (!shaders.has(p.shader)) throw invalid(`${where} runs shader \`${p.shader}\`, which is not in the job`);
    const slots = new Set<string>();
    let storage = 0;
    for (const b of p.bindings) {
      const spec = buffers.get(b.buffer);
      if (!spec) throw invalid(`${where} binds \`${b.buffer}\`, which is not a buffer of the job`);
      const slot = `${b.group ?? 0}:${b.binding}`;
      if (slots.has(slot)) throw invalid(`${where} binds two buffers to @group(${b.group ?? 0}) @binding(${b.binding})`);
      slots.add(slot);
      if (spec.usage !== 'uniform') storage++;
    }
    if (storage > limits.maxStorageBuffersPerShaderStage)
      throw new GpuError(
        'limits',
        `${where} binds ${storage} storage buffers, more than the device's maxStorageBuffersPerShaderStage of ${limits.maxStorageBuffersPerShaderStage}`,
        { limit: 'maxStorageBuffersPerShaderStage' },
      );
    const [x, y = 1, z = 1] = p.dispatch;
    for (const [axis, n] of [['x', x], ['y', y], ['z', z]] as const) {
      if (!Number.isInteger(n) || n < 0) throw invalid(`${where} dispatches ${n} workgroups along ${axis}`);
      if (n > limits.maxComputeWorkgroupsPerDimension)
        throw new GpuError(
          'limits',
          `${where} dispatches ${n} workgroups along ${axis}, more than the device's maxComputeWorkgroupsPerDimension of ${limits.maxComputeWorkgroupsPerDimension}; ` +
            `spread the workgroups over y/z or loop inside the kernel`,
          { limit: 'maxComputeWorkgroupsPerDimension' },
        );
    }
  });
}
