// Real kernels on Dawn, through the child-process runtime. No test is skipped for lack of an
// adapter: a machine without a Vulkan driver fails here, with the install hint in the error.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { GpuError, GpuSession, withGpu, type GpuJob } from '../../src/runtime/dawn/runtime.js';

const N = 1000;
const AFFINE = `struct Params { n: u32, scale: f32, shift: f32 }
@group(0) @binding(0) var<uniform> params: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;
@group(0) @binding(4) var<storage, read_write> z: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let i = gid.x;
  if (i >= params.n) { return; }
  y[i] = x[i] * params.scale + params.shift;
  z[i] = max(x[i], w[i]);
}
`;

function params(n: number, scale: number, shift: number): ArrayBuffer {
  const b = new ArrayBuffer(12);
  const v = new DataView(b);
  v.setUint32(0, n, true);
  v.setFloat32(4, scale, true);
  v.setFloat32(8, shift, true);
  return b;
}

/** y = x * scale + shift, z = max(x, w); small integers and a power-of-two scale keep it exact (fused or not). */
function affineJob(x: Float32Array, w: Float32Array, scale: number, shift: number): GpuJob {
  const n = x.length;
  return {
    shaders: [{ label: 'affine', code: AFFINE }],
    buffers: [
      { name: 'params', bytes: 12, usage: 'uniform', data: params(n, scale, shift) },
      { name: 'x', bytes: n * 4, usage: 'storage-read', data: x },
      { name: 'w', bytes: n * 4, usage: 'storage-read', data: w },
      { name: 'y', bytes: n * 4, usage: 'storage', read: true },
      { name: 'z', bytes: n * 4, usage: 'storage', read: true },
    ],
    passes: [
      {
        shader: 'affine',
        bindings: ['params', 'x', 'w', 'y', 'z'].map((buffer, binding) => ({ binding, buffer })),
        dispatch: [Math.ceil(n / 64)],
      },
    ],
  };
}

const ints = (n: number, f: (i: number) => number) => Float32Array.from({ length: n }, (_, i) => f(i));

function expectError(p: Promise<unknown>, kind: GpuError['kind']): Promise<GpuError> {
  return p.then(
    () => expect.fail(`expected GpuError '${kind}', but it succeeded`),
    (e: unknown) => {
      expect(e).toBeInstanceOf(GpuError);
      expect((e as GpuError).kind, (e as Error).message).toBe(kind);
      return e as GpuError;
    },
  );
}

