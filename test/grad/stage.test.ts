// The backward step of every cell the pass differentiates, in two stages (src/compiler/grad/stage.ts): the adjoint recurrence alone (`core`),
// then the rest of the step from its per-step values (`rest`: the inputs' gradients and the params'
// sums over time). Run in float64 by the reference interpreter on the shared schedule (bptt.ts), with
// checkpoints too, the stages give the one-cell backward step's gradients to rounding on every cell
// that stages; the rest is a map and sum over time (what backends/wgsl-reduce/time-sum.ts takes), and
// the core of a diagonal scan cell is a diagonal recurrence the planner scans. The core also runs as a
// reversed cell on data in forward order (what runGrad runs), to the same gradients.
import { describe, expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';
import { differentiate } from '../../src/compiler/grad/reverse.js';
import { withSavedStates } from '../../src/compiler/grad/saved.js';
import { restWorthStaging, stageBackward } from '../../src/compiler/grad/stage.js';
import { plan } from '../../src/driver/compile.js';
import { compileTimeSum, isStepMap, timeSumFits } from '../../backends/wgsl-reduce/time-sum.js';
import { planGrad } from '../../src/driver/grad.js';
import { backpropagate, type CellRunner, type GradCell } from '../../src/runtime/bptt.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { interpretBackward } from '../../src/runtime/reference/grad-step.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { casesFor, gradCellFiles as cellFiles, moduleAt } from './helpers.js';

function expectClose(what: string, a: Float64Array, b: Float64Array): void {
  expect(b.length, what).toBe(a.length);
  const scale = Math.max(1, ...Array.from(a, Math.abs));
  for (let i = 0; i < a.length; i++) if (!(Math.abs(a[i]! - b[i]!) <= 1e-12 * scale)) throw new Error(`${what}[${i}]: one cell ${a[i]}, staged ${b[i]} (scale ${scale})`);
}

const SCANNED = ['examples/lru', 'examples/mamba_s6', 'examples/gla', 'examples/mingru', 'bench/cells/cumsum'];

describe.each(cellFiles)('%s', (label, url) => {
  const m = moduleAt(url);
  const step = differentiate(m);
  const stages = stageBackward(step, m);

  it('stages, as well-formed IR, the rest a map and sum over time', () => {
    expect(stages).toBeDefined();
    expect(verifyModule(stages!.core)).toEqual([]);
    expect(verifyModule(stages!.rest)).toEqual([]);
    expect(isStepMap(stages!.rest)).toBe(true);
    expect(stages!.core.tensors.filter((t) => t.role === 'state').map((t) => t.name).sort()).toEqual(step.roles.stateAdjoints.map((r) => r.adjoint).sort());
  });

  if (SCANNED.includes(label))
    it('its core is planned as a scan', () => {
      const { analysis } = analyse(stages!.core);
      expect(plan(stages!.core, analysis, { mode: 'auto' }).plan.mode).toBe('scan');
    });

  // What runGrad runs (src/driver/grad.ts): the core walks time backward itself, one thread holding
  // every lane; the rest's kernel evaluates each step straight-line (its short sums unrolled), with
  // one loop, over the steps.
  if (['examples/lru', 'examples/mamba_s6'].includes(label))
    it('runGrad plans its core reversed and gathered, and its rest without inner loops', () => {
      const { analysis } = analyse(m);
      const g = planGrad(plan(m, analysis, { mode: 'auto' }), 'auto');
      expect(g.staged?.core.module.reversed).toBe(true);
      expect(g.staged?.core.plan.decision).toMatchObject({ mode: 'scan', layout: 'whole' });
      expect(g.backward.module.reversed).toBe(true);
      const [shader] = compileTimeSum([stages!.rest], g.forward.sizes).shaders;
      expect(shader!.code.match(/for \(/g)).toHaveLength(1);
    });

  if (!stages) return;
  it.each(casesFor(m, bindDims(m)).map((c) => [c.label, c] as const))('%s: the two stages give the one-cell gradients, with and without checkpoints', async (_l, c) => {
    const saving = withSavedStates(m);
    const modules = new Map<GradCell, Module>([
      ['forward', m],
      ['saving', saving.module],
      ['core', stages.core],
    ]);
    const runner: CellRunner<Float64Array> = {
      zeros: (n) => new Float64Array(n),
      run: async (cell, sh, d) => interpret(modules.get(cell)!, sh, d),
      // The rest as a cell: its accumulators from 0, their final values the sums.
      runRest: async (sh, inputs, params) => {
        const r = interpret(stages.rest, sh, { inputs, params });
        return { outputs: r.outputs, sums: r.final };
      },
    };
    // The core as runGrad plans it: a reversed cell, walking each sequence's valid steps backward
    // itself over data in forward order (CellRunner.walksBack), so the schedule reverses nothing.
    const reversedCore = { ...stages.core, reversed: true as const };
    const walking: CellRunner<Float64Array> = { ...runner, run: async (cell, sh, d) => interpret(cell === 'core' ? reversedCore : modules.get(cell)!, sh, d), walksBack: (cell) => cell === 'core' };
    const want = await interpretBackward(m, c.shape, c.data, c.upstream, step);
    for (const [how, r] of [['host-reversed', runner], ['walking back', walking]] as const)
      for (const checkpoint of [undefined, 4]) {
        const got = await backpropagate(m, { backward: step, saving, staged: stages }, r, c.shape, c.data, c.upstream, checkpoint ? { checkpoint } : {});
        for (const kind of ['inputs', 'params', 'initial'] as const) for (const [name, a] of Object.entries(want[kind])) expectClose(`${how} C=${checkpoint} ${kind} ${name}`, a, got[kind][name]!);
      }
  });
});

describe('the time-sum kernel takes only what compiles quickly', () => {
  // GRU X = 64, H = 128: 128 elements in each bias's sum (within TIME_SUM_MAX_ELEMENTS), but 25,728
  // operations a step when a bias's term recomputed the gates; its 200 KB kernel had not compiled
  // after 5 minutes (`rnnc run --grad` hung). A bias's term is now the carried adjoint of its gate's
  // sums (reverse.ts reads the adjoint let with the same expression), one addition per element, so
  // the biases take the time-sum kernel and the weights' sums (8,192 elements and more) do not.
  it('GRU at X = 64, H = 128 sums its weights in scan cells, its biases and all its params at its own sizes in the time-sum kernel', () => {
    const m = moduleAt(new URL('../../examples/gru.rnn', import.meta.url));
    const fitting = (dims: Record<string, number>) => {
      const forward = plan(m, analyse(m).analysis, { mode: 'seq', dims });
      return planGrad(forward, 'seq').accumulations.filter((a) => timeSumFits(a.compilation.module, forward.sizes)).map((a) => a.param);
    };
    expect(fitting({})).toEqual(['Wz', 'Wr', 'Wn', 'Uz', 'Ur', 'Un', 'bz', 'br', 'bn', 'bhn']);
    expect(fitting({ X: 64, H: 128 })).toEqual(['bz', 'br', 'bn', 'bhn']);
  });
});

describe('which staged backwards a run takes by default (restWorthStaging)', () => {
  // Params' sums, or inputs' gradients that sum over the state adjoint: staged. Gradients pointwise in
  // the adjoint (cumsum's, parity's): the one-cell scan writes them, staging would only add traffic.
  it.each([
    ['examples/mamba_s6', true],
    ['examples/lru', true],
    ['examples/gla', true],
    ['bench/cells/cumsum', false],
    ['examples/parity', false],
  ] as const)('%s: %s', (label, want) => {
    const m = moduleAt(new URL(`../../${label}.rnn`, import.meta.url));
    expect(restWorthStaging(stageBackward(differentiate(m), m)!)).toBe(want);
  });
});
