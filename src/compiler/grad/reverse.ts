// Reverse-mode differentiation of one step of a cell: the backward step, itself a cell.
//
// Given the forward module, `differentiate` returns a module whose state is the adjoint: run over the
// sequence reversed in time, one step of it takes the adjoint of the forward state after step t (its
// state), the upstream gradients of step t's outputs and the forward values it needs (the saved state
// before step t and step t's inputs, its inputs), and gives the adjoint of the state before step t
// (its update), the gradients of step t's inputs (its outputs) and adds step t's contribution to the
// params' gradients (states that only accumulate). So a backend lowers it as it lowers any cell, and
// the reference interpreter runs it as it is (src/runtime/reference/grad-step.ts).
//
// The step has three parts, in order:
// 1. the primal (primal.ts): the forward step's values recomputed from the saved state, as lets in a
//    normal form where every definition is pointwise or one reduction of a pointwise body. They read
//    inputs and params only, so they are time-parallel: only the states are saved per step;
// 2. adjoint lets, one per primal let that a gradient reaches, in reverse order: d_X = its seeds
//    (the upstream gradient of an output, the incoming adjoint of a new state) + the contribution of
//    every load of X in a later definition;
// 3. updates: the adjoint of each saved state and the params' accumulators; outputs: the inputs'
//    gradients.
//
// The contribution of a load `X[a, b]` in a definition R over the index space E (R's variables, and
// its reduction's index if R is a reduction) is the transpose of R's dependence on it: the adjoint of
// that load, pointwise over E, summed over the indices of E that X is not read through. For
// `r[i] = sum(j: W[i, j] * h[j])` the adjoint of h[j] over (i, j) is d_r[i] · W[i, j], summed over i:
// `d_h[j] += sum(i: d_r[i] * W[i, j])`. Within R, adjoints follow the builtin table's partials (data,
// the same formulas the reference reverse mode evaluates) back from R's seed, d_R (pointwise R) or
// d_R times the reduction's partial with respect to its term (a reduction), e.g. `exp(term - r)` for
// logsumexp. A partial that sums over all terms (ties of max and min) is a let of its own.
// Node adjoints inside one definition are recomputed in each operand's adjoint definition (the
// definitions are short once reductions are lets); nothing is accumulated in place, so every
// adjoint is one pure definition of a whole tensor.
import { builtin, reduction, type DerivativeForm } from '../builtins.js';
import { tensorsOf, type Def, type Dep, type IndexVar, type Module, type Node, type Source, type Tensor } from '../ir/ir.js';
import { DefBuilder, GradError, Names, phaseRule, primalValues, withoutUnreadLets } from './build.js';
import { primalOf, varDims } from './primal.js';

export { GradError };

/** How the backward cell's tensors stand for the forward's. */
export interface BackwardRoles {
  /** Forward state → the backward input holding its value before the step (same name). */
  savedStates: { state: string; input: string }[];
  /** Forward output → the backward input holding its upstream gradient. */
  upstreamOutputs: { output: string; input: string }[];
  /** Forward state → the backward state: initially the final state's gradient; finally the initial state's. */
  stateAdjoints: { state: string; adjoint: string }[];
  /** Forward param → the backward state accumulating its gradient (from 0; summed over the batch after). */
  paramAdjoints: { param: string; adjoint: string }[];
  /** Forward input → the backward output holding its gradient. */
  inputAdjoints: { input: string; adjoint: string }[];
  /**
   * Backward param → the forward param it holds transposed (`of[a, b]` as `param[b, a]`; see
   * `transposeParamReads`). A runner gives the backward cells these besides the forward's params.
   */
  transposedParams: { param: string; of: string }[];
}

export interface BackwardStep {
  /** The backward cell: run over the reversed sequence (see the file comment). */
  module: Module;
  roles: BackwardRoles;
  /** The backward lets that recompute forward values (the primal). */
  primal: string[];
  /** Per forward state, the backward tensor holding its value after the step (primal.ts). */
  newState: Map<string, { source: 'let' | 'input'; tensor: string }>;
}

