// The bench's bandwidth yardsticks on Dawn: copyBufferToBuffer timed in the host (copyTiming), and
// a bench row of a cell planned sequentially (as where the scan refuses it): seq and yardsticks only.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type Device } from '../../src/runtime/device.js';
import { GpuError, type GpuJob } from '../../backends/job.js';
import { benchCell, readCell } from '../../src/driver/bench.js';
import { plan } from '../../src/driver/compile.js';

let gpu: Device;
beforeAll(async () => {
  gpu = await openDevice();
});
afterAll(async () => {
  await gpu?.close();
});

const copyJob = (bytes: number, method?: 'wall'): GpuJob => ({
  shaders: [],
  passes: [],
  buffers: [
    { name: 'a', bytes, usage: 'storage', data: Float32Array.from({ length: bytes / 4 }, (_, i) => i) },
    { name: 'b', bytes, usage: 'storage', read: true },
  ],
  copyTiming: { copies: [{ from: 'a', to: 'b', bytes }], repeats: 3, warmup: 1, ...(method ? { method } : {}) },
});

describe('copyTiming', () => {
  it('times copyBufferToBuffer with timestamps where the device has them, and the copy happened', async () => {
    const r = await gpu.run(copyJob(1 << 16));
    expect(r.copyTimingMethod).toBe(gpu.adapter.features.includes('timestamp-query') ? 'timestamp' : 'wall');
    expect(r.copyTimingsNs).toHaveLength(3);
    for (const ns of r.copyTimingsNs!) expect(ns).toBeGreaterThan(0);
    // The buffers read back are the run's, before the timed copies (the job has no passes: b is still zero).
    expect(new Float32Array(r.buffers.b!)[5]).toBe(0);
  });

  it('falls back to wall clock when asked', async () => {
    const r = await gpu.run(copyJob(1 << 12, 'wall'));
    expect(r.copyTimingMethod).toBe('wall');
    expect(Math.min(...r.copyTimingsNs!)).toBeGreaterThan(0);
  });

  it('refuses a copy of a buffer the job does not have', async () => {
    const job = copyJob(64);
    job.copyTiming!.copies[0]!.to = 'nope';
    await expect(gpu.run(job)).rejects.toThrow(GpuError);
    await expect(gpu.run(job)).rejects.toThrow(/copyTiming copies `nope`, which is not a buffer of the job/);
  });
});

describe('benchCell', () => {
  it('times a cell planned sequentially with the sequential kernel and the yardsticks only, giving the reason', async () => {
    const { module, analysis } = readCell('bench/cells/affine.rnn');
    const c = plan(module, analysis, { mode: 'seq' });
    const r = await benchCell(gpu, 'affine.rnn', c, { log2T: [6], batches: [2], repeats: 1, maxBytes: 1 << 20, shapes: [{ perInvocation: 4, workgroup: 64 }] });
    expect(r.rows).toHaveLength(1);
    const row = r.rows[0]!;
    expect(row).toMatchObject({ example: 'affine', mode: 'seq', strategy: 'sequential', split: '—', T: 64, batch: 2, elementwiseShape: '4x64' });
    expect(row.reason).toBe(c.plan.why);
    expect(row.scanNs).toBeUndefined();
    expect(row.scanPerElementwise).toBeUndefined();
    expect(Math.min(row.seqNs, row.elementwiseNs, row.copyNs)).toBeGreaterThan(0);
    expect(row.idealBytes).toBe(12 * 64 * 2 + 8 * 2);
    expect(r.copyTimingMethod).toMatch(/^(timestamp|wall)$/);
  });
});
