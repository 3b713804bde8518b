// GpuSession.compileShaders: Tint's verdict on WGSL without running it, the pipeline timing, and
// the rendering of Tint's messages onto the code.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GpuError, GpuSession, renderShaderMessages } from '../../src/runtime/dawn/runtime.js';

const VALID = `@group(0) @binding(0) var<storage, read_write> a: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  a[gid.x] = a[gid.x] * 2.0;
}
`;
// An unresolved name, as issue 11's generator found (`let e0 = e;`).
const INVALID = `@group(0) @binding(0) var<storage, read_write> a: array<f32>;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let e0 = e;
  a[gid.x] = a[gid.x] * 2.0;
}
`;
// A bool stored as f32, as issue 11's hoisted select conditions were.
const BOOL_AS_F32 = `@group(0) @binding(0) var<storage, read_write> a: array<f32>;

@compute @workgroup_size(1)
fn main() {
  var c: f32 = a[0] > 1.0;
  a[0] = c;
}
`;

describe('GpuSession.compileShaders', () => {
  let s: GpuSession;
  beforeAll(async () => {
    s = await GpuSession.open();
  });
  afterAll(async () => {
    await s?.close();
  });

  it('reports no errors for valid WGSL and times its pipeline when asked', async () => {
    const [plain] = await s.compileShaders([{ label: 'double', code: VALID }]);
    expect(plain).toEqual({ label: 'double', messages: [] });
    const [timed] = await s.compileShaders([{ label: 'double', code: VALID }], { pipelines: true });
    expect(timed!.messages).toEqual([]);
    expect(timed!.pipelineMs).toBeGreaterThan(0);
    expect(timed!.pipelineMs).toBeLessThan(5_000);
    expect(timed!.pipelineError).toBeUndefined();
  });

  it('times the first dispatch, where lavapipe compiles, on zeroed buffers of every declared binding', async () => {
    const twoGroups = `@group(1) @binding(3) var<uniform> u: vec4f;\n@group(0) @binding(1) var<storage, read> b: array<f32>;\n${VALID}`;
    const [r] = await s.compileShaders([{ label: 'double', code: twoGroups }], { dispatch: true });
    expect(r!.messages).toEqual([]);
    expect(r!.pipelineError).toBeUndefined();
    expect(r!.pipelineMs).toBeGreaterThan(0);
    expect(r!.dispatchMs).toBeGreaterThan(0);
    expect(r!.cpuMs).toBeGreaterThan(0);
    const texture = `@group(0) @binding(1) var t: texture_2d<f32>;\n${VALID}`;
    const [t] = await s.compileShaders([{ label: 'texture', code: texture }], { dispatch: true });
    expect(t!.messages).toEqual([]);
    expect(t!.pipelineError).toBe("no first dispatch: the shader's bindings could not be read (1 of the module's bindings are not buffers)");
  });

  it("returns Tint's errors with their positions, per shader, without throwing", async () => {
    const reports = await s.compileShaders(
      [
        { label: 'bad', code: INVALID },
        { label: 'good', code: VALID },
        { label: 'bool', code: BOOL_AS_F32 },
      ],
      { pipelines: true },
    );
    expect(reports.map((r) => r.label)).toEqual(['bad', 'good', 'bool']);
    const [bad, good, bool] = reports;
    expect(bad!.messages).toEqual([{ type: 'error', line: 5, column: 12, offset: INVALID.indexOf('= e;') + 2, length: 1, message: "unresolved value 'e'" }]);
    expect(bad!.pipelineMs).toBeUndefined(); // no pipeline for a module with errors
    expect(good!.messages).toEqual([]);
    expect(good!.pipelineMs).toBeGreaterThan(0);
    expect(bool!.messages.filter((m) => m.type === 'error').map((m) => [m.line, m.column, m.message])).toEqual([
      [5, 3, "cannot initialize 'var' of type 'f32' with value of type 'bool'"],
    ]);
  });

  it('renders a message as label:line:col, the line and a caret, like rnnc diagnostics', async () => {
    const [bad] = await s.compileShaders([{ label: 'scan_up.wgsl', code: INVALID }]);
    expect(renderShaderMessages('scan_up.wgsl', INVALID, bad!.messages)).toBe(
      ["scan_up.wgsl:5:12: error: unresolved value 'e'", '5 |   let e0 = e;', '  |            ^'].join('\n'),
    );
  });

  it('kills the host past timeoutMs, and the next call starts a fresh one', async () => {
    const pid = s.hostPid;
    const error = await s.compileShaders([{ label: 'double', code: VALID }], { dispatch: true, timeoutMs: 1 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GpuError);
    expect((error as GpuError).kind).toBe('timeout');
    const [r] = await s.compileShaders([{ label: 'double', code: VALID }]);
    expect(r!.messages).toEqual([]);
    expect(s.hostPid).not.toBe(pid);
  });

  it('refuses shaders that need a feature the device lacks', async () => {
    await expect(s.compileShaders([{ label: 'double', code: VALID }], { requiredFeatures: ['no-such-feature' as GPUFeatureName] })).rejects.toThrow(
      GpuError,
    );
  });
});
