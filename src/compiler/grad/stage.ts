// The backward step in two stages: the recurrence, and a map over time. Everything the backward step
// computes per step — the inputs' gradients, the params' accumulator terms, the adjoint lets they read —
// is a function of that step's inputs, saved states and the state adjoints' values before the step.
// Only the state adjoints' updates are a recurrence. So:
// - `core` keeps the state adjoints' updates and the lets they read, and writes per step each state
//   adjoint's value before the step (its old value, "carried"). For the diagonal scan cells its
//   element is the adjoint alone, and it writes nothing else per step.
// - `rest` is the step with the state adjoints as inputs (the carried values): the inputs' gradients as
//   outputs, the params' accumulators as its only states (`d_W <- d_W + e`, sums over time), and every
//   other let recomputed. Nothing in it depends on an earlier step, so it runs time-parallel, as a map
//   and a reduction (backends/wgsl-reduce/time-sum.ts), in one pass over the steps.
import { type Def, type Dep, type Module, type Node, type Tensor } from '../ir/ir.js';
import { Names, withoutUnreadLets } from './build.js';
import type { BackwardStep } from './reverse.js';
import { redep } from './split.js';

export interface StagedBackward {
  /** The adjoint recurrence: the state adjoints (states), and per step their old values (outputs). */
  core: Module;
  /** State adjoint → the output of `core` and input of `rest` holding its value before each step. */
  carried: Map<string, string>;
  /** The rest of the step: inputs' gradients (outputs) and params' accumulators (states, from 0). */
  rest: Module;
}

type Load = Extract<Node, { op: 'load' }>;

/** The two stages, or undefined where the step does not split so (a monoid, a bidirectional cell, a state adjoint read after its update). */
export function stageBackward(step: BackwardStep, forward?: Module): StagedBackward | undefined {
  const m = step.module;
  if (m.monoid || m.reversed) return undefined;
  // A bidirectional cell's backward block runs the other way: not a recurrence this schedule stages
  // (the driver stages each part). A reversed forward cell stages: its core walks time forward.
  const bidirectional = (x: Module) => x.tensors.some((t) => t.reversed) || x.step.some((d) => d.nodes.some((n) => n.op === 'load' && n.reversed));
  if (bidirectional(m) || (forward && bidirectional(forward))) return undefined;
  const adjoints = new Set(step.roles.stateAdjoints.map((r) => r.adjoint));
  const accumulators = new Set(step.roles.paramAdjoints.map((r) => r.adjoint));
  if (adjoints.size === 0) return undefined;
  const loads = (d: Def) => d.nodes.filter((n): n is Load => n.op === 'load');
  if (m.step.some((d) => loads(d).some((n) => n.source === 'state' && adjoints.has(n.tensor) && n.version === 'new'))) return undefined;
  // An accumulator reads only itself among the states.
  if (m.step.some((d) => d.kind === 'update' && accumulators.has(d.target) && loads(d).some((n) => n.source === 'state' && n.tensor !== d.target))) return undefined;
  const tensorOf = new Map(m.tensors.map((t) => [t.name, t]));
  const names = new Names(m.tensors.map((t) => t.name));
  const carried = new Map([...adjoints].map((a) => [a, names.fresh(`${a}_carried`)]));

  // The core: the adjoint updates and what they read, and the carried old values.
  const carriedDefs: Def[] = [...adjoints].map((a) => {
    const t = tensorOf.get(a)!;
    const vars = t.dims.map((dim, k) => ({ name: `i${k}`, dim }));
    const index = vars.map((v) => v.name);
    const update = m.step.find((d) => d.kind === 'update' && d.target === a)!;
    return {
      kind: 'output',
      target: carried.get(a)!,
      vars,
      nodes: [{ op: 'load', source: 'state', tensor: a, index, version: 'old', id: 0, space: index, dep: 'state', type: 'f32', span: update.span } as Node],
      root: 0,
      dep: 'state',
      phase: 'core',
      span: update.span,
    };
  });
  const coreSteps = withoutUnreadLets([...m.step.filter((d) => d.kind === 'let' || (d.kind === 'update' && adjoints.has(d.target))), ...carriedDefs]).kept;
  const coreReads = new Set(coreSteps.flatMap((d) => loads(d).map((n) => `${n.source}:${n.tensor}`)));
  const coreLets = new Set(coreSteps.filter((d) => d.kind === 'let').map((d) => d.target));
  const core: Module = {
    ...m,
    name: `${m.name}_core`,
    tensors: [
      ...m.tensors.filter((t) => ((t.role === 'input' || t.role === 'param') && coreReads.has(`${t.role}:${t.name}`)) || (t.role === 'state' && adjoints.has(t.name)) || (t.role === 'let' && coreLets.has(t.name))),
      ...[...adjoints].map((a): Tensor => ({ name: carried.get(a)!, role: 'output', dims: tensorOf.get(a)!.dims, span: tensorOf.get(a)!.span })),
    ],
    step: coreSteps,
    structures: [],
  };

  // The rest: the adjoints' loads become loads of the carried inputs.
  const rewrite = (d: Def): Def => {
    const nodes = d.nodes.map((n) => {
      if (n.op !== 'load' || n.source !== 'state' || !adjoints.has(n.tensor)) return n;
      const { version: _, ...rest } = n;
      return { ...rest, source: 'input' as const, tensor: carried.get(n.tensor)! };
    });
    return redep({ ...d, nodes }, (n) => (n.source === 'state' ? 'state' : n.source === 'param' ? 'param' : n.source === 'let' ? (restDep.get(n.tensor) ?? 'input') : 'input'));
  };
  const restDep = new Map<string, Dep>();
  const restSteps: Def[] = [];
  for (const d of m.step) {
    if (d.kind === 'update' && adjoints.has(d.target)) continue;
    const r = rewrite(d);
    if (r.kind === 'let') restDep.set(r.target, r.dep);
    restSteps.push(r);
  }
  const { kept } = withoutUnreadLets(restSteps);
  const restReads = new Set(kept.flatMap((d) => loads(d).map((n) => `${n.source}:${n.tensor}`)));
  const restLets = new Set(kept.filter((d) => d.kind === 'let').map((d) => d.target));
  const rest: Module = {
    ...m,
    name: `${m.name}_rest`,
    tensors: [
      ...m.tensors.filter((t) => (t.role === 'input' || t.role === 'param') && restReads.has(`${t.role}:${t.name}`)),
      ...[...adjoints].filter((a) => restReads.has(`input:${carried.get(a)}`)).map((a): Tensor => ({ name: carried.get(a)!, role: 'input', dims: tensorOf.get(a)!.dims, span: tensorOf.get(a)!.span })),
      ...m.tensors.filter((t) => (t.role === 'state' && accumulators.has(t.name)) || t.role === 'output' || (t.role === 'let' && restLets.has(t.name))),
    ],
    step: kept,
    structures: [],
  };
  return { core, carried, rest };
}

