// Evaluating the compiler's backward step (src/compiler/grad/) in float64 with the reference
// interpreter: backpropagation through time on the schedule every runner shares (../bptt.ts), so the
// tests that check it against the tape (grad.ts) check the schedule the GPU runs too.
import { tensorsOf, type Module } from '../../compiler/ir/ir.js';
import { splitDirections } from '../../compiler/ir/split-directions.js';
import { joinPartGradients } from './grad-parts.js';
import { differentiate, type BackwardStep } from '../../compiler/grad/reverse.js';
import { withSavedStates } from '../../compiler/grad/saved.js';
import { gateBackward } from '../../compiler/grad/gate.js';
import { accumulationCell, splitAccumulators } from '../../compiler/grad/split.js';
import { backpropagate, type BpttOptions, type CellRunner, type GradCell, type Upstream } from '../bptt.js';
import { interpret, type RunData, type RunShape } from './interpreter.js';
import type { GradResult } from './grad.js';

export interface BackwardOptions extends BpttOptions {
  /** 'f32' rounds every node result to float32, forward and backward (what a GPU backward kernel would compute). */
  precision?: 'f64' | 'f32';
  /** false: keep the param accumulators in the backward cell (the split is the default, as on the GPU). */
  split?: boolean;
  /** true: the gated backward (grad/gate.ts) where the cell takes it, as the GPU runs it: the walk, core and gate cells. */
  gated?: boolean;
}

/**
 * A bidirectional cell runs as its two parts (src/compiler/ir/split-directions.ts), each on its own
 * inputs, params and initial states and the upstream gradients of its own outputs and states, and
 * their gradients join (grad-parts.ts); `backward`, if given, is then ignored (each part has its own).
 */
export async function interpretBackward(m: Module, shape: RunShape, data: RunData, upstream: Upstream = {}, backward?: BackwardStep, options: BackwardOptions = {}): Promise<GradResult> {
  const parts = splitDirections(m);
  if (!parts) return interpretOne(m, shape, data, upstream, backward ?? differentiate(m), options);
  const zeros = (n: number) => new Float64Array(n);
  const got = [];
  for (const { module } of parts) got.push({ module, gradients: await interpretOne(module, shape, partRunData(module, data), upstream, differentiate(module), options) });
  return joinPartGradients(m, shape, got, zeros);
}

/** A part's share of the cell's data: the inputs, params and initial states it declares. */
export function partRunData(part: Module, data: RunData): RunData {
  const pick = (from: RunData['inputs'] | undefined, role: 'input' | 'param' | 'state') => Object.fromEntries(tensorsOf(part, role).flatMap((t) => (from?.[t.name] ? [[t.name, from[t.name]!]] : [])));
  return { inputs: pick(data.inputs, 'input'), params: pick(data.params, 'param'), ...(data.initial ? { initial: pick(data.initial, 'state') } : {}) };
}

async function interpretOne(m: Module, shape: RunShape, data: RunData, upstream: Upstream, backward: BackwardStep, options: BackwardOptions): Promise<GradResult> {
  const saving = withSavedStates(m);
  const split = options.split === false ? undefined : splitAccumulators(backward);
  const modules = new Map<GradCell, Module>([
    ['forward', m],
    ['saving', saving.module],
    ['backward', split?.adjoint ?? backward.module],
    ...(split?.accumulations ?? []).map((a): [GradCell, Module] => [accumulationCell(a.param), a.module]),
  ]);
  const gated = options.gated ? gateBackward(backward, m) : undefined;
  if (gated) for (const [cell, module] of [['walk', gated.walk], ['core', gated.core], ['gate', gated.gate]] as const) modules.set(cell, module);
  const precision = { precision: options.precision ?? 'f64' };
  const runner: CellRunner<Float64Array> = {
    zeros: (n) => new Float64Array(n),
    run: async (cell, sh, d) => interpret(modules.get(cell)!, sh, d, precision),
  };
  return backpropagate(m, { backward, saving, ...(split ? { split } : {}), ...(gated ? { gated } : {}) }, runner, shape, data, upstream, options);
}
