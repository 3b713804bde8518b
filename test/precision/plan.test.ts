// The precision the planner records (src/compiler/plan/precision.ts), the refusal without
// `shader-f16` (RNN0802, pinned), the WGSL rewrite that stores buffers as f16 (backends/wgsl/half.ts),
// f32 kernels untouched by it, and '<f2' .npy files. No GPU: the gpu files next to this one run the kernels.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { emit, plan } from '../../src/driver/compile.js';
import { choosePrecision } from '../../src/compiler/plan/precision.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { RnncError } from '../../src/driver/errors.js';
import { storeHalf } from '../../backends/wgsl/half.js';
import { arrayOf, assign, emptyModule, f32, id, index, letS, lit, vec, workgroupEntry, bin } from '../../backends/wgsl/ast.js';
import { printModule } from '../../backends/wgsl/print.js';
import { formatNpy, parseNpy } from '../../src/driver/npy.js';
import { roundHalf, toHalf } from '../../src/compiler/plan/half.js';

const cell = (name: string) => frontEnd(readFileSync(`examples/${name}.rnn`, 'utf8')) as { module: Module; analysis: Analysis };
const noF16 = { subgroups: true, f16: false };

describe('the precision in the plan', () => {
  it('is f32 for auto and f32, f16 storage for f16-storage and f16', () => {
    const lru = cell('lru');
    expect(plan(lru.module, lru.analysis, { mode: 'seq' }).plan.precision).toMatchObject({ requested: 'auto', storage: 'f32' });
    expect(plan(lru.module, lru.analysis, { mode: 'seq', precision: 'f32' }).plan.precision).toMatchObject({ storage: 'f32' });
    expect(plan(lru.module, lru.analysis, { mode: 'scan', precision: 'f16-storage' }).plan.precision).toMatchObject({ storage: 'f16', arithmetic: 'f32' });
    const f16 = plan(lru.module, lru.analysis, { mode: 'auto', precision: 'f16' }).plan.precision!;
    expect(f16).toMatchObject({ requested: 'f16', storage: 'f16', arithmetic: 'f32', exactInHalf: false });
    expect(f16.why).toContain("f16 arithmetic is not safe here: `lambda` uses `exp`, which rounds");
  });

  it('says where f16 arithmetic would be exact (max/min selections) and where it rounds', () => {
    const minmax = cell('minmax');
    const exact = choosePrecision(minmax.module, 'f16', true);
    expect(exact).toMatchObject({ storage: 'f16', exactInHalf: true });
    expect((exact as { why: string }).why).toContain('every operation of the step is max, min, a comparison or a select');
    expect(choosePrecision(cell('maxplus').module, 'f16', true)).toMatchObject({ exactInHalf: false });
    expect(choosePrecision(cell('lstm').module, 'f16', true)).toMatchObject({ exactInHalf: false });
  });

  it('refuses an explicit f16 request on a target without shader-f16 (RNN0802), and keeps auto at f32 there', () => {
    const lru = cell('lru');
    for (const precision of ['f16', 'f16-storage'] as const) {
      expect(() => plan(lru.module, lru.analysis, { mode: 'scan', precision, target: noF16, verb: 'run' })).toThrow(RnncError);
      expect(() => plan(lru.module, lru.analysis, { mode: 'scan', precision, target: noF16, verb: 'run' })).toThrow(
        `rnnc: RNN0802: lru cannot take --precision ${precision}: the adapter lacks the 'shader-f16' feature, which f16 buffers need; run it with --precision f32 or auto`,
      );
    }
    const auto = plan(lru.module, lru.analysis, { mode: 'auto', target: noF16 }).plan.precision!;
    expect(auto).toMatchObject({ requested: 'auto', storage: 'f32' });
    expect(auto.why).toContain("this adapter lacks 'shader-f16'");
  });

  it('leaves f32 kernels as they were and declares f16 buffers for f16 storage', () => {
    for (const [name, mode] of [['lstm', 'seq'], ['lru', 'scan'], ['deltanet', 'chunk']] as const) {
      const c = cell(name);
      const f32k = emit(plan(c.module, c.analysis, { mode })).kernels;
      const auto = emit(plan(c.module, c.analysis, { mode, precision: 'f32' })).kernels;
      expect(auto.map((k) => k.wgsl)).toEqual(f32k.map((k) => k.wgsl));
      expect(f32k.some((k) => k.wgsl.includes('f16'))).toBe(false);
      const half = emit(plan(c.module, c.analysis, { mode, precision: 'f16-storage' })).kernels;
      expect(half.filter((k) => k.wgsl.includes('f16')).every((k) => k.wgsl.includes('enable f16;'))).toBe(true);
      expect(half.some((k) => /var<storage, read> inputs: array<f16>;/.test(k.wgsl))).toBe(true);
      // States and scratch stay f32.
      expect(half.some((k) => /(state_in|init|final_state|state_out|scratch|aggs): array<f16>/.test(k.wgsl))).toBe(false);
    }
  });
});