/** Alive and not a zombie: an orphaned host is reaped by init, which may take its time. */
function pidAlive(pid: number): boolean {
  try {
    return !/^\d+ \(.*\) Z/.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('Dawn runtime', () => {
  let s: GpuSession;
  beforeAll(async () => {
    s = await GpuSession.open();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('describes the adapter and the device it opened', () => {
    expect(s.adapter.description).not.toBe('');
    expect(s.adapter.limits.maxComputeWorkgroupsPerDimension).toBeGreaterThanOrEqual(65535);
    expect(s.adapter.limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(1 << 27);
    expect(s.adapter.features).toContain('timestamp-query');
    expect(typeof s.adapter.isSoftware).toBe('boolean');
  });

  it('runs an elementwise kernel with uniform and storage buffers, exactly', async () => {
    const x = ints(N, (i) => i - 500);
    const w = ints(N, (i) => (i * 7) % 300 - 150);
    const r = await s.run(affineJob(x, w, 0.5, 3));
    expect(Object.keys(r.buffers).sort()).toEqual(['y', 'z']);
    expect(new Float32Array(r.buffers.y!)).toEqual(x.map((v) => v * 0.5 + 3));
    expect(new Float32Array(r.buffers.z!)).toEqual(x.map((v, i) => Math.max(v, w[i]!)));
    expect(r.timingsNs).toBeUndefined();
  });

  it('runs several jobs through one session and one host', async () => {
    const pid = s.hostPid;
    for (let k = 1; k <= 4; k++) {
      const n = 64 * k + 3; // not a multiple of the workgroup size
      const x = ints(n, (i) => i * k);
      const r = await s.run(affineJob(x, ints(n, () => 0), 2 ** -k, k));
      expect(new Float32Array(r.buffers.y!)).toEqual(x.map((v) => v * 2 ** -k + k));
    }
    expect(s.hostPid).toBe(pid);
  });

  it('chains passes over shared buffers, with bind group 1, odd sizes and partial data', async () => {
    const inc = `@group(0) @binding(0) var<storage, read_write> a: array<u32>;
@group(1) @binding(0) var<storage, read> step: array<u32>;
@compute @workgroup_size(1) fn main(@builtin(global_invocation_id) g: vec3u) { a[g.x] = a[g.x] * 2u + step[0]; }`;
    const r = await s.run({
      shaders: [{ label: 'inc', code: inc }],
      buffers: [
        { name: 'a', bytes: 10, usage: 'storage', data: new Uint8Array([1, 0, 0, 0, 2, 0]), read: true },
        { name: 'step', bytes: 4, usage: 'storage-read', data: new Uint32Array([1]) },
      ],
      passes: [0, 1, 2].map((i) => ({
        shader: 'inc',
        label: `inc${i}`,
        bindings: [
          { binding: 0, buffer: 'a' },
          { group: 1, binding: 0, buffer: 'step' },
        ],
        dispatch: [2] as [number],
      })),
    });
    expect(r.buffers.a!.byteLength).toBe(10); // exactly `bytes`, not the padded device size
    // Three times a -> 2a + 1: 1 -> 15, 2 -> 23; the third word was zero and is not dispatched.
    expect(Array.from(new Uint32Array(r.buffers.a!.slice(0, 8)))).toEqual([15, 23]);
    expect(Array.from(new Uint8Array(r.buffers.a!.slice(8)))).toEqual([0, 0]);
  });

  it('reuses buffers across jobs, zeroing whatever the new data does not cover', async () => {
    const fill = `@group(0) @binding(0) var<storage, read_write> a: array<u32>;
@compute @workgroup_size(1) fn main(@builtin(global_invocation_id) g: vec3u) { a[g.x] = 7u; }`;
    const job = (data: Uint32Array | undefined, passes: number): GpuJob => ({
      shaders: [{ label: 'fill', code: fill }],
      buffers: [{ name: 'a', bytes: 4096, usage: 'storage', read: true, ...(data ? { data } : {}) }],
      passes: passes ? [{ shader: 'fill', bindings: [{ binding: 0, buffer: 'a' }], dispatch: [1024] }] : [],
    });
    // Every word 7, then the same-sized buffer again with no data, then with data over its first half.
    expect(new Uint32Array((await s.run(job(undefined, 1))).buffers.a!).every((v) => v === 7)).toBe(true);
    expect(new Uint32Array((await s.run(job(undefined, 0))).buffers.a!).every((v) => v === 0)).toBe(true);
    await s.run(job(undefined, 1));
    const half = new Uint32Array((await s.run(job(Uint32Array.from({ length: 512 }, (_, i) => i), 0))).buffers.a!);
    expect(Array.from(half.subarray(0, 512))).toEqual(Array.from({ length: 512 }, (_, i) => i));
    expect(half.subarray(512).every((v) => v === 0)).toBe(true);
  });

  it('reports a WGSL error as GpuError shader with line:col and a code frame', async () => {
    const bad = AFFINE.replace('x[i] * params.scale', 'x[i] * params.scal');
    const e = await expectError(s.run({ ...affineJob(ints(4, (i) => i), ints(4, (i) => i), 1, 0), shaders: [{ label: 'affine', code: bad }] }), 'shader');
    // The error is on line 12 of the shader, at `params.scal` (column 19 is the start of `scal`/`params`).
    const m = e.details!.messages!.find((m) => m.type === 'error')!;
    expect(m.line).toBe(12);
    expect(e.message).toMatch(/^internal error: the generated WGSL for shader `affine` does not compile/);
    expect(e.message).toContain(`affine:12:${m.column}: error: `);
    expect(e.message).toContain("scal");
    const frame = e.message.split('\n');
    const at = frame.findIndex((l) => l.startsWith('12 |'));
    expect(frame[at]).toBe('12 |   y[i] = x[i] * params.scal + params.shift;');
    expect(frame[at + 1]!.indexOf('^')).toBe('12 | '.length + m.column - 1);
    // The session is still usable.
    const ok = await s.run(affineJob(ints(4, (i) => i), ints(4, () => 9), 1, 1));
    expect(Array.from(new Float32Array(ok.buffers.z!))).toEqual([9, 9, 9, 9]);
  });

  it('reports GPU validation errors as GpuError validation, not uncaptured noise', async () => {
    // A read-only buffer bound to a read_write variable: caught at pipeline creation.
    const job = affineJob(ints(8, (i) => i), ints(8, (i) => i), 1, 0);
    job.buffers[3] = { ...job.buffers[3]!, usage: 'storage-read' };
    const e1 = await expectError(s.run(job), 'validation');
    expect(e1.message).toMatch(/preparing the job/);
    // A buffer smaller than the shader's fixed-size array: caught at dispatch.
    const fixed = `@group(0) @binding(0) var<storage, read_write> a: array<f32, 64>;
@compute @workgroup_size(1) fn main() { a[0] = 1.0; }`;
    const e2 = await expectError(
      s.run({ shaders: [{ label: 'fixed', code: fixed }], buffers: [{ name: 'a', bytes: 16, usage: 'storage' }], passes: [{ shader: 'fixed', bindings: [{ binding: 0, buffer: 'a' }], dispatch: [1] }] }),
      'validation',
    );
    expect(e2.message).toMatch(/validation error/i);
    // Inconsistent jobs fail in the parent before reaching the GPU.
    const e3 = await expectError(s.run({ ...job, passes: [{ ...job.passes[0]!, shader: 'nope' }] }), 'validation');
    expect(e3.message).toContain('runs shader `nope`, which is not in the job');
  });

  it('refuses buffers and dispatches over the device limits with GpuError limits', async () => {
    const max = s.adapter.limits.maxStorageBufferBindingSize;
    const job = affineJob(ints(4, (i) => i), ints(4, (i) => i), 1, 0);
    job.buffers[3] = { name: 'y', bytes: max + 4, usage: 'storage', read: true };
    const e = await expectError(s.run(job), 'limits');
    expect(e.message).toContain('buffer `y`');
    expect(e.message).toContain(`maxStorageBufferBindingSize of ${max} bytes`);
    expect(e.details?.limit).toBe('maxStorageBufferBindingSize');
    const wide = affineJob(ints(4, (i) => i), ints(4, (i) => i), 1, 0);
    wide.passes[0]!.dispatch = [70_000];
    const e2 = await expectError(s.run(wide), 'limits');
    expect(e2.message).toMatch(/70000 workgroups along x, more than the device's maxComputeWorkgroupsPerDimension of 65535/);
  });

  it('times the pass sequence with timestamp queries, and by wall clock on request', async () => {
    const job = affineJob(ints(N, (i) => i), ints(N, (i) => i), 1, 0);
    job.passes.push({ ...job.passes[0]!, label: 'again' });
    const r = await s.run({ ...job, timing: { repeats: 5, warmup: 2 } });
    expect(r.timingMethod).toBe('timestamp');
    expect(r.timingsNs).toHaveLength(5);
    expect(r.perPassNs).toHaveLength(5);
    for (let k = 0; k < 5; k++) {
      expect(r.timingsNs![k]).toBeGreaterThan(0);
      expect(r.perPassNs![k]).toHaveLength(2);
      for (const p of r.perPassNs![k]!) expect(p).toBeGreaterThan(0);
      expect(r.timingsNs![k]).toBeGreaterThanOrEqual(r.perPassNs![k]![0]! + r.perPassNs![k]![1]!);
    }
    // The read-back is one run of the passes, not the timed repeats.
    expect(new Float32Array(r.buffers.y!)).toEqual(ints(N, (i) => i));
    const w = await s.run({ ...job, timing: { repeats: 3, method: 'wall' } });
    expect(w.timingMethod).toBe('wall');
    expect(w.timingsNs).toHaveLength(3);
    for (const t of w.timingsNs!) expect(t).toBeGreaterThan(0);
  });

  it('splits many timed repeats over several query sets', async () => {
    const job = affineJob(ints(64, (i) => i), ints(64, (i) => i), 1, 0);
    const r = await s.run({ ...job, timing: { repeats: 2100 } }); // 4200 queries > 4096 per set
    expect(r.timingsNs).toHaveLength(2100);
    expect(r.timingsNs!.every((t) => t > 0)).toBe(true);
  });
});

describe('Dawn runtime failures', () => {
  it('reports a missing adapter with what to install', async () => {
    const e = await expectError(GpuSession.open({ env: { VK_ICD_FILENAMES: '/nonexistent.json' } }), 'no-adapter');
    expect(e.message).toContain('mesa-vulkan-drivers');
    expect(e.message).toContain('bookworm-backports');
    expect(e.message).toContain('bash scripts/setup-vulkan.sh');
    expect(e.message).toContain('/usr/lib/chromium/vk_swiftshader_icd.json');
    expect(e.message).toContain('VK_ICD_FILENAMES is set to /nonexistent.json');
  });

  it('turns a host crash into GpuError host-crashed; the session and new sessions recover', async () => {
    const s = await GpuSession.open();
    try {
      const job = affineJob(ints(N, (i) => i), ints(N, (i) => -i), 1, 0);
      await s.run(job);
      const first = s.hostPid!;
      const inFlight = s.run({ ...job, timing: { repeats: 200 } });
      s.__crashForTest();
      const e = await expectError(inFlight, 'host-crashed');
      expect(e.message).toContain('signal SIGSEGV');
      expect(e.message).toContain("npm webgpu 0.6.2's event pump");
      expect(e.message).toContain('docs/dawn-crash.md');
      expect(e.details?.signal).toBe('SIGSEGV');
      expect(pidAlive(first)).toBe(false);
      // The next job of the same session gets a fresh host.
      const again = await s.run(job);
      expect(new Float32Array(again.buffers.y!)).toEqual(ints(N, (i) => i));
      expect(s.hostPid).not.toBe(first);
    } finally {
      await s.close();
    }
    const r = await withGpu((t) => t.run(affineJob(ints(3, (i) => i), ints(3, () => 5), 4, 0)));
    expect(Array.from(new Float32Array(r.buffers.y!))).toEqual([0, 4, 8]);
  });

  it('close() ends the host process', async () => {
    const s = await GpuSession.open();
    const pid = s.hostPid!;
    expect(pidAlive(pid)).toBe(true);
    await s.close();
    expect(pidAlive(pid)).toBe(false);
    await expect(s.run(affineJob(ints(1, () => 1), ints(1, () => 1), 1, 0))).rejects.toThrow(/closed/);
  });

  it('GpuSession.start opens in the background, announcing the adapter first; abandon() kills a host still opening and closes an open one', async () => {
    const started = GpuSession.start();
    // The adapter announced before the device was created: the device's limits, and features the device has.
    const preview = await started.adapter;
    const s = await started.ready;
    expect(preview.limits).toEqual(s.adapter.limits);
    expect(s.adapter.features).toEqual(expect.arrayContaining(preview.features));
    expect(preview.subgroupMinSize).toBe(s.adapter.subgroupMinSize);
    const got = await s.run(affineJob(ints(3, (i) => i), ints(3, () => 1), 2, 1));
    expect(Array.from(new Float32Array(got.buffers['y']!))).toEqual([1, 3, 5]);
    const pid = s.hostPid!;
    started.abandon();
    await vi.waitFor(() => expect(pidAlive(pid)).toBe(false), { timeout: 10_000 });
    // Given up while the host is still opening its device: killed at once, `ready` rejects (handled: no unhandled rejection).
    const early = GpuSession.start();
    early.abandon();
    await expect(early.ready).rejects.toThrow(/abandoned/);
  });
});

describe('process lifetime', () => {
  const tsx = createRequire(import.meta.url).resolve('tsx');
  const fixture = (name: string) => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));
  function runNode(script: string, deadlineMs: number): Promise<{ code: number | null; ms: number; out: string }> {
    return new Promise((resolve, reject) => {
      const t0 = Date.now();
      const child = spawn(process.execPath, ['--import', tsx, script], { stdio: ['ignore', 'pipe', 'pipe'] });
      let out = '';
      child.stdout.on('data', (d) => (out += d));
      child.stderr.on('data', (d) => (out += d));
      const timer = setTimeout(() => {
        child.kill('SIGKILL');
        reject(new Error(`${script} did not exit within ${deadlineMs} ms; output:\n${out}`));
      }, deadlineMs);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ code, ms: Date.now() - t0, out });
      });
    });
  }

  it('a script that opens and closes a session exits by itself', async () => {
    const r = await runNode(fixture('open-close.ts'), 20_000);
    expect(r.code, r.out).toBe(0);
    expect(r.out).toContain('result 42');
    expect(r.ms).toBeLessThan(10_000);
  });

  it('a script that forgets to close its session still exits, and its host too', async () => {
    const r = await runNode(fixture('forgotten.ts'), 20_000);
    expect(r.code, r.out).toBe(0);
    const pid = Number(/host (\d+)/.exec(r.out)![1]);
    // The host notices the disconnect and exits on its own.
    const t0 = Date.now();
    while (pidAlive(pid) && Date.now() - t0 < 5000) await new Promise((res) => setTimeout(res, 50));
    expect(pidAlive(pid)).toBe(false);
  });
});

describe('Dawn runtime concurrency and time limits', () => {
  it('queues concurrent jobs of one session in the host', async () => {
    await withGpu(async (s) => {
      const results = await Promise.all([1, 2, 3].map((k) => s.run(affineJob(ints(100, (i) => i), ints(100, () => 0), k, k))));
      results.forEach((r, j) => expect(new Float32Array(r.buffers.y!)).toEqual(ints(100, (i) => i * (j + 1) + j + 1)));
    });
  });

  it('kills a host that does not answer in time: GpuError timeout', async () => {
    // The job's limit, not the device's start-up (opening keeps its own, so a short --timeout does not cut it).
    const s = await GpuSession.open({ jobTimeoutMs: 1 });
    try {
      const e = await expectError(s.run(affineJob(ints(1 << 16, (i) => i), ints(1 << 16, (i) => i), 1, 0)), 'timeout');
      expect(e.message).toMatch(/did not finish within 0.001 s/);
    } finally {
      await s.close();
    }
  });
});
