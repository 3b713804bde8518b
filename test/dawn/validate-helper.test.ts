// The golden tests' validation helper fails a test with Tint's message rendered on the code.
import { describe, expect, it } from 'vitest';
import { useWgslValidator } from '../helpers/validate.js';

const expectValidWgsl = useWgslValidator();
const kernel = (body: string, size = 64) => `@group(0) @binding(0) var<storage, read_write> a: array<f32>;

@compute @workgroup_size(${size})
fn main(@builtin(global_invocation_id) gid: vec3u) {
${body}
}
`;

describe('useWgslValidator', () => {
  it('passes valid shaders', async () => {
    await expectValidWgsl({ 'ok.wgsl': kernel('  a[gid.x] = 1.0;'), 'also.wgsl': kernel('  a[0] = 2.0;') });
  });

  it("fails with Tint's message, the file, line and column, and a caret", async () => {
    const error = await expectValidWgsl({ 'ok.wgsl': kernel('  a[0] = 2.0;'), 'k.wgsl': kernel('  let e0 = e;') }).catch((e: Error) => e);
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toContain('Dawn rejects 1 of 2 shaders');
    expect((error as Error).message).toContain(["k.wgsl:5:12: error: unresolved value 'e'", '5 |   let e0 = e;', '  |            ^'].join('\n'));
  });

  it('fails on what only pipeline creation checks: more invocations per workgroup than the device has', async () => {
    const error = await expectValidWgsl({ 'wide.wgsl': kernel('  a[gid.x] = 1.0;', 4096) }).catch((e: Error) => e);
    expect((error as Error).message).toMatch(/the pipeline of `wide.wgsl` was rejected: .*4096/s);
  });
});
