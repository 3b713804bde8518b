// The params' sums and the inputs' gradients that are matrix products over the steps: LSTM's weight
// gradients `d_W = Σ_t d_gate_tᵀ x_t` (backends/wgsl-reduce/outer-sum.ts) and `d_x = Σ_g W_gᵀ d_g`
// (weights-map.ts), where the time-sum kernel stops (from H = 16); and the loop's gate adjoints, read
// by its sums as vec4s (backends/wgsl-seq/emit.ts quadLocal). Sizes that leave tails in every
// block (X = 20, H = 24: 16 rows, 64 lanes), variable lengths, given initial states, and a binding
// limit that cuts the run into pieces; the gradients against the float64 tape, and the jobs that ran.
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gpuAgainstTape, withBindingLimit } from './gpu-tape.js';
import { fileGpu } from '../helpers/file-gpu.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { emit, plan } from '../../src/driver/compile.js';
import { planGrad } from '../../src/driver/grad.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { compileOuterSum, outerTerm } from '../../backends/wgsl-reduce/outer-sum.js';
import { uniformFloats } from '../../src/driver/data.js';
import { targetOf } from '../../src/driver/run.js';
import { weightsMapForm } from '../../backends/wgsl-reduce/weights-map.js';
import type { Device } from '../../src/runtime/device.js';

const gpu = fileGpu();
const lstm = frontEnd(readFileSync(new URL('../../examples/lstm.rnn', import.meta.url), 'utf8')).module!;
const dims = { X: 20, H: 24 };
const planned = () => planGrad(plan(lstm, analyse(lstm).analysis, { mode: 'seq', dims }), 'seq');

/** The device, recording the shaders of every job it runs. */
function recording(device: Device): { device: Device; shaders: string[]; passes: string[] } {
  const shaders: string[] = [];
  const passes: string[] = [];
  return {
    shaders,
    passes,
    device: {
      adapter: device.adapter,
      run: (job) => {
        shaders.push(...job.shaders.map((s) => s.label));
        passes.push(...job.passes.map((p) => p.label ?? p.shader));
        return device.run(job);
      },
      compileShaders: (...a) => device.compileShaders(...a),
      close: async () => {},
    },
  };
}

