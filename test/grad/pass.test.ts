// The compiler's reverse-mode pass (src/compiler/grad/): its backward step, evaluated by the reference
// interpreter over the reversed sequence (src/runtime/reference/grad-step.ts), equals the reference
// reverse mode (a scalar tape, src/runtime/reference/grad.ts) on every example, to rounding; with
// checkpoints, to the bit.
import { describe, expect, it } from 'vitest';
import { bindDims, tensorSize } from '../../src/compiler/ir/dims.js';
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';
import { differentiate } from '../../src/compiler/grad/reverse.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { interpretGrad } from '../../src/runtime/reference/grad.js';
import { interpretBackward } from '../../src/runtime/reference/grad-step.js';
import { backpropagate, backwardParams, type CellRunner, type GradCell } from '../../src/runtime/bptt.js';
import { accumulationCell, splitAccumulators } from '../../src/compiler/grad/split.js';
import { withSavedStates } from '../../src/compiler/grad/saved.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { randomRunData, uniformFloats } from '../../src/driver/data.js';
import { casesFor, gradCellFiles as cellFiles, moduleAt } from './helpers.js';

/** |a - b| ≤ 1e-12 · the largest |a| of the tensor (the reverse modes sum in different orders). */
function expectClose(what: string, a: Float64Array, b: Float64Array): void {
  expect(b.length, what).toBe(a.length);
  const scale = Math.max(1, ...Array.from(a, Math.abs));
  for (let i = 0; i < a.length; i++) {
    if (!(Math.abs(a[i]! - b[i]!) <= 1e-12 * scale)) throw new Error(`${what}[${i}]: reference ${a[i]}, pass ${b[i]} (scale ${scale})`);
  }
}

describe.each(cellFiles)('%s', (_label, url) => {
  const m = moduleAt(url);
  const backward = differentiate(m);

  it('the backward step is well-formed IR', () => {
    expect(verifyModule(backward.module)).toEqual([]);
  });

  it.each(casesFor(m, bindDims(m)).map((c) => [c.label, c] as const))('%s: the backward step gives the reference gradients', async (_l, c) => {
    const reference = interpretGrad(m, c.shape, c.data, c.upstream);
    const pass = await interpretBackward(m, c.shape, c.data, c.upstream, backward);
    for (const [kind, of] of [['inputs', reference.inputs], ['params', reference.params], ['initial', reference.initial]] as const) {
      for (const [name, a] of Object.entries(of)) expectClose(`${kind} ${name}`, a, pass[kind][name]!);
    }
  });

  it('checkpointing (a state saved every C steps, the steps between recomputed) gives the same gradients, to the bit', async () => {
    const c = casesFor(m, bindDims(m))[2]!;
    const all = await interpretBackward(m, c.shape, c.data, c.upstream, backward);
    for (const C of [1, 4, 5]) {
      const checkpointed = await interpretBackward(m, c.shape, c.data, c.upstream, backward, { checkpoint: C });
      for (const kind of ['inputs', 'params', 'initial'] as const) expect(checkpointed[kind], `C = ${C}: ${kind}`).toEqual(all[kind]);
      expect(checkpointed.forward).toEqual(all.forward);
    }
  });
});

describe('the backward step in float32 (every node rounded, as a GPU kernel would compute)', () => {
  // The target for the backward kernels is 1e-4 relative at T = 1,000; measured here at
  // T = 1,000 the worst tensor is LSTM's, 2.6e-6 (norm-wise: max error over max magnitude).
  it.each(cellFiles)('%s: within 1e-5 of float64, norm-wise, at T = 300', async (_label, url) => {
    const m = moduleAt(url);
    const shape = { batch: 2, T: 300, sizes: bindDims(m) };
    const data = randomRunData(m, shape, 5, { initial: true });
    const upstream = { outputs: Object.fromEntries(tensorsOf(m, 'output').map((o) => [o.name, uniformFloats(5, `grad:${o.name}`, 2 * 300 * tensorSize(o, shape.sizes))])) };
    const backward = differentiate(m);
    const f64 = await interpretBackward(m, shape, data, upstream, backward);
    const f32 = await interpretBackward(m, shape, data, upstream, backward, { precision: 'f32' });
    for (const kind of ['inputs', 'params', 'initial'] as const) {
      for (const [name, a] of Object.entries(f64[kind])) {
        const b = f32[kind][name]!;
        const scale = Math.max(...Array.from(a, Math.abs));
        const error = Math.max(0, ...Array.from(a, (v, i) => Math.abs(v - b[i]!)));
        expect(error, `${kind} ${name}`).toBeLessThanOrEqual(1e-5 * scale);
      }
    }
  });
});

describe('the structure analysis on backward cells', () => {
  // The state adjoint of an affine cell is affine again (the transposed transition): what a reverse scan will run.
  const expected: Record<string, string> = {
    'examples/mamba_s6': 'd_h affine diagonal',
    'examples/gla': 'd_S affine diagonal',
    'examples/lru': 'd_x affine diagonal',
    'examples/mingru': 'd_h affine diagonal',
    'examples/deltanet': 'd_S affine lowrank',
    'examples/maxplus': 'd_score affine dense',
    'bench/cells/cumsum': 'd_h affine diagonal',
    'bench/cells/affine': 'd_h affine diagonal',
    'examples/lstm': 'd_h coupled',
  };
  it.each(cellFiles.filter(([label]) => label in expected))('%s', (label, url) => {
    const { analysis } = analyse(differentiate(moduleAt(url)).module);
    const [state, kind, transition] = expected[label]!.split(' ');
    const report = analysis.states.find((s) => s.state === state)!;
    expect(report.classification.kind).toBe(kind);
    if (report.classification.kind === 'affine') {
      expect(report.classification.semiring).toBe('sum_prod');
      expect(report.classification.transition.kind).toBe(transition);
    }
  });
});