/**
 * Whether the rest has work of its own that the one-cell backward scan does worse than the time-sum
 * kernel: params' sums (the split backward cell writes per step every value they read, and a sum
 * cell each reads them again), or an output that sums over a state adjoint (gla's `d_k[i] =
 * Σj d_S[i, j]·v[j]`, its gate's `Σj d_S[i, j]·S[i, j]`). A scan computes such outputs in its store
 * phase, once per output element, in loops that load the step's inputs at run-time addresses
 * (gathers on lavapipe) for every term; the time-sum kernel unrolls them and loads each input once a
 * step. Where the outputs are pointwise in the adjoint (cumsum's `d_x = d_h`), staging only adds the
 * carried adjoint's traffic. Measured on gla at T = 2^20 (docs/grad.md): the staged backward's
 * jobs took 2.1 s against the scan's 7.1 s of GPU time, alternating in one process, load 13-15.
 */
export function restWorthStaging(stages: StagedBackward): boolean {
  const { rest, carried } = stages;
  if (rest.tensors.some((t) => t.role === 'state')) return true;
  const carriedInputs = new Set(carried.values());
  const lets = new Map(rest.step.filter((d) => d.kind === 'let').map((d) => [d.target, d]));
  const readsAdjoint = new Map<string, boolean>();
  const reads = (d: Def): boolean =>
    d.nodes.some((n) => n.op === 'load' && ((n.source === 'input' && carriedInputs.has(n.tensor)) || (n.source === 'let' && letReads(n.tensor))));
  const letReads = (name: string): boolean => {
    if (!readsAdjoint.has(name)) readsAdjoint.set(name, lets.has(name) && reads(lets.get(name)!));
    return readsAdjoint.get(name)!;
  };
  // A definition with a reduction that reads the adjoint, read by an output (directly or through lets).
  const reducesAdjoint = (d: Def): boolean => d.nodes.some((n) => n.op === 'reduce') && reads(d);
  const seen = new Set<string>();
  const feeds = (d: Def): boolean => {
    if (reducesAdjoint(d)) return true;
    return d.nodes.some((n) => n.op === 'load' && n.source === 'let' && !seen.has(n.tensor) && (seen.add(n.tensor), lets.has(n.tensor) && feeds(lets.get(n.tensor)!)));
  };
  return rest.step.some((d) => d.kind === 'output' && feeds(d));
}