describe('matrix products over the steps in the backward', () => {
  it("takes LSTM's weight sums and input map, not its bias sums", () => {
    const g = planned();
    const form = (param: string) => outerTerm(g.split!.accumulations.find((a) => a.param === param)!.module, g.forward.sizes);
    expect(form('Wi')).toEqual({ state: 'd_Wi', first: { input: 'd_ig_sum_2_carried', size: 24 }, second: { input: 'x', size: 20 } });
    expect(form('Uo')).toEqual({ state: 'd_Uo', first: { input: 'd_og_sum_2_carried', size: 24 }, second: { input: 'h', size: 24 } });
    expect(form('bi')).toBeUndefined();
    expect(weightsMapForm(g.split!.inputs!.map, g.forward.sizes)?.map((o) => [o.output, o.size, o.terms.map((t) => `${t.param}·${t.input}`)])).toEqual([
      ['d_x', 20, ['Wi_T·d_ig_sum_2_carried', 'Wf_T·d_fg_sum_2_carried', 'Wg_T·d_gg_sum_2_carried', 'Wo_T·d_og_sum_2_carried']],
    ]);
    // The loop without d_x is planned because the map has this form (the time-sum kernel does not take it).
    expect(g.loop).toBeDefined();
  });

  it('keeps the gate adjoints the loop\'s sums read four at a time in vec4 workgroup arrays (the tape checks below run it)', () => {
    const g = planned();
    const wgsl = emit(g.loop!).kernels.find((k) => k.label === 'lstm_grad.seq')!.wgsl;
    for (const gate of ['ig', 'fg', 'gg', 'og']) expect(wgsl).toContain(`var<workgroup> let_d_${gate}_sum_2: array<vec4<f32>, 6>;`);
    expect(wgsl).toMatch(/let v\d+ = let_d_ig_sum_2\[vk4_\d+\];/);
    expect(wgsl).toMatch(/let_d_ig_sum_2\[e \/ 4u\]\[e % 4u\] = v\d+;/);
  });

  for (const binding of [undefined, 32768])
    it(`matches the float64 tape${binding ? ` in pieces under a ${binding}-byte binding` : ''}`, async () => {
      const { device, shaders, passes } = recording(withBindingLimit(gpu, binding));
      const g = planned();
      const { errors } = await gpuAgainstTape(device, g, lstm, { batch: 3, T: binding ? 200 : 37, lengths: true, initial: true }, 1e-4);
      expect(shaders.some((s) => s.startsWith('lstm_grad_outer.'))).toBe(true);
      expect(shaders.some((s) => s.startsWith('lstm_grad_map.'))).toBe(true);
      // Under the limit both products' jobs run in pieces of time.
      if (binding) for (const job of ['lstm_grad_outer.', 'lstm_grad_map.']) expect(passes.some((p) => p.startsWith(job) && p.endsWith('piece 1')), job).toBe(true);
      expect(errors.map((e) => e.name)).toEqual(expect.arrayContaining(['grad_x', 'grad_Wi', 'grad_Uo', 'grad_bf', 'grad_h', 'grad_c']));
      for (const e of errors) expect(e.maxErr, `${e.name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(1e-4);
    });

  it('matches the float64 tape with the reductions in whole blocks (the subgroup forms, where the device has subgroups)', async () => {
    // H = 32: d_x's sums over H run in blocks of 32 floats, broadcast; X = 20 leaves a tail of rows.
    const { device, shaders } = recording(gpu);
    const g = planGrad(plan(lstm, analyse(lstm).analysis, { mode: 'seq', dims: { X: 20, H: 32 } }), 'seq');
    const { errors } = await gpuAgainstTape(device, g, lstm, { batch: 2, T: 70, lengths: true, initial: true }, 1e-4);
    expect(shaders.some((s) => s.startsWith('lstm_grad_map.'))).toBe(true);
    for (const e of errors) expect(e.maxErr, `${e.name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(1e-4);
  });

  it('sums in slices of the batch and pieces of time where the partial sums and inputs exceed a binding', async () => {
    const g = planned();
    const acc = g.split!.accumulations.find((a) => a.param === 'Ui')!;
    const compiled = compileOuterSum([acc.module], g.forward.sizes, 'outer', targetOf(gpu.adapter).subgroups);
    const [batch, T, H] = [3, 150, 24];
    const lengths = Int32Array.of(150, 70, 1);
    const inputs = { d_ig_sum_2_carried: uniformFloats(5, 'a', batch * T * H), h: uniformFloats(5, 'h', batch * T * H) };
    // Two sequences' sums of one chunk per binding: 3 sequences run as 2 slices, the steps in pieces of 16.
    const prepared = compiled.prepare({ batch, T }, { ...gpu.adapter.limits, maxStorageBufferBindingSize: 2 * 4 * H * H });
    const job = prepared.job({ inputs, params: {}, lengths });
    expect(job.passes.filter((p) => p.label?.endsWith('sequences 2-2')).length).toBe(prepared.pieces);
    expect(prepared.pieces).toBeGreaterThan(1);
    const got = prepared.decode((await gpu.run(job)).buffers).sums['d_Ui']!;
    let worst = 0;
    for (let b = 0; b < batch; b++)
      for (let k = 0; k < H; k++)
        for (let m = 0; m < H; m++) {
          let want = 0;
          for (let t = 0; t < lengths[b]!; t++) want += inputs.d_ig_sum_2_carried[(b * T + t) * H + k]! * inputs.h[(b * T + t) * H + m]!;
          worst = Math.max(worst, Math.abs(got[(b * H + k) * H + m]! - want) / (1 + Math.abs(want)));
        }
    expect(worst).toBeLessThan(1e-5);
  });

  it('gives the same gradients as the accumulation cells it replaces', async () => {
    const g = planned();
    const c = { batch: 2, T: 29, lengths: true, initial: false };
    const products = await gpuAgainstTape(gpu, g, lstm, c, 1e-4);
    const cells = await gpuAgainstTape(gpu, g, lstm, c, 1e-4, { outerSum: false });
    for (const name of ['Wi', 'Wf', 'Ug', 'Uo']) {
      const a = products.got.params[name]!;
      const b = cells.got.params[name]!;
      let worst = 0;
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i]! - b[i]!) / (1 + Math.abs(b[i]!)));
      expect(worst, name).toBeLessThan(1e-5);
    }
  });
});