describe('params read transposed (transposeParamReads)', () => {
  // The adjoint of `U·h` sums a column of U; read as `U_T[m, k]` its terms are consecutive, as the
  // forward's row reads are (the seq kernel's vec4 loads). The values are the same: the runs above
  // (pass = tape, checkpoints to the bit) already take the transposes through backwardParams.
  const m = moduleAt(cellFiles.find(([label]) => label === 'examples/lstm')![1]);
  const step = differentiate(m);
  const paramLoads = (target: string) =>
    step.module.step.find((d) => d.target === target)!.nodes.flatMap((n) => (n.op === 'load' && n.source === 'param' ? [`${n.tensor}[${n.index.join(', ')}]`] : []));

  it('LSTM reads U in d_h and W in d_x through their transposes, and nothing else transposed', () => {
    expect(step.roles.transposedParams).toEqual(['Ui', 'Uf', 'Ug', 'Uo', 'Wi', 'Wf', 'Wg', 'Wo'].map((of) => ({ param: `${of}_T`, of })));
    expect(paramLoads('d_h')).toEqual(['Ui_T[m, k]', 'Uf_T[m, k]', 'Ug_T[m, k]', 'Uo_T[m, k]']);
    expect(paramLoads('d_x')).toEqual(['Wi_T[j, k]', 'Wf_T[j, k]', 'Wg_T[j, k]', 'Wo_T[j, k]']);
    // The primal's products read rows, as the forward does.
    expect(paramLoads('ig_sum_2')).toEqual(['Ui[k, m]']);
    expect(step.module.tensors.filter((t) => t.name.endsWith('_T')).map((t) => `${t.name}[${t.dims.join(', ')}] ${t.role}`)).toEqual([
      ...['Ui', 'Uf', 'Ug', 'Uo'].map((p) => `${p}_T[H, H] param`),
      ...['Wi', 'Wf', 'Wg', 'Wo'].map((p) => `${p}_T[X, H] param`),
    ]);
    expect(verifyModule(step.module)).toEqual([]);
  });

  it('backwardParams gives each transpose row-major beside the params, in their precision', () => {
    const sizes = { X: 2, H: 3 };
    const params = Object.fromEntries(tensorsOf(m, 'param').map((p) => [p.name, Float64Array.from({ length: tensorSize(p, sizes) }, (_, i) => i)]));
    const got = backwardParams(m, step.roles, params, sizes);
    expect(Array.from(got['Wi_T']!)).toEqual([0, 2, 4, 1, 3, 5]);
    expect(got['Wi_T']).toBeInstanceOf(Float64Array);
    expect(got['Ui']).toBe(params['Ui']);
  });
});

describe("the inputs' gradients as a map beside the params' sums (split.inputs)", () => {
  // What runGrad runs for a seq backward (GradCompilation.loop): the backward cell without d_x, and
  // d_x a map over time of the carried gate adjoints, computed in the params' sums job.
  it.each(['examples/lstm', 'examples/gru', 'examples/maxplus'])('%s: the loop and the map give the one-cell gradients, with and without checkpoints', async (label) => {
    const m = moduleAt(cellFiles.find(([l]) => l === label)![1]);
    const step = differentiate(m);
    const split = splitAccumulators(step)!;
    expect(split.inputs).toBeDefined();
    const { loop, map } = split.inputs!;
    const grads = step.roles.inputAdjoints.map((r) => r.adjoint);
    expect(loop.tensors.filter((t) => grads.includes(t.name))).toEqual([]);
    expect(map.tensors.filter((t) => t.role === 'output').map((t) => t.name)).toEqual(grads);
    expect(map.tensors.some((t) => t.role === 'state')).toBe(false);
    expect([verifyModule(loop), verifyModule(map)]).toEqual([[], []]);
    const saving = withSavedStates(m);
    const modules = new Map<GradCell, Module>([['forward', m], ['saving', saving.module], ['backward', loop], ...split.accumulations.map((a): [GradCell, Module] => [accumulationCell(a.param), a.module])]);
    const runner: CellRunner<Float64Array> = {
      zeros: (n) => new Float64Array(n),
      run: async (cell, sh, d) => interpret(modules.get(cell)!, sh, d),
      // The map's outputs only (the accumulations run as cells).
      sumOverTime: async (_a, sh, inputs, params) => interpret(map, sh, { inputs: Object.fromEntries(map.tensors.filter((t) => t.role === 'input').map((t) => [t.name, inputs[t.name]!])), params }).outputs,
    };
    const c = casesFor(m, bindDims(m)).at(-1)!;
    const want = await interpretBackward(m, c.shape, c.data, c.upstream, step);
    for (const checkpoint of [undefined, 5]) {
      const got = await backpropagate(m, { backward: step, saving, split }, runner, c.shape, c.data, c.upstream, checkpoint ? { checkpoint } : {});
      for (const kind of ['inputs', 'params', 'initial'] as const) for (const [name, a] of Object.entries(want[kind])) expectClose(`C=${checkpoint} ${kind} ${name}`, a, got[kind][name]!);
    }
  });
});