type LoadNode = Extract<Node, { op: 'load' }>;

export function differentiate(m: Module): BackwardStep {
  // One step's derivative does not depend on the direction time runs in: a reversed cell's backward
  // step is its step's, run the other way (runtime/bptt.ts walks it forward). A bidirectional cell is
  // differentiated as its two parts (ir/split-directions.ts), each one direction, by the callers
  // (driver/grad.ts, reference/grad-step.ts): its fused step mixes the two directions' steps.
  if (m.tensors.some((t) => t.reversed))
    throw new GradError('it has a `reversed { ... }` block: differentiate its two parts (splitDirections), one direction of time each');
  // A grid cell's neighbour loads are not the previous step's state: no backward pass for them yet.
  if (m.grid) throw new GradError('it runs over a 2-D grid (`grid`), and the backward pass runs over time only');
  const names = new Names([...m.tensors.map((t) => t.name), ...(m.monoid?.combine ?? []).map((d) => d.target)]);
  const primal = primalOf(m, names);
  const forward = new Map(m.tensors.map((t) => [t.name, t]));
  const inputs = tensorsOf(m, 'input');
  const params = tensorsOf(m, 'param');
  const states = tensorsOf(m, 'state');
  const outputs = tensorsOf(m, 'output');

  const roles: BackwardRoles = {
    savedStates: states.map((s) => ({ state: s.name, input: s.name })),
    upstreamOutputs: outputs.map((o) => ({ output: o.name, input: names.fresh(`d_${o.name}`) })),
    stateAdjoints: states.map((s) => ({ state: s.name, adjoint: names.fresh(`d_${s.name}`) })),
    paramAdjoints: params.map((p) => ({ param: p.name, adjoint: names.fresh(`d_${p.name}`) })),
    inputAdjoints: inputs.map((x) => ({ input: x.name, adjoint: names.fresh(`d_${x.name}`) })),
    transposedParams: [],
  };
  const upstreamOf = new Map(roles.upstreamOutputs.map((r) => [r.output, r.input]));
  const stateAdjointOf = new Map(roles.stateAdjoints.map((r) => [r.state, r.adjoint]));
  const paramAdjointOf = new Map(roles.paramAdjoints.map((r) => [r.param, r.adjoint]));

  // A tensor of the primal's namespace: inputs (the saved states among them), params, lets.
  const key = (source: Source, tensor: string) => `${source}:${tensor}`;

  // Who reads what: per tensor, the (definition, load) pairs.
  const readers = new Map<string, { def: Def; load: LoadNode }[]>();
  for (const def of primal.defs)
    for (const n of def.nodes) {
      if (n.op !== 'load') continue;
      const k = key(n.source, n.tensor);
      if (!readers.has(k)) readers.set(k, []);
      readers.get(k)!.push({ def, load: n });
    }

  // Dependence in the backward step: the adjoints are state-dependent (they carry the adjoint state).
  const depAll = new Map<string, Dep>(primal.letDeps);
  const depOf = (source: Source, tensor: string): Dep => (source === 'input' ? 'input' : source === 'param' ? 'param' : (depAll.get(tensor) ?? 'const'));
  const phase = phaseRule(new Set());
  const out: Def[] = [];

  /** Where the adjoint of each primal let that has one is: its own let, or the one tensor it copies. */
  const adjointLet = new Map<string, { source: Source; tensor: string; version?: 'old' }>();
  /** Lets of sums over a reduction's terms (`sumOverTerms`), by reduction and form. */
  const termSums = new Map<string, string>();

  /** The seeds of a tensor's adjoint: what reaches it from outside the step's dataflow. */
  const seeds = (b: DefBuilder, source: Source, tensor: string, index: string[]): number[] => {
    const terms: number[] = [];
    if (source === 'let' && forward.get(tensor)?.role === 'output') terms.push(b.load('input', upstreamOf.get(tensor)!, index));
    for (const s of states) {
      const n = primal.newState.get(s.name)!;
      if (n.source === source && n.tensor === tensor) terms.push(b.load('state', stateAdjointOf.get(s.name)!, index, 'old'));
    }
    if (source === 'param') terms.push(b.load('state', paramAdjointOf.get(tensor)!, index, 'old'));
    return terms;
  };

  /** Index names for an adjoint of `dims`: the first reader's, when they are distinct, else i0, i1, …. */
  const varsFor = (k: string, dims: string[]): IndexVar[] => {
    const first = readers.get(k)?.[0]?.load.index;
    const usable = first && new Set(first).size === first.length;
    return dims.map((dim, p) => ({ name: usable ? first[p]! : `i${p}`, dim }));
  };

  /** The contributions of every load of (source, tensor) in a definition that a gradient reaches, into builder b. */
  const contributions = (b: DefBuilder, source: Source, tensor: string): number[] => {
    const terms: number[] = [];
    for (const { def, load } of readers.get(key(source, tensor)) ?? []) {
      if (!adjointLet.has(def.target)) continue;
      const t = contribution(b, def, load);
      if (t !== undefined) terms.push(t);
    }
    return terms;
  };

  /** One load's contribution: its adjoint over R's index space, summed over the indices X is not read through. */
  const contribution = (b: DefBuilder, R: Def, load: LoadNode): number | undefined => {
    if (new Set(load.index).size !== load.index.length) {
      throw new GradError(`${R.target} reads \`${load.tensor}[${load.index.join(', ')}]\`, a repeated index (a diagonal): its adjoint is not a tensor expression of the IR yet`);
    }
    const dims = varDims(R);
    const root = R.nodes[R.root]!;
    const space = [...R.vars.map((v) => v.name), ...(root.op === 'reduce' ? [root.over.name] : [])];
    // Renaming: X's indices become the adjoint's variables; the others, summed, get names of their own.
    const rename = new Map<string, string>();
    load.index.forEach((v, p) => rename.set(v, b.vars[p]!.name));
    const taken = new Set(b.vars.map((v) => v.name));
    for (const v of space) {
      if (rename.has(v)) continue;
      let name = v;
      for (let k = 2; taken.has(name); k++) name = `${v}_${k}`;
      taken.add(name);
      rename.set(v, name);
    }
    const r = (v: string) => rename.get(v)!;

    // Forward values, recomputed pointwise. The root's value is R's own let: a reduction's always, and a pointwise one's is not recomputed.
    const value = primalValues(b, R, r, (n) => n.op !== 'const');
    /** A derivative form as nodes: operands and value of node `at`, or the reduction's term and value. */
    const formNodes = (f: DerivativeForm, at: Node): number => {
      if ('arg' in f) return value((at as { args: number[] }).args[f.arg]!);
      if ('value' in f) return value(at.id);
      if ('const' in f) return b.constant(f.const);
      if ('term' in f) return value((at as { args: number[] }).args[0]!);
      if ('sumOverTerms' in f) return b.load('let', termSum(R, f.sumOverTerms), R.vars.map((x) => r(x.name)));
      const args = f.args.map((a) => formNodes(a, at));
      const fb = builtin(f.fn);
      const consts = args.map((a) => b.constantValue(a));
      if (fb.result === 'f32' && fb.kind !== 'select' && consts.every((c) => c !== undefined)) {
        return b.constant((fb.f64 as (...xs: number[]) => number)(...(consts as number[])));
      }
      if (fb.kind === 'select') return b.select(args[0]!, args[1]!, args[2]!);
      if (fb.kind === 'unary') return b.unary(f.fn as 'neg', args[0]!);
      return b.binary(f.fn, args[0]!, args[1]!);
    };

    // Node adjoints over R's space, from the seed back (users first: ids are topological).
    const users = new Map<number, { user: Node; position: number }[]>();
    for (const n of R.nodes) ('args' in n ? n.args : []).forEach((a, position) => {
      if (!users.has(a)) users.set(a, []);
      users.get(a)!.push({ user: n, position });
    });
    const top = root.op === 'reduce' ? root.args[0] : R.root;
    const adjoints = new Map<number, number | undefined>();
    const adjoint = (id: number): number | undefined => {
      if (adjoints.has(id)) return adjoints.get(id);
      let a: number | undefined;
      if (id === top) {
        const at = adjointLet.get(R.target)!;
        const seed = b.load(at.source, at.tensor, R.vars.map((x) => r(x.name)), at.version);
        a = root.op === 'reduce' ? b.mul(seed, formNodes(reduction(root.fn).partial, root)) : seed;
      } else {
        const terms: number[] = [];
        for (const { user, position } of users.get(id) ?? []) {
          if (user.op !== 'unary' && user.op !== 'binary' && user.op !== 'select') continue; // the root reduction: its term is `top`
          const partials: readonly DerivativeForm[] = builtin(user.op === 'select' ? 'select' : user.fn).partials;
          const up = adjoint(user.id);
          if (up === undefined) continue;
          const p = formNodes(partials[position]!, user);
          if (b.constantValue(p) === 0) continue;
          terms.push(b.mul(up, p));
        }
        a = terms.length ? b.sum(terms) : undefined;
      }
      adjoints.set(id, a);
      return a;
    };
    let a = adjoint(load.id);
    if (a === undefined) return undefined;
    for (const v of [...space].reverse()) if (!load.index.includes(v)) a = b.reduce('sum', { name: r(v), dim: dims.get(v)! }, a);
    return a;
  };

  /** The let of Σ over a reduction's terms of a form (the tie count of max and min), over the reduction's variables. */
  const termSum = (R: Def, f: DerivativeForm): string => {
    const k = `${R.target} ${JSON.stringify(f)}`;
    const known = termSums.get(k);
    if (known !== undefined) return known;
    const root = R.nodes[R.root]! as Extract<Node, { op: 'reduce' }>;
    const name = names.fresh(`${R.target}_ties`);
    termSums.set(k, name);
    const b = new DefBuilder(R.vars, depOf, R.span);
    const values = new Map<number, number>();
    const copy = (id: number): number => {
      const n = R.nodes[id]!;
      if (values.has(id)) return values.get(id)!;
      const v =
        n.op === 'const' ? b.constant(n.value)
        : n.op === 'load' ? b.load(n.source, n.tensor, n.index)
        : n.op === 'unary' ? b.unary(n.fn, copy(n.args[0]))
        : n.op === 'binary' ? b.binary(n.fn, copy(n.args[0]), copy(n.args[1]))
        : n.op === 'select' ? b.select(copy(n.args[0]), copy(n.args[1]), copy(n.args[2]))
        : b.load('let', R.target, R.vars.map((x) => x.name));
      values.set(id, v);
      return v;
    };
    const form = (g: DerivativeForm): number => {
      if ('term' in g) return copy(root.args[0]);
      if ('value' in g) return copy(root.id);
      if ('const' in g) return b.constant(g.const);
      if ('fn' in g) {
        const args = g.args.map(form);
        const fb = builtin(g.fn);
        if (fb.kind === 'select') return b.select(args[0]!, args[1]!, args[2]!);
        if (fb.kind === 'unary') return b.unary(g.fn as 'neg', args[0]!);
        return b.binary(g.fn, args[0]!, args[1]!);
      }
      throw new GradError(`a reduction's partial nests sums over its terms or reads an operand: ${JSON.stringify(g)}`);
    };
    const root2 = b.reduce('sum', root.over, form(f));
    const def = b.def('let', name, root2, phase('let', name));
    depAll.set(name, def.dep);
    out.push(def);
    return name;
  };

  // 2. Adjoint lets, last primal let first.
  const sameAs = new Map<string, string>();
  for (const P of [...primal.defs].reverse()) {
    if (P.dep === 'const') continue;
    const b = new DefBuilder(P.vars, depOf, P.span);
    const index = P.vars.map((v) => v.name);
    const terms = [...seeds(b, 'let', P.target, index), ...contributions(b, 'let', P.target)];
    if (!terms.length) continue;
    const sole = terms.length === 1 ? b.node(terms[0]!) : undefined;
    if (sole?.op === 'load' && sole.index.join() === index.join()) {
      // A copy of one tensor (an output's upstream gradient, the incoming state adjoint): no let of its own.
      adjointLet.set(P.target, { source: sole.source, tensor: sole.tensor, ...(sole.version === 'old' ? { version: 'old' as const } : {}) });
      continue;
    }
    // The same expression as an earlier adjoint (the two sums of `sigmoid(Wx + Uh + b)` get one adjoint): that let.
    const shape = b.def('let', '', b.sum(terms), () => 'core');
    const text = JSON.stringify([shape.vars, shape.root, shape.nodes.map(({ span: _, ...n }) => n)]);
    const same = sameAs.get(text);
    if (same !== undefined) {
      adjointLet.set(P.target, { source: 'let', tensor: same });
      continue;
    }
    const name = names.fresh(`d_${P.target}`);
    sameAs.set(text, name);
    adjointLet.set(P.target, { source: 'let', tensor: name });
    const def = b.def('let', name, b.sum(terms), phase('let', name));
    depAll.set(name, def.dep);
    out.push(def);
  }

  // 3. The saved states' adjoints (the backward state's update), the params' accumulators, the inputs' gradients.
  const leaf = (kind: 'update' | 'output', source: Source, t: Tensor, target: string, skipWithoutContributions: boolean) => {
    const k = key(source, t.name);
    const vars = varsFor(k, t.dims);
    const b = new DefBuilder(vars, depOf, t.span);
    const index = vars.map((v) => v.name);
    const fromSeeds = seeds(b, source, t.name, index);
    // A contribution with the same expression as an adjoint let (a bias's term in `sigmoid(Wx + Uh + b)`
    // is the adjoint of the sums): a load of that let. Split off as a carried value (split.ts), the
    // backward cell then writes that let once per step, not the factors to recompute it from.
    const asLet = (term: number): number => {
      const shape = b.def('let', '', term, () => 'core');
      const same = sameAs.get(JSON.stringify([shape.vars, shape.root, shape.nodes.map(({ span: _, ...n }) => n)]));
      return same === undefined ? term : b.load('let', same, index);
    };
    const terms = [...fromSeeds, ...contributions(b, source, t.name).map(asLet)];
    if (skipWithoutContributions && terms.length === fromSeeds.length) return; // an accumulator with nothing to add keeps its value
    out.push(b.def(kind, target, b.sum(terms), phase(kind, target)));
  };
  for (const s of states) leaf('update', 'input', s, stateAdjointOf.get(s.name)!, false);
  for (const p of params) leaf('update', 'param', p, paramAdjointOf.get(p.name)!, true);
  for (const x of inputs) leaf('output', 'input', x, roles.inputAdjoints.find((r) => r.input === x.name)!.adjoint, false);

  // Only the lets something reads: a primal value no partial needs (an output nobody reads, a copy) is not recomputed.
  const step = [...primal.defs, ...out];
  const { kept: untransposed, read } = withoutUnreadLets(step);
  const { defs: kept, transposed } = transposeParamReads(untransposed, params, names);
  roles.transposedParams = transposed.map((t) => ({ param: t.name, of: t.of }));
  const primalLets = primal.defs.filter((d) => read.has(d.target)).map((d) => d.target);
  const span = m.tensors[0]?.span ?? m.step[0]!.span;
  const tensor = (name: string, role: Tensor['role'], dims: string[], from?: Tensor, init?: Tensor['init']): Tensor => ({ name, role, dims, span: from?.span ?? span, ...(init ? { init } : {}) });
  const module: Module = {
    name: `${m.name}_grad`,
    dims: m.dims,
    tensors: [
      ...inputs.map((x) => tensor(x.name, 'input', x.dims, x)),
      ...states.map((s) => tensor(s.name, 'input', s.dims, s)),
      ...roles.upstreamOutputs.map((r) => tensor(r.input, 'input', forward.get(r.output)!.dims, forward.get(r.output))),
      ...params.map((p) => tensor(p.name, 'param', p.dims, p)),
      ...transposed.map((t) => tensor(t.name, 'param', t.dims, forward.get(t.of))),
      ...roles.stateAdjoints.map((r) => tensor(r.adjoint, 'state', forward.get(r.state)!.dims, forward.get(r.state), { kind: 'const', value: 0 })),
      ...roles.paramAdjoints.map((r) => tensor(r.adjoint, 'state', forward.get(r.param)!.dims, forward.get(r.param), { kind: 'const', value: 0 })),
      ...kept.filter((d) => d.kind === 'let').map((d) => tensor(d.target, 'let', d.vars.map((v) => v.dim), forward.get(d.target))),
      ...roles.inputAdjoints.map((r) => tensor(r.adjoint, 'output', forward.get(r.input)!.dims, forward.get(r.input))),
    ],
    step: kept,
    structures: [],
  };
  return { module, roles, primal: primalLets, newState: primal.newState };
}

