// The params' gradients out of the backward recurrence. In the backward step a param's accumulator
// `d_W <- d_W + e` is a sum over time of a per-step value: no step needs an earlier step's sum. Kept
// in the backward cell, it couples a state of |W| elements to the adjoint recurrence, so the cell is
// sequential (the analysis calls it coupled) and every step pays for |W| in the loop. Split, the
// backward cell keeps only the adjoint states and writes, per step, the state-dependent values the
// accumulators read ("carried": the gate adjoints of an LSTM, the new adjoint of a Mamba state);
// each accumulator becomes a cell of its own whose one state is the sum, reading the carried values
// as inputs. That cell's update is `d_W <- d_W + e(inputs)`: diagonal (+, ×) with a = 1, so the
// planner can give it a parallel scan, or a sequential loop with one unit per element of W — and a
// sum does not care that the steps arrive reversed.
import { joinDep, type Def, type Dep, type Module, type Node, type Tensor } from '../ir/ir.js';
import { Names, withoutUnreadLets } from './build.js';
import type { BackwardStep } from './reverse.js';

export interface Accumulation {
  param: string;
  /** The backward state that accumulates the param's gradient (from 0, per sequence). */
  adjoint: string;
  /** The cell: one state (`adjoint`), inputs read from the backward cell's inputs and the carried values. */
  module: Module;
}

/**
 * The inputs' gradients out of the recurrence too: `loop` is `adjoint` without them, and `map` computes
 * them per step from the carried values, inputs and params (outputs only, no state: a map over time,
 * which a runner may run beside the params' sums). LSTM's `d_x = Σk W_T[j, k]·d_z[k]` reads only the
 * gate adjoints the backward cell writes for the params' sums anyway.
 */
export interface InputsMap {
  loop: Module;
  map: Module;
}

export interface SplitBackward {
  /** The backward cell without the accumulators: the adjoint states, the inputs' gradients, and the carried values as outputs. */
  adjoint: Module;
  /** Where every input's gradient reads the state only through carried values: the cell without them, and their map. */
  inputs?: InputsMap;
  /** Carried value (a let of the backward cell, or a state adjoint's value) → the output of `adjoint` that holds it per step. */
  carried: Map<string, string>;
  accumulations: Accumulation[];
}

type Load = Extract<Node, { op: 'load' }>;

const loadsOf = (d: Def): Load[] => d.nodes.filter((n): n is Load => n.op === 'load');

/** The same definition with its nodes' dependences recomputed from `depOfLoad` (loads) and their operands. */
export function redep(def: Def, depOfLoad: (n: Load) => Dep): Def {
  const nodes: Node[] = [];
  for (const n of def.nodes) {
    const dep = n.op === 'load' ? depOfLoad(n) : n.op === 'const' ? 'const' : joinDep(...n.args.map((a) => nodes[a]!.dep));
    nodes.push({ ...n, dep } as Node);
  }
  return { ...def, nodes, dep: nodes[def.root]!.dep };
}

