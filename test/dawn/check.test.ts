// The parts of the Dawn runtime that need no GPU: job checks and the rendering of Tint's messages.
import { describe, expect, it, vi } from 'vitest';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { checkJob, deviceBytes } from '../../src/runtime/dawn/check.js';
import { formatShaderError, renderShaderMessage } from '../../src/runtime/dawn/frame.js';
import { DISPATCH_BUFFER_BYTES, shaderBindings } from '../../src/runtime/dawn/reflect.js';
import { GpuError, type AdapterSummary, type GpuJob } from '../../backends/job.js';

const adapter: AdapterSummary = {
  description: 'test',
  vendor: 'test',
  architecture: '',
  device: '',
  features: ['timestamp-query'],
  isSoftware: true,
  limits: {
    maxStorageBufferBindingSize: 1024,
    maxBufferSize: 2048,
    maxComputeWorkgroupsPerDimension: 100,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
    maxComputeWorkgroupStorageSize: 16384,
    maxStorageBuffersPerShaderStage: 2,
    maxUniformBufferBindingSize: 64,
  },
};
const job = (patch: Partial<GpuJob> = {}): GpuJob => ({
  shaders: [{ label: 'k', code: '' }],
  buffers: [
    { name: 'u', bytes: 8, usage: 'uniform' },
    { name: 'a', bytes: 100, usage: 'storage' },
  ],
  passes: [{ shader: 'k', bindings: [{ binding: 0, buffer: 'u' }, { binding: 1, buffer: 'a' }], dispatch: [10, 2] }],
  ...patch,
});
const fails = (j: GpuJob, kind: GpuError['kind'], msg: RegExp) => {
  try {
    checkJob(j, adapter);
  } catch (e) {
    expect(e).toBeInstanceOf(GpuError);
    expect((e as GpuError).kind).toBe(kind);
    expect((e as Error).message).toMatch(msg);
    return;
  }
  expect.fail('checkJob accepted the job');
};

