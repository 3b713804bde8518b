// Cutting a run to fit: planSegments picks the longest pieces of the time axis (then the largest
// groups of sequences) whose buffers fit the adapter's limits, and checkHostMemory refuses, before
// any data exists, a run whose arrays the machine cannot hold. CPU only: planning needs no device.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { emit, plan } from '../../src/driver/compile.js';
import { checkHostMemory, planSegments } from '../../src/driver/segments.js';
import { limitViolation } from '../../src/driver/run.js';
import type { AdapterLimits } from '../../backends/job.js';
import type { RunSize } from '../../backends/backend.js';

const limits = (binding: number): AdapterLimits => ({
  maxStorageBufferBindingSize: binding,
  maxBufferSize: binding,
  maxComputeWorkgroupsPerDimension: 65535,
  maxComputeInvocationsPerWorkgroup: 256,
  maxComputeWorkgroupSizeX: 256,
  maxComputeWorkgroupStorageSize: 16384,
  maxStorageBuffersPerShaderStage: 8,
  maxUniformBufferBindingSize: 65536,
});

const r = frontEnd(readFileSync('examples/mamba_s6.rnn', 'utf8'));
const c = plan(r.module!, r.analysis!, { mode: 'seq' });
const compiled = emit(c);
const prepare = (s: RunSize) => compiled.prepare(s);
const fits = (s: RunSize, binding: number) => limitViolation(prepare(s), limits(binding), c.sizes, s) === undefined;

describe('planSegments', () => {
  it('keeps a run that fits whole', () => {
    expect(planSegments(prepare, limits(2 ** 27), c.sizes, { batch: 4, T: 1000 })).toEqual({ T: 1000, batch: 4, count: 1 });
  });

  it('cuts the time axis to the longest piece that fits', () => {
    const s = planSegments(prepare, limits(2 ** 20), c.sizes, { batch: 4, T: 100_000 });
    expect(s.batch).toBe(4);
    expect(fits({ batch: 4, T: s.T }, 2 ** 20)).toBe(true);
    expect(fits({ batch: 4, T: s.T + 1 }, 2 ** 20)).toBe(false);
    expect(s.count).toBe(Math.ceil(100_000 / s.T));
  });

  it('cuts the batch when one step of every sequence does not fit, and caps pieces at --segment', () => {
    const s = planSegments(prepare, limits(2 ** 14), c.sizes, { batch: 1024, T: 50 });
    expect(s.batch).toBeLessThan(1024);
    expect(fits({ batch: s.batch, T: 1 }, 2 ** 14)).toBe(true);
    expect(fits({ batch: s.batch + 1, T: 1 }, 2 ** 14)).toBe(false);
    expect(planSegments(prepare, limits(2 ** 27), c.sizes, { batch: 4, T: 1000 }, 64)).toEqual({ T: 64, batch: 4, count: 16 });
  });

  it('names the buffer and the dims when one step of one sequence does not fit', () => {
    expect(() => planSegments(prepare, limits(64), c.sizes, { batch: 4, T: 1000 })).toThrow(
      /^rnnc: the seq kernel's `inputs` buffer would need 96 bytes \(0\.0 MiB\), more than this adapter's maxBufferSize of 64 bytes \(0\.0 MiB\); its largest tensor is `x` \[batch=1, T=1, D=8\], 32 bytes \(0\.0 MiB\)\. Lower --dim D\.$/,
    );
  });
});

describe('checkHostMemory', () => {
  it('refuses arrays over the machine\'s memory or a typed array\'s length, naming the flags', () => {
    expect(() => checkHostMemory(c.module, c.sizes, { batch: 4, T: 1000 }, { memory: 2 ** 30 })).not.toThrow();
    expect(() => checkHostMemory(c.module, c.sizes, { batch: 4, T: 10_000_000 }, { verify: true, memory: 2 ** 30 })).toThrow(
      /^rnnc: a run of batch 4 × T 10000000 holds \d+\.\d GiB of inputs and outputs \(and the reference's\) in host memory, more than 60% of this machine's 1\.0 GiB\. Lower --T, --batch or --dim D\.$/,
    );
    expect(() => checkHostMemory(c.module, c.sizes, { batch: 1, T: 2 ** 30 }, { memory: 2 ** 50 })).toThrow(/^rnnc: `x` would have 8589934592 elements \(batch 1 × T 1073741824 × 8\), more than the 4294967296 a JavaScript array holds/);
  });

  it('counts the backward pass\'s arrays with --grad: the states saved at every step, the reversed copies, the gradients', () => {
    // mamba_s6: 24 input and 8 output floats a step, 128 bytes; with --grad 864 (h's 32 floats saved, reversed and carried).
    expect(() => checkHostMemory(c.module, c.sizes, { batch: 1, T: 2_000_000 }, { memory: 2 ** 30 })).not.toThrow();
    expect(() => checkHostMemory(c.module, c.sizes, { batch: 1, T: 2_000_000 }, { grad: true, memory: 2 ** 30 })).toThrow(
      /^rnnc: a run of batch 1 × T 2000000 holds 1\.6 GiB of inputs and outputs \(and the backward pass's\) in host memory, more than 60% of this machine's 1\.0 GiB\. Lower --T, --batch, --dim D or --dim N\.$/,
    );
  });
});