/**
 * Params read transposed, as their own transposes. The adjoint of a product `W·v` reads W through its
 * first index inside a sum over that index (`d_h[m] = Σk d_z[k]·U[k, m]`, LSTM's and GRU's state
 * adjoints; `d_x[j] = Σk d_z[k]·W[k, j]`): its terms are a column of W, `H` floats apart, so a
 * kernel reads them one by one at run-time addresses (on lavapipe, a loop over the SIMD lanes per
 * term), where the forward reads a row of W as vec4s. Such a load of a matrix param `W[k, m]` becomes
 * `W_T[m, k]` of a param `W_T[M, K]` holding the transpose: its terms are consecutive, and a backend
 * reads them as the forward reads its rows. The values are the same, so this changes no result; the
 * runner supplies `W_T` (runtime/bptt.ts `backwardParams`). Measured on the LSTM backward cell
 * (X = 4, H = 8, T = 4,096, lavapipe): the loop kernel 2x faster (docs/grad.md).
 */
function transposeParamReads(defs: Def[], params: Tensor[], names: Names): { defs: Def[]; transposed: (Tensor & { of: string })[] } {
  const byName = new Map(params.map((p) => [p.name, p]));
  const made = new Map<string, Tensor & { of: string }>();
  const out = defs.map((d) => {
    // The index variables of the reductions around each node (a node shared by two contexts gets both: the rewrite keeps values).
    const around = new Map<number, Set<string>>();
    const mark = (id: number, vars: Set<string>) => {
      const n = d.nodes[id]!;
      const known = around.get(id) ?? new Set<string>();
      if (around.has(id) && [...vars].every((v) => known.has(v))) return;
      for (const v of vars) known.add(v);
      around.set(id, known);
      if (n.op === 'reduce') mark(n.args[0], new Set([...vars, n.over.name]));
      else if ('args' in n) for (const a of n.args) mark(a, vars);
    };
    mark(d.root, new Set());
    let changed = false;
    const nodes = d.nodes.map((n) => {
      if (n.op !== 'load' || n.source !== 'param' || n.index.length !== 2) return n;
      const p = byName.get(n.tensor);
      const [a, b] = n.index as [string, string];
      const reduced = around.get(n.id) ?? new Set<string>();
      if (!p || a === b || !reduced.has(a) || reduced.has(b)) return n;
      let t = made.get(p.name);
      if (!t) {
        t = { name: names.fresh(`${p.name}_T`), role: 'param', dims: [p.dims[1]!, p.dims[0]!], span: p.span, of: p.name };
        made.set(p.name, t);
      }
      changed = true;
      return { ...n, tensor: t.name, index: [b, a] };
    });
    return changed ? { ...d, nodes } : d;
  });
  return { defs: out, transposed: [...made.values()] };
}
