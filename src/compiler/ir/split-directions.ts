// A bidirectional cell (a forward cell with a `reversed { ... }` block) as its two directions: the
// forward statements as one ordinary forward module, the block as one ordinary reversed module
// (`Module.reversed`). The checker guarantees the parts meet only in inputs, params and lets of params
// (RNN0505-0507, check/directions.ts), so each part holds everything it reads: the inputs and params
// it loads, its own states, lets and outputs, and the lets of params of the other part it reads (a
// copy: computed once per part, outside the time loop). The two run independently, each in its own
// direction, and their outputs (which keep their names) join per step.
//
// The driver runs a bidirectional cell so where a mode or a run takes one direction of time only
// (chunk, newton, pieces of time); seq and scan run the fused cell as one kernel.
import type { Def, Module, Node, Tensor } from './ir.js';

export type Direction = 'forward' | 'reversed';

export interface DirectionPart {
  direction: Direction;
  module: Module;
}

/** Whether a module has a `reversed { ... }` block beside its forward statements. */
export const hasReversedBlock = (m: Pick<Module, 'tensors'>): boolean => m.tensors.some((t) => t.reversed === true);

/** The name of a part's module: the cell's, with the direction after it. */
export const partName = (cell: string, direction: Direction): string => `${cell}_${direction}`;

const loadsOf = (d: Def): Extract<Node, { op: 'load' }>[] => d.nodes.filter((n): n is Extract<Node, { op: 'load' }> => n.op === 'load');

/** A definition without the block's flag on its input loads: in a part of its own, the direction is the module's. */
function unflagged(d: Def): Def {
  if (!d.nodes.some((n) => n.op === 'load' && n.reversed)) return d;
  return {
    ...d,
    nodes: d.nodes.map((n) => {
      if (n.op !== 'load' || !n.reversed) return n;
      const { reversed: _, ...rest } = n;
      return rest;
    }),
  };
}

function part(m: Module, direction: Direction): Module {
  const tensorOf = new Map(m.tensors.map((t) => [t.name, t]));
  const own = (t: Tensor | undefined): boolean => t !== undefined && (t.reversed === true) === (direction === 'reversed');
  // The part's own definitions (its states' updates, lets and outputs), then the lets they read from
  // the other part, until nothing new is read (only lets of params, by RNN0506).
  const included = new Set(m.step.filter((d) => own(tensorOf.get(d.target))));
  for (let grew = true; grew; ) {
    grew = false;
    for (const d of [...included])
      for (const n of loadsOf(d)) {
        if (n.source !== 'let') continue;
        const def = m.step.find((x) => x.kind === 'let' && x.target === n.tensor);
        if (def && !included.has(def)) {
          included.add(def);
          grew = true;
        }
      }
  }
  const step = m.step.filter((d) => included.has(d)).map(unflagged);
  const defined = new Set(step.filter((d) => d.kind !== 'update').map((d) => d.target));
  const read = new Set(step.flatMap((d) => loadsOf(d).filter((n) => n.source === 'input' || n.source === 'param').map((n) => n.tensor)));
  const states = m.tensors.filter((t) => t.role === 'state' && own(t));
  for (const s of states) if (s.init?.kind === 'param') read.add(s.init.name);
  const keep = (t: Tensor): boolean => {
    switch (t.role) {
      case 'input':
      case 'param':
        return read.has(t.name);
      case 'state':
        return own(t);
      case 'let':
      case 'output':
        return defined.has(t.name);
    }
  };
  const stateNames = new Set(states.map((s) => s.name));
  return {
    name: partName(m.name, direction),
    ...(direction === 'reversed' ? { reversed: true as const } : {}),
    dims: m.dims,
    tensors: m.tensors.filter(keep).map(({ reversed: _, ...t }) => t),
    step,
    // A structure declared for one state goes with it; one for every state, to both parts.
    structures: m.structures.filter((s) => s.state === undefined || stateNames.has(s.state)),
  };
}

/**
 * The forward part and the reversed part of a bidirectional module, each an ordinary module; their
 * outputs together are the cell's, under the same names, and so are their states. Undefined for a
 * module without a `reversed { ... }` block.
 */
export function splitDirections(m: Module): DirectionPart[] | undefined {
  if (!hasReversedBlock(m) || m.reversed || m.grid || m.monoid) return undefined;
  return (['forward', 'reversed'] as const).map((direction) => ({ direction, module: part(m, direction) }));
}
