// Runs a scan plan sequentially on the CPU in float64: per step, the element from the inputs; the
// prefix aggregate folded with the combine; the states from the aggregate and the initial state.
// Checks the plan's meaning (not just its laws) against the reference interpreter, and gives the
// scan backend a CPU model of what its kernels compute.
import { tensorsOf, type Module } from '../ir/ir.js';
import type { DimSizes } from '../ir/dims.js';
import type { ScanPlan } from './types.js';
import { evaluateDefs, type TensorValue } from './evaluate.js';
import { float64Domain } from './domains.js';

export interface FoldData {
  /** Per input, [T, ...dims] of one sequence. */
  inputs: Record<string, ArrayLike<number>>;
  params: Record<string, ArrayLike<number>>;
  /** Per state, [...dims]. */
  initial: Record<string, ArrayLike<number>>;
}

/** The states after T steps of one sequence. */
export function foldPlan(module: Module, plan: ScanPlan, sizes: DimSizes, T: number, data: FoldData): Record<string, number[]> {
  const tensor = (name: string, values: ArrayLike<number>): TensorValue<number> => ({ dims: module.tensors.find((t) => t.name === name)!.dims, data: Array.from(values) });
  const stepLets = module.step.filter((d) => d.kind === 'let' && d.dep !== 'state');
  const params = new Map(Object.entries(data.params).map(([k, v]) => [k, tensor(k, v)]));
  const fieldNames = plan.fields.map((f) => f.target);
  const pick = (values: Map<string, TensorValue<number>>) => new Map(fieldNames.map((f) => [f, values.get(f)!]));

  let aggregate = pick(evaluateDefs(plan.identity, () => undefined, sizes, float64Domain));
  // Logical step t is at position t, or T-1-t in a reversed cell and for a bidirectional cell's reversed loads.
  const inputsAt = (position: number) =>
    new Map(
      tensorsOf(module, 'input').map((x) => {
        const n = x.dims.reduce((p, d) => p * sizes[d]!, 1);
        return [x.name, tensor(x.name, Array.from(data.inputs[x.name]!).slice(position * n, (position + 1) * n))];
      }),
    );
  for (let t = 0; t < T; t++) {
    const forward = inputsAt(module.reversed ? T - 1 - t : t);
    const backward = inputsAt(T - 1 - t);
    const element = pick(evaluateDefs([...stepLets, ...plan.fields], (source, name, reversed) => (source === 'input' ? (reversed ? backward : forward).get(name) : source === 'param' ? params.get(name) : undefined), sizes, float64Domain));
    const left = aggregate;
    aggregate = pick(evaluateDefs(plan.combine, (source, name) => (source === 'left' ? left.get(name) : source === 'right' ? element.get(name) : undefined), sizes, float64Domain));
  }
  const initial = new Map(Object.entries(data.initial).map(([k, v]) => [k, tensor(k, v)]));
  // A monoid's apply is its combine with `left` the initial state; its lets come along.
  const lets = plan.combine.filter((d) => d.kind === 'let');
  const finalValues = evaluateDefs([...lets, ...plan.apply], (source, name) => (source === 'right' ? aggregate.get(name) : source === 'state' || source === 'left' ? initial.get(name.split('.')[0]!) : undefined), sizes, float64Domain);
  return Object.fromEntries(tensorsOf(module, 'state').map((s) => [s.name, finalValues.get(s.name)!.data]));
}
