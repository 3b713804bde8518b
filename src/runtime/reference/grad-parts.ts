// The gradients of a bidirectional cell from those of its two parts (src/compiler/ir/split-directions.ts),
// for any runner (the reference here, the GPU in src/driver/grad.ts). The parts meet only in inputs,
// params and lets of params, so the loss Σ upstream · outputs + Σ upstream · final states is the sum
// of the parts' losses: each part takes the upstream gradients of its own outputs and final states
// (they keep their names), an input's and a param's gradient is the sum of the parts' (0 where
// neither reads it), and each initial state's gradient is its part's.
import { tensorsOf, type Module } from '../../compiler/ir/ir.js';
import { tensorSize } from '../../compiler/ir/dims.js';
import type { CellShape, FloatArray, Gradients } from '../bptt.js';

export interface PartGradients<A extends FloatArray> {
  module: Module;
  gradients: Gradients<A>;
}

/** One cell's gradients from its parts': sums for inputs and params, each state's and output's from its part. */
export function joinPartGradients<A extends FloatArray>(m: Module, shape: Pick<CellShape, 'batch' | 'T' | 'sizes'>, parts: PartGradients<A>[], zeros: (n: number) => A): Gradients<A> {
  const size = (name: string) => tensorSize(m.tensors.find((t) => t.name === name)!, shape.sizes);
  const sum = (names: string[], per: number, of: (g: Gradients<A>) => Record<string, A>): Record<string, A> =>
    Object.fromEntries(
      names.map((name) => {
        const total = zeros(per * size(name));
        for (const p of parts) {
          const g = of(p.gradients)[name];
          if (g) for (let i = 0; i < total.length; i++) total[i] = total[i]! + g[i]!;
        }
        return [name, total];
      }),
    );
  const owned = (of: (g: Gradients<A>) => Record<string, A>) => Object.assign({}, ...parts.map((p) => of(p.gradients))) as Record<string, A>;
  return {
    inputs: sum(tensorsOf(m, 'input').map((t) => t.name), shape.batch * shape.T, (g) => g.inputs),
    params: sum(tensorsOf(m, 'param').map((t) => t.name), 1, (g) => g.params),
    initial: owned((g) => g.initial),
    forward: { outputs: owned((g) => g.forward.outputs), final: owned((g) => g.forward.final) },
  };
}