describe('checkJob', () => {
  it('accepts a consistent job within the limits', () => expect(() => checkJob(job(), adapter)).not.toThrow());

  it('rounds sizes up to 4 bytes (uniforms 16), never to 0', () => {
    expect([1, 4, 5, 0].map((bytes) => deviceBytes({ bytes, usage: 'storage' }))).toEqual([4, 4, 8, 4]);
    expect([1, 16, 17].map((bytes) => deviceBytes({ bytes, usage: 'uniform' }))).toEqual([16, 16, 32]);
  });

  it('names the buffer and the limit it exceeds', () => {
    fails(job({ buffers: [{ name: 'u', bytes: 8, usage: 'uniform' }, { name: 'a', bytes: 1025, usage: 'storage' }] }), 'limits', /buffer `a` needs 1028 bytes, more than the device's maxStorageBufferBindingSize of 1024 bytes/);
    fails(job({ buffers: [{ name: 'u', bytes: 65, usage: 'uniform' }, { name: 'a', bytes: 4, usage: 'storage' }] }), 'limits', /buffer `u`.*maxUniformBufferBindingSize of 64/);
    fails(job({ passes: [{ shader: 'k', bindings: [], dispatch: [1, 101] }] }), 'limits', /101 workgroups along y, more than the device's maxComputeWorkgroupsPerDimension of 100/);
    fails(job({ requiredFeatures: ['shader-f16'] }), 'limits', /feature 'shader-f16'/);
    fails(job({ minSubgroupSize: 8 }), 'limits', /subgroups of at least 8 invocations; this device's can be as small as unknown/);
    expect(() => checkJob(job({ minSubgroupSize: 8 }), { ...adapter, subgroupMinSize: 8, subgroupMaxSize: 8 })).not.toThrow();
    const three = job({ buffers: ['a', 'b', 'c'].map((name) => ({ name, bytes: 4, usage: 'storage' as const })) });
    three.passes = [{ shader: 'k', bindings: ['a', 'b', 'c'].map((buffer, binding) => ({ binding, buffer })), dispatch: [1] }];
    fails(three, 'limits', /binds 3 storage buffers, more than the device's maxStorageBuffersPerShaderStage of 2/);
  });

  it('rejects inconsistent jobs as validation errors', () => {
    fails(job({ passes: [{ shader: 'q', bindings: [], dispatch: [1] }] }), 'validation', /runs shader `q`, which is not in the job/);
    fails(job({ passes: [{ shader: 'k', bindings: [{ binding: 0, buffer: 'zz' }], dispatch: [1] }] }), 'validation', /binds `zz`/);
    fails(job({ passes: [{ shader: 'k', bindings: [{ binding: 0, buffer: 'a' }, { binding: 0, buffer: 'u' }], dispatch: [1] }] }), 'validation', /two buffers to @group\(0\) @binding\(0\)/);
    fails(job({ buffers: [{ name: 'a', bytes: 4, usage: 'storage', data: new Float32Array(2) }] }), 'validation', /is 4 bytes but its data is 8 bytes/);
    fails(job({ buffers: [{ name: 'a', bytes: 4, usage: 'storage' }, { name: 'a', bytes: 4, usage: 'storage' }] }), 'validation', /two buffers are named `a`/);
    fails(job({ passes: [{ shader: 'k', bindings: [], dispatch: [1.5] }] }), 'validation', /dispatches 1.5 workgroups/);
    fails(job({ timing: { repeats: 0 } }), 'validation', /repeats >= 1/);
  });
});

describe('Tint messages on the WGSL', () => {
  const code = ['a', 'b', 'c', 'd', 'let x = foo;', 'f'].join('\n');
  const at = (line: number, column: number, length: number, message = "unresolved value 'foo'") =>
    ({ type: 'error', line, column, offset: 0, length, message }) as const;
  it('shows label:line:col, the line and a caret under the span', () => {
    expect(renderShaderMessage('k.wgsl', code, at(5, 9, 3))).toBe(["k.wgsl:5:9: error: unresolved value 'foo'", '5 | let x = foo;', '  |         ^^^'].join('\n'));
  });
  it('keeps a caret for an empty span and prints a message without a position alone', () => {
    expect(renderShaderMessage('k', code, at(5, 13, 0)).split('\n')[2]).toBe('  |             ^');
    expect(renderShaderMessage('k', code, at(0, 0, 0, 'pipeline rejected'))).toBe('k: error: pipeline rejected');
  });
  it('reports every error of a shader, warnings left out', () => {
    const msg = formatShaderError('scan_up', code, [{ ...at(1, 1, 1, 'meh'), type: 'warning' }, at(5, 9, 3)]);
    expect(msg).toMatch(/^internal error: the generated WGSL for shader `scan_up` does not compile \(1 error\)/);
    expect(msg).toContain("scan_up:5:9: error: unresolved value 'foo'\n5 | let x = foo;\n");
    expect(msg).not.toContain('meh');
  });
});

describe('the buffers a shader declares', () => {
  it('reads group, binding and kind off the declarations, in order', () => {
    const code = [
      '@group(1) @binding(0) var<storage, read_write> out: array<f32>;',
      '@group(0) @binding(2) var<storage,read> x: array<vec4<f32>>;',
      '@group(0) @binding(0) var<uniform> U: Uniforms;',
      '@group(0) @binding(1) var<storage> y: array<f32>;',
    ].join('\n');
    expect(shaderBindings(code)).toEqual([
      { group: 0, binding: 0, type: 'uniform', bytes: DISPATCH_BUFFER_BYTES },
      { group: 0, binding: 1, type: 'read-only-storage', bytes: DISPATCH_BUFFER_BYTES },
      { group: 0, binding: 2, type: 'read-only-storage', bytes: DISPATCH_BUFFER_BYTES },
      { group: 1, binding: 0, type: 'storage', bytes: DISPATCH_BUFFER_BYTES },
    ]);
  });
  it('refuses a module that binds something other than a buffer', () => {
    expect(() => shaderBindings('@group(0) @binding(0) var s: sampler;')).toThrow("1 of the module's bindings are not buffers");
  });
});

describe('where no GPU may be used', () => {
  it('GpuSession.open refuses before starting a host, with the reason it was given', async () => {
    vi.stubEnv('RNNC_FORBID_GPU', 'the unit project runs on the CPU only');
    try {
      await expect(GpuSession.open()).rejects.toThrow('GpuSession.open: no GPU here: the unit project runs on the CPU only');
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