/** Splits the backward step's param accumulators into cells of their own; undefined when it has none. */
export function splitAccumulators(step: BackwardStep): SplitBackward | undefined {
  const m = step.module;
  const accumulatorOf = new Map(step.roles.paramAdjoints.map((r) => [r.adjoint, r.param]));
  const accDefs = m.step.filter((d) => d.kind === 'update' && accumulatorOf.has(d.target));
  if (accDefs.length === 0) return undefined;
  const names = new Names(m.tensors.map((t) => t.name));
  const tensorOf = new Map(m.tensors.map((t) => [t.name, t]));
  const lets = new Map(m.step.filter((d) => d.kind === 'let').map((d) => [d.target, d]));

  // What one accumulator reads: the lets it needs (state-independent ones are recomputed in its
  // cell, state-dependent ones carried), the inputs, params, and adjoint states it loads.
  const carried = new Map<string, string>();
  const carriedDefs: Def[] = [];
  const carry = (key: string, dims: string[], load: Load, span: Def['span'], phase: Def['phase']): string => {
    const known = carried.get(key);
    if (known !== undefined) return known;
    const out = names.fresh(`${key.replace(/[^A-Za-z0-9_]/g, '_')}_carried`);
    carried.set(key, out);
    const vars = dims.map((dim, k) => ({ name: `i${k}`, dim }));
    const index = vars.map((v) => v.name);
    carriedDefs.push({
      kind: 'output',
      target: out,
      vars,
      nodes: [{ ...load, id: 0, index, space: index }],
      root: 0,
      dep: 'state',
      phase,
      span,
    });
    return out;
  };

  /** A cell of the definitions `roots` (rewritten to read carried values) and the non-state lets they need, recomputed. */
  const cellOf = (roots: Def[], name: string, own: Tensor[]): Module => {
    const copied: Def[] = [];
    const seen = new Set<string>();
    // Rewrites a definition: loads of carried values become input loads of the carried output.
    const rewrite = (d: Def): Def => {
      const nodes = d.nodes.map((n) => {
        if (n.op !== 'load') return n;
        if (n.source === 'let' && lets.get(n.tensor)?.dep === 'state') {
          const l = lets.get(n.tensor)!;
          return { ...n, source: 'input' as const, tensor: carry(n.tensor, l.vars.map((v) => v.dim), { ...n, index: l.vars.map((v) => v.name) }, l.span, l.phase === 'core' ? 'core' : 'after') };
        }
        if (n.source === 'state' && n.tensor !== d.target) {
          const key = `${n.tensor}_${n.version ?? 'old'}`;
          const { version: _, ...rest } = n;
          return { ...rest, source: 'input' as const, tensor: carry(key, tensorOf.get(n.tensor)!.dims, { ...n, index: tensorOf.get(n.tensor)!.dims.map((_, k) => `i${k}`) }, d.span, n.version === 'new' ? 'after' : 'core') };
        }
        return n;
      });
      return redep({ ...d, nodes }, (n) => (n.source === 'state' ? 'state' : n.source === 'param' ? 'param' : n.source === 'let' ? (lets.get(n.tensor)?.dep ?? 'input') : 'input'));
    };
    const need = (d: Def) => {
      for (const n of loadsOf(d)) {
        if (n.source !== 'let' || seen.has(n.tensor)) continue;
        seen.add(n.tensor);
        const l = lets.get(n.tensor)!;
        if (l.dep === 'state') continue; // carried, not recomputed
        need(l);
        copied.push(l);
      }
    };
    for (const r of roots) need(r);
    // Lets in step order (each after what it reads), then the roots.
    const order = new Map(m.step.map((d, k) => [d, k]));
    const defs = [...copied].sort((a, b) => order.get(a)! - order.get(b)!);
    // A root that no longer reads a state (the map's outputs) is time-parallel, as the lowering would phase it.
    const phased = (d: Def): Def => (d.kind === 'update' || d.dep === 'state' ? d : { ...d, phase: d.dep === 'input' ? 'parallel' : 'invariant' });
    const step = [...defs, ...roots.map(rewrite).map(phased)];
    const used = new Set(step.flatMap((d) => loadsOf(d).map((n) => `${n.source}:${n.tensor}`)));
    const tensors: Tensor[] = [
      ...m.tensors.filter((t) => (t.role === 'input' || t.role === 'param') && used.has(`${t.role}:${t.name}`)),
      ...[...new Set(step.flatMap((d) => loadsOf(d).filter((n) => n.source === 'input' && !tensorOf.has(n.tensor)).map((n) => n.tensor)))].map(
        (name) => ({ name, role: 'input' as const, dims: carriedDefs.find((c) => c.target === name)!.vars.map((v) => v.dim), span: roots[0]!.span }),
      ),
      ...own,
      ...defs.map((d) => tensorOf.get(d.target)!),
    ];
    return { name, dims: m.dims, tensors, step, structures: [] };
  };

  const accumulations: Accumulation[] = accDefs.map((acc) => {
    const param = accumulatorOf.get(acc.target)!;
    return { param, adjoint: acc.target, module: cellOf([acc], `${m.name}_${param}`, [tensorOf.get(acc.target)!]) };
  });
  // The inputs' gradients as a map, where none reads a state but through values carried anyway (the
  // params' sums carry them): carrying more per step for them would cost the loop what it saves.
  const carriedBefore = new Set(carried.keys());
  const inputAdjoints = new Set(step.roles.inputAdjoints.map((r) => r.adjoint));
  const outputDefs = m.step.filter((d) => d.kind === 'output' && inputAdjoints.has(d.target));
  const map = outputDefs.length ? cellOf(outputDefs, `${m.name}_inputs`, outputDefs.map((d) => tensorOf.get(d.target)!)) : undefined;
  const mapCarriesMore = [...carried.keys()].some((k) => !carriedBefore.has(k));

  // The backward cell without the accumulators, and the lets only they read.
  const accTargets = new Set(accDefs.map((d) => d.target));
  const cell = (defs: Def[], carriedOut: Def[]): Module => {
    const lets = new Set(defs.filter((d) => d.kind === 'let').map((d) => d.target));
    const targets = new Set(defs.map((d) => d.target));
    return {
      ...m,
      tensors: [
        ...m.tensors.filter((t) => !accTargets.has(t.name) && (t.role !== 'let' || lets.has(t.name)) && (t.role !== 'output' || targets.has(t.name))),
        ...carriedOut.map((c) => ({ name: c.target, role: 'output' as const, dims: c.vars.map((v) => v.dim), span: c.span })),
      ],
      step: defs,
    };
  };
  if (mapCarriesMore) {
    // Undo what the map carried: the one-cell schedule does not write it.
    for (const k of [...carried.keys()]) if (!carriedBefore.has(k)) carried.delete(k);
    carriedDefs.splice(0, carriedDefs.length, ...carriedDefs.filter((c) => [...carried.values()].includes(c.target)));
  }
  const body = [...m.step.filter((d) => !accTargets.has(d.target)), ...carriedDefs];
  const adjoint = cell(withoutUnreadLets(body).kept, carriedDefs);
  const loopDefs = withoutUnreadLets(body.filter((d) => !(d.kind === 'output' && inputAdjoints.has(d.target)))).kept;
  const inputs = map && !mapCarriesMore ? { loop: cell(loopDefs, carriedDefs), map } : undefined;
  return { adjoint, carried, accumulations, ...(inputs ? { inputs } : {}) };
}

/** The name of a param's accumulation cell, for the runner (the adjoint cell is 'backward'). */
export const accumulationCell = (param: string): `accumulate:${string}` => `accumulate:${param}`;
