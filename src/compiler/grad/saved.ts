// The forward cell with the states it must save for the backward step: one output per state, the
// state before the step (`load state.old`), so a forward run gives the backward step its inputs.
import { tensorsOf, type Def, type Module } from '../ir/ir.js';
import { Names } from './build.js';

export interface SavingModule {
  module: Module;
  /** Forward state → the output holding its value before each step ([batch, T, ...dims]). */
  saved: Map<string, string>;
}

export function withSavedStates(m: Module): SavingModule {
  const names = new Names(m.tensors.map((t) => t.name));
  const saved = new Map<string, string>();
  const defs: Def[] = tensorsOf(m, 'state').map((s) => {
    const target = names.fresh(`${s.name}_saved`);
    saved.set(s.name, target);
    const vars = s.dims.map((dim, k) => ({ name: `i${k}`, dim }));
    const index = vars.map((v) => v.name);
    return {
      kind: 'output',
      target,
      vars,
      nodes: [{ id: 0, op: 'load', source: 'state', tensor: s.name, index, version: 'old', type: 'f32', space: index, dep: 'state', span: s.span }],
      root: 0,
      dep: 'state',
      phase: 'core',
      span: s.span,
    };
  });
  const tensors = [...m.tensors, ...tensorsOf(m, 'state').map((s) => ({ name: saved.get(s.name)!, role: 'output' as const, dims: s.dims, span: s.span }))];
  // Its own name: its kernels and files sit beside the forward cell's.
  return { module: { ...m, name: `${m.name}_saving`, tensors, step: [...defs, ...m.step] }, saved };
}
