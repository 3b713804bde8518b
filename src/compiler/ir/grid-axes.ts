// A grid cell seen along one axis (issue 18): the update as a 1-D recurrence along the rows (in
// `h.left`, with `h.up` held fixed) or along the columns (in `h.up`, with `h.left` held fixed). The
// neighbour along the axis becomes the state before the step; the other neighbour becomes an input
// named `h.up` (or `h.left`), since along this axis it is known before the step. The result is a time
// module that today's analysis classifies unchanged.
import { joinDep, type Def, type Dep, type Module, type Node, type Phase, type Tensor } from './ir.js';

export type GridAxis = 'rows' | 'columns';

/** The neighbour a recurrence along `axis` runs through: along a row, the one to the left. */
export const neighbourAlong = (axis: GridAxis): 'left' | 'up' => (axis === 'rows' ? 'left' : 'up');

/** Whether a definition reads neighbour `which` of any state. */
export const readsNeighbour = (def: Def, which: 'left' | 'up'): boolean => def.nodes.some((n) => n.op === 'load' && n.neighbour === which);

export function alongAxis(m: Module, axis: GridAxis): Module {
  const along = neighbourAlong(axis);
  const fixed = along === 'left' ? 'up' : 'left';
  const fixedName = (state: string) => `${state}.${fixed}`;
  const held = new Map<string, Tensor>();
  const letDeps = new Map<string, Dep>();
  const coreLets = new Set<string>();

  const rewrite = (def: Def): Def => {
    const nodes: Node[] = [];
    for (const n of def.nodes) {
      let node: Node;
      if (n.op === 'load' && n.neighbour === fixed) {
        const state = m.tensors.find((t) => t.name === n.tensor)!;
        if (!held.has(state.name)) held.set(state.name, { name: fixedName(state.name), role: 'input', dims: state.dims, span: state.span });
        const { version: _version, neighbour: _neighbour, ...rest } = n;
        node = { ...rest, source: 'input', tensor: fixedName(state.name), dep: 'input' };
      } else if (n.op === 'load' && n.neighbour === along) {
        const { neighbour: _neighbour, ...rest } = n;
        node = { ...rest, version: 'old' };
      } else if (n.op === 'load' && n.source === 'let') {
        node = { ...n, dep: letDeps.get(n.tensor) ?? n.dep };
      } else if (n.op === 'load' || n.op === 'const') {
        node = n;
      } else {
        node = { ...n, dep: joinDep(...n.args.map((a) => nodes[a]!.dep)) } as Node;
      }
      nodes.push(node);
    }
    const dep = nodes[def.root]!.dep;
    const readsOld = nodes.some((n) => n.op === 'load' && ((n.source === 'state' && n.version === 'old') || (n.source === 'let' && coreLets.has(n.tensor))));
    const phase: Phase = def.kind === 'update' ? 'core' : dep === 'const' || dep === 'param' ? 'invariant' : dep === 'input' ? 'parallel' : readsOld ? 'core' : 'after';
    if (def.kind === 'let' || def.kind === 'output') {
      letDeps.set(def.target, dep);
      if (phase === 'core') coreLets.add(def.target);
    }
    return { ...def, nodes, dep, phase };
  };

  const step = m.step.map(rewrite);
  const { grid: _grid, ...rest } = m;
  return { ...rest, tensors: [...m.tensors, ...held.values()], step };
}
