// The bench's elementwise yardstick on Dawn: Tint takes every shape, and each output vec4 is the sum
// of the input vec4s mapped onto it (out[o] = Σ_k in[k·OUT + o]), so every input is read.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDevice, type Device } from '../../src/runtime/device.js';
import { ELEMENTWISE_SHAPES, copyJob, elementwiseJob, elementwiseKernel, parseShape, shapeName } from '../../backends/wgsl/elementwise-kernel.js';

let gpu: Device;
beforeAll(async () => {
  gpu = await openDevice();
});
afterAll(async () => {
  await gpu?.close();
});

/** The sum the kernel claims, on the CPU, in vec4 units over the zero-padded input. */
function expected(input: Float32Array, inVec: number, outVec: number): Float32Array {
  const padded = new Float32Array(4 * inVec);
  padded.set(input);
  const out = new Float32Array(4 * outVec);
  for (let v = 0; v < inVec; v++) for (let c = 0; c < 4; c++) out[4 * (v % outVec) + c]! += padded[4 * v + c]!;
  return out;
}

describe('elementwise yardstick', () => {
  it('names its shapes, run or strided, and reads the names back', () => {
    expect(ELEMENTWISE_SHAPES.map(shapeName)).toEqual(['4x64', '16x64', '64x64', '4x256', '16x256', '64x256', '64x64s', '256x8s']);
    for (const s of ELEMENTWISE_SHAPES) expect(parseShape(shapeName(s))).toEqual(s);
    expect(parseShape('4x64x')).toBeUndefined();
  });

  it('is valid WGSL for every shape, and the same bytes each time', async () => {
    const shaders = ELEMENTWISE_SHAPES.flatMap((s) => [
      { label: `a ${shapeName(s)}`, code: elementwiseKernel(2, true, s) },
      { label: `b ${shapeName(s)}`, code: elementwiseKernel(10, false, s) }, // the rounds as a loop
      { label: `c ${shapeName(s)}`, code: elementwiseKernel(0, true, s) }, // fewer inputs than outputs
    ]);
    for (const r of await gpu.compileShaders(shaders)) expect(r.messages.filter((m) => m.type === 'error'), r.label).toEqual([]);
    expect(elementwiseKernel(2, true, ELEMENTWISE_SHAPES[0]!)).toBe(elementwiseKernel(2, true, ELEMENTWISE_SHAPES[0]!));
  });

  // Sizes (bytes in, bytes out, binding limit): uneven rounds with a rest, a loop of rounds,
  // fewer inputs than outputs, byte counts not multiples of 16, and pieces under a small binding limit.
  const cases: [number, number, number][] = [
    [4 * 1000, 4 * 300, 1 << 20],
    [4 * 4000, 4 * 64, 1 << 20],
    [4 * 30, 4 * 200, 1 << 20],
    [4 * 1001, 4 * 333, 1 << 20],
    [4 * 5000, 4 * 2500, 4096],
    [4 * 40_000, 4 * 20_000, 1 << 20],
  ];
  // Each run length (4, 16, 64 vec4s) and workgroup size somewhere, one or two shapes a case: every new kernel is a pipeline
  // compile on lavapipe, 1-3 s, and 5-20 s for the 64-vec4 runs on 2 loaded cores.
  // The strided shapes where the last workgroup's span is cut short (333 and 2,500 / 2 pieces of outputs), and
  // where full spans come first (5,000 vec4s of outputs: spans of 4,096 and 2,048).
  const shape = (v: number, w: number, strided = false) => ELEMENTWISE_SHAPES.find((s) => s.perInvocation === v && s.workgroup === w && !!s.strided === strided)!;
  const shapesOf = [[shape(4, 64), shape(16, 256)], [shape(4, 64)], [shape(16, 64)], [shape(64, 64), shape(256, 8, true)], [shape(4, 256), shape(64, 64, true)], [shape(64, 64, true), shape(256, 8, true)]];
  it.each(cases.map((c, i) => [...c, shapesOf[i]!] as const))('sums %i bytes into %i bytes (binding limit %i)', async (inBytes, outBytes, bindingLimit, shapes) => {
    const input = Float32Array.from({ length: inBytes / 4 }, (_, i) => ((i * 7919) % 1000) / 8 - 60); // exact in f32 sums of a few terms
    const plan = elementwiseJob(inBytes, outBytes, { bindingLimit, data: input, read: true, shapes });
    expect(plan.pieces).toBe(Math.max(Math.ceil(Math.ceil(inBytes / 16) / Math.floor(bindingLimit / 16)), Math.ceil(Math.ceil(outBytes / 16) / Math.floor(bindingLimit / 16))));
    expect(plan.bytes).toBe(16 * (Math.ceil(inBytes / 16) + Math.ceil(outBytes / 16)));
    for (const { shape } of plan.passesOf) {
      // One shape per job, so that each shape's outputs are its own.
      const one = elementwiseJob(inBytes, outBytes, { bindingLimit, data: input, read: true, shapes: [shape] });
      const r = await gpu.run(one.job);
      let fedIn = 0;
      for (let p = 0; p < plan.pieces; p++) {
        const src = one.job.buffers.find((b) => b.name === `src${p}`)!;
        const got = new Float32Array(r.buffers[`dst${p}`]!);
        const inVec = src.bytes / 16;
        const want = expected(input.subarray(fedIn / 4, Math.min(input.length, (fedIn + src.bytes) / 4)), inVec, got.length / 4);
        fedIn += src.bytes;
        expect(got, `shape ${shape.perInvocation}x${shape.workgroup}, piece ${p}`).toEqual(want);
      }
    }
  });

  it('copies half the bytes for copyBufferToBuffer, in pieces under the binding limit', () => {
    const c = copyJob(1000, { bindingLimit: 128, repeats: 2 });
    expect(c.bytes).toBe(1000);
    expect(c.pieces).toBe(4);
    expect(c.job.copyTiming!.copies.reduce((n, x) => n + x.bytes, 0)).toBe(500);
    for (const x of c.job.copyTiming!.copies) expect(x.bytes).toBeLessThanOrEqual(128);
  });
});