describe('storeHalf', () => {
  it('widens loads, narrows stores (also compound ones and vec4 views) and enables f16', () => {
    const m = emptyModule();
    m.globals.push({ name: 'inputs', space: 'storage', access: 'read', type: arrayOf(f32), group: 0, binding: 1 });
    m.globals.push({ name: 'inputs4', space: 'storage', access: 'read', type: arrayOf(vec(4, f32)), group: 0, binding: 2 });
    m.globals.push({ name: 'outputs', space: 'storage', access: 'read_write', type: arrayOf(f32), group: 0, binding: 3 });
    m.globals.push({ name: 'state', space: 'storage', access: 'read_write', type: arrayOf(f32), group: 0, binding: 4 });
    m.entryPoints.push(
      workgroupEntry(64, [
        letS('a', bin('+', index(id('inputs'), index(id('state'), lit.u32(0))), lit.f32(1))),
        letS('q', index(id('inputs4'), lit.u32(1))),
        assign(index(id('outputs'), lit.u32(2)), id('a')),
        assign(index(id('outputs'), lit.u32(3)), lit.f32(2), '+='),
        assign(index(id('state'), lit.u32(0)), id('a')),
      ]),
    );
    const text = printModule(storeHalf(m, new Set(['inputs', 'inputs4', 'outputs'])));
    expect(text).toContain('enable f16;');
    expect(text).toContain('var<storage, read> inputs: array<f16>;');
    expect(text).toContain('var<storage, read> inputs4: array<vec4<f16>>;');
    expect(text).toContain('var<storage, read_write> outputs: array<f16>;');
    expect(text).toContain('var<storage, read_write> state: array<f32>;');
    expect(text).toContain('let a = f32(inputs[state[0u]]) + 1.0f;');
    expect(text).toContain('let q = vec4<f32>(inputs4[1u]);');
    expect(text).toContain('outputs[2u] = f16(a);');
    expect(text).toContain('outputs[3u] = f16(f32(outputs[3u]) + 2.0f);');
    expect(text).toContain('state[0u] = a;');
    // Nothing named: the module as it was.
    expect(storeHalf(m, new Set())).toBe(m);
  });
});

describe(".npy '<f2'", () => {
  it('writes f16 bits and reads them back widened exactly', () => {
    const data = new Float32Array([0.1, -2.5, 1e5, 3e-6]);
    const bytes = formatNpy({ shape: [2, 2], data, dtype: '<f2' });
    const start = 10 + (bytes[8]! | (bytes[9]! << 8));
    expect(new TextDecoder('latin1').decode(bytes.subarray(10, start))).toContain("'descr': '<f2'");
    expect(bytes.length).toBe(start + 2 * 4);
    expect(Array.from(new Uint16Array(bytes.slice(start).buffer))).toEqual(Array.from(data, (x) => toHalf(x)));
    const back = parseNpy(bytes);
    expect(back.dtype).toBe('<f2');
    expect(back.shape).toEqual([2, 2]);
    expect(Array.from(back.data)).toEqual(Array.from(data, (x) => roundHalf(x)));
    expect(back.data[0]).toBe(0.0999755859375);
    expect(back.data[2]).toBe(Infinity);
  });
});
