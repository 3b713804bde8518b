// The bench's bandwidth yardsticks on Dawn: copyBufferToBuffer timed in the host (copyTiming).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type Device } from '../../src/runtime/device.js';
import { GpuError, type GpuJob } from '../../backends/job.js';

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
