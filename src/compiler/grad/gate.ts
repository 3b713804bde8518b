// The backward of a gated diagonal recurrence without its states: the gate's gradient by an identity.
//
// For `h_t[i, j] = a_t[i] · h_{t-1}[i, j] + b_t[i, j]` (a gate shared along j, as gla's `alpha[i]`
// over `S[i, j]`) with λ_t the adjoint of h_t, the gate's gradient `d_a_t[i] = Σj λ_t[i, j] · h_{t-1}[i, j]`
// pairs the state with its adjoint at every step. The staged backward (stage.ts) so materialises or
// recomputes both per step, which costs gla about three forwards. But a_t · d_a_t is a reverse
// cumulative sum of terms that each need one of them only. With E_t = ⟨λ_t, h_t⟩ (per i, summed over j),
// the step's injection ι_t (λ_t = a_{t+1} λ_{t+1} + ι_t: what the outputs of step t add) and
// G_t = ⟨λ_t, b_t⟩:
//   ⟨a_{t+1} λ_{t+1}, h_t⟩ = ⟨λ_{t+1}, h_{t+1} − b_{t+1}⟩, so E_t = E_{t+1} − G_{t+1} + F_t, F_t = ⟨ι_t, h_t⟩;
//   a_t · d_a_t = ⟨λ_t, h_t − b_t⟩ = E_t − G_t =: D_t, so D_t = D_{t+1} + F_t − G_t, D_{T+1} = ⟨dh_T, h_T⟩
// (dh_T the final state's upstream gradient). So the backward runs three scans, none of which keeps a
// state per step:
// - `walk`: the forward cell again with the upstream gradients as inputs, writing F and the inputs'
//   gradients that read the forward state only (gla's `d_q`);
// - `core`: the adjoint recurrence, writing G and the inputs' gradients that read the adjoint only
//   (gla's `d_k`, `d_v`);
// - `gate`: D, a reversed cumulative sum of F − G from the boundary ⟨dh_T, h_T⟩, writing the inputs'
//   gradients that read `a · d_a` (gla's `d_g`: the reverse pass writes `d_alpha · alpha` for
//   alpha = exp(…), which becomes D itself, so no division by the gate).
// It applies where the reverse pass's gate term has that form and every input's gradient reads one of
// the three only; undefined elsewhere (the staged backward then runs). The identity and the per-chunk
// form of it are the ones flash-linear-attention's GLA backward uses for its gates.
import type { Def, Dep, IndexVar, Module, Node, Source, Tensor } from '../ir/ir.js';
import { DefBuilder, Names, phaseRule, withoutUnreadLets } from './build.js';
import type { BackwardStep } from './reverse.js';

export interface GatedBackward {
  /** The forward cell with the upstream gradients as inputs: F and the inputs' gradients that read the forward state. */
  walk: Module;
  /** The adjoint recurrence: G and the inputs' gradients that read the adjoint. */
  core: Module;
  /** D, from the boundary term, summed back over time: the inputs' gradients that read the gate's. */
  gate: Module;
  /** The forward state, and its adjoint (the core's state). */
  state: string;
  adjoint: string;
  /** The gate cell's state D (its initial value per sequence: the boundary ⟨dh_T, h_T⟩ summed over the non-gate axes). */
  gateState: string;
  /** F: the walk's output and the gate cell's input; G: the core's output and the gate cell's input. */
  F: string;
  G: string;
  /** The state's axes the gate keeps, in the gate's order: D[k…] = Σ over the other axes of dh_T · h_T. */
  gateAxes: number[];
  /** Each input's gradient (the backward step's output) → the cell that writes it. */
  from: Map<string, 'walk' | 'core' | 'gate'>;
  /**
   * Each param's accumulator (the backward step's state `d_W <- d_W + term`) → the cell whose
   * update of it its term goes in: the one that has what the term reads.
   */
  sums: Map<string, 'walk' | 'core' | 'gate'>;
}

type Load = Extract<Node, { op: 'load' }>;
type Cls = 'walk' | 'core' | 'gate';

const argsOf = (n: Node): readonly number[] => ('args' in n ? n.args : []);
const isLoad = (n: Node | undefined, source: Source, tensor?: string): n is Load => n?.op === 'load' && n.source === source && (tensor === undefined || n.tensor === tensor);

/** The ids under `root`, itself included. */
function under(def: Def, root: number): Set<number> {
  const seen = new Set<number>();
  const visit = (k: number) => {
    if (seen.has(k)) return;
    seen.add(k);
    argsOf(def.nodes[k]!).forEach(visit);
  };
  visit(root);
  return seen;
}

/** The operands of a binary `fn` node as [x, y] where `pick(x)` holds, else undefined. */
function operands(def: Def, id: number, fn: string, pick: (n: Node) => boolean): [number, number] | undefined {
  const n = def.nodes[id]!;
  if (n.op !== 'binary' || n.fn !== fn) return undefined;
  const [a, b] = n.args;
  if (pick(def.nodes[a]!)) return [a, b];
  if (pick(def.nodes[b]!)) return [b, a];
  return undefined;
}

/**
 * Where a module is built: its definitions through DefBuilder, with their dependence and phase, in order.
 */
class ModuleBuilder {
  readonly defs: Def[] = [];
  private readonly deps: Map<string, Dep>;
  private readonly phase = phaseRule(new Set());
  /** `lets`: the lets of the module it extends, which its definitions may read. */
  constructor(lets: Def[] = []) {
    this.deps = new Map(lets.filter((d) => d.kind === 'let').map((d) => [d.target, d.dep]));
  }
  depOf = (source: Source, tensor: string): Dep => (source === 'input' ? 'input' : source === 'param' ? 'param' : (this.deps.get(tensor) ?? 'const'));

  add(kind: Def['kind'], target: string, vars: IndexVar[], span: Def['span'], body: (b: DefBuilder) => number): Def {
    const b = new DefBuilder(vars, this.depOf, span);
    const def = b.def(kind, target, body(b), this.phase(kind, target));
    if (kind === 'let') this.deps.set(target, def.dep);
    this.defs.push(def);
    return def;
  }
}

/**
 * Copies the expression under `root` of `def` into b: index variables renamed by `rename`, each load
 * by `load` (given its renamed index), and a node `replace` gives a value for by that value.
 */
function copyInto(b: DefBuilder, def: Def, root: number, rename: (v: string) => string, load: (n: Load, index: string[]) => number, replace: (id: number) => number | undefined = () => undefined): number {
  const memo = new Map<number, number>();
  const copy = (id: number): number => {
    const known = memo.get(id);
    if (known !== undefined) return known;
    const n = def.nodes[id]!;
    let out = replace(id);
    if (out === undefined)
      switch (n.op) {
        case 'const':
          out = b.constant(n.value);
          break;
        case 'load':
          out = load(n, n.index.map(rename));
          break;
        case 'unary':
          out = b.unary(n.fn, copy(n.args[0]));
          break;
        case 'binary':
          out = b.binary(n.fn, copy(n.args[0]), copy(n.args[1]));
          break;
        case 'select':
          out = b.select(copy(n.args[0]), copy(n.args[1]), copy(n.args[2]));
          break;
        case 'reduce':
          out = b.reduce(n.fn, { name: rename(n.over.name), dim: n.over.dim }, copy(n.args[0]));
          break;
      }
    memo.set(id, out);
    return out;
  };
  return copy(root);
}

/** Σ over `over` of the product of two expressions, the factors that do not vary along `over` taken out of the sums. */
function sumOfProduct(b: DefBuilder, left: number, right: number, over: IndexVar[]): number {
  const factors: number[] = [];
  const flatten = (id: number) => {
    const n = b.node(id);
    if (n.op === 'binary' && n.fn === 'mul') n.args.forEach(flatten);
    else factors.push(id);
  };
  flatten(left);
  flatten(right);
  const summed = new Set(over.map((v) => v.name));
  const varies = (id: number) => b.node(id).space.some((v) => summed.has(v));
  let body = factors.filter(varies).reduce((acc, x) => b.mul(acc, x), b.constant(1));
  for (const v of [...over].reverse()) body = b.reduce('sum', v, body);
  return factors.filter((x) => !varies(x)).reduce((acc, x) => b.mul(x, acc), body);
}

/** The lets `roots` read, directly or through other lets (not through those `stop` names), in `defs`' order. */
function letsNeeded(defs: Def[], roots: Def[], stop: (name: string) => boolean = () => false): Def[] {
  const byName = new Map(defs.filter((d) => d.kind === 'let').map((d) => [d.target, d]));
  const need = new Set<string>();
  const visit = (d: Def) => {
    for (const n of d.nodes)
      if (n.op === 'load' && n.source === 'let' && byName.has(n.tensor) && !need.has(n.tensor) && !stop(n.tensor)) {
        need.add(n.tensor);
        visit(byName.get(n.tensor)!);
      }
  };
  roots.forEach(visit);
  return defs.filter((d) => d.kind === 'let' && need.has(d.target));
}

const tensorFor = (name: string, role: Tensor['role'], dims: string[], span: Tensor['span'], init?: Tensor['init']): Tensor => ({ name, role, dims, span, ...(init ? { init } : {}) });

export function gateBackward(step: BackwardStep, forward: Module): GatedBackward | undefined {
  const f = forward;
  const m = step.module;
  const { roles } = step;
  if (f.monoid || f.reversed || f.grid || f.tensors.some((t) => t.reversed)) return undefined;
  if (roles.stateAdjoints.length !== 1) return undefined;
  const accumulators = new Set(roles.paramAdjoints.map((r) => r.adjoint));
  const { state, adjoint } = roles.stateAdjoints[0]!;
  const stateTensor = f.tensors.find((t) => t.name === state)!;
  const newState = step.newState.get(state);
  if (newState?.source !== 'let') return undefined;
  const lets = new Map(m.step.filter((d) => d.kind === 'let').map((d) => [d.target, d]));
  const tensorOf = new Map(m.tensors.map((t) => [t.name, t]));

  // The adjoint's update `d_h <- L · a`: L the adjoint after the step (λ_t), a the gate, a let over some of the state's axes.
  const update = m.step.find((d) => d.kind === 'update' && d.target === adjoint);
  if (!update) return undefined;
  const full = update.vars.map((v) => v.name);
  const upd = operands(update, update.root, 'mul', (n) => isLoad(n, 'let') && n.index.join() === full.join() && lets.get(n.tensor)?.vars.length === full.length);
  if (!upd) return undefined;
  const L = lets.get((update.nodes[upd[0]] as Load).tensor)!;
  const gateLoad = update.nodes[upd[1]]!;
  if (!isLoad(gateLoad, 'let') || !lets.has(gateLoad.tensor)) return undefined;
  const gateIndex = gateLoad.index;
  if (new Set(gateIndex).size !== gateIndex.length || gateIndex.length >= full.length || gateIndex.some((v) => !full.includes(v))) return undefined;
  const gateAxes = gateIndex.map((v) => full.indexOf(v));
  const gateLet = lets.get(gateLoad.tensor)!;
  const gateDims = gateAxes.map((k) => stateTensor.dims[k]!);
  const gateVars: IndexVar[] = gateIndex.map((name, p) => ({ name, dim: gateDims[p]! }));
  const otherVars: IndexVar[] = update.vars.filter((v) => !gateIndex.includes(v.name));

  // L = d_h.old + ι: the injection, pointwise and free of the state.
  const lVars = L.vars.map((v) => v.name);
  const fromL = (v: string) => (lVars.includes(v) ? full[lVars.indexOf(v)]! : v);
  const inj = operands(L, L.root, 'add', (n) => isLoad(n, 'state', adjoint) && n.version === 'old' && n.index.join() === lVars.join());
  if (!inj) return undefined;
  if ([...under(L, inj[1])].some((k) => L.nodes[k]!.op === 'reduce' || isLoad(L.nodes[k], 'state'))) return undefined;

  // The forward update `h <- a · h + b`, the gate the same let, b free of the state.
  const fUpdate = f.step.find((d) => d.kind === 'update' && d.target === state);
  if (!fUpdate) return undefined;
  const fFull = fUpdate.vars.map((v) => v.name);
  const fromForward = (v: string) => (fFull.includes(v) ? full[fFull.indexOf(v)]! : v);
  const fTerms = operands(fUpdate, fUpdate.root, 'add', (n) => n.op === 'binary' && n.fn === 'mul' && n.dep === 'state');
  const decay = fTerms && operands(fUpdate, fTerms[0], 'mul', (n) => isLoad(n, 'state', state) && n.version !== 'new' && n.index.join() === fFull.join());
  const fGate = decay && fUpdate.nodes[decay[1]];
  if (!decay || !isLoad(fGate, 'let', gateLet.target) || fGate.index.map((v) => fFull.indexOf(v)).join() !== gateAxes.join()) return undefined;
  const bRoot = fTerms[1];
  if ([...under(fUpdate, bRoot)].some((k) => isLoad(fUpdate.nodes[k], 'state'))) return undefined;

  const names = new Names([...f.tensors, ...m.tensors].map((t) => t.name));
  const dlog = names.fresh(`d_log_${gateLet.target}`);
  const F = names.fresh(`${gateLet.target}_state_term`);
  const G = names.fresh(`${gateLet.target}_adjoint_term`);

  // The gate's term: the let Σ_other L · h_{t-1} (h_{t-1} the saved state, an input under the state's
  // name), read only as (that let) · a, which becomes D.
  const isGateTerm = (d: Def) => {
    if (d.kind !== 'let' || d.nodes[d.root]!.op !== 'reduce') return false;
    let id = d.root;
    while (d.nodes[id]!.op === 'reduce') id = argsOf(d.nodes[id]!)[0]!;
    const pair = operands(d, id, 'mul', (n) => isLoad(n, 'let', L.target));
    return pair !== undefined && isLoad(d.nodes[pair[1]], 'input', state);
  };
  const gateTerms = m.step.filter(isGateTerm);
  if (gateTerms.length !== 1) return undefined;
  const term = gateTerms[0]!;
  const rewritten: Def[] = [];
  for (const d of m.step) {
    if (d === term || d === update) continue;
    if (!d.nodes.some((n) => isLoad(n, 'let', term.target))) {
      rewritten.push(d);
      continue;
    }
    const products = new Map<number, string[]>();
    for (const n of d.nodes) {
      const pair = operands(d, n.id, 'mul', (x) => isLoad(x, 'let', term.target));
      const other = pair && d.nodes[pair[1]]!;
      const read = pair && (d.nodes[pair[0]] as Load);
      if (other && read && isLoad(other, 'let', gateLet.target) && other.index.join() === read.index.join()) products.set(n.id, read.index);
    }
    const b = new DefBuilder(d.vars, () => 'input', d.span);
    let stray = false;
    const root = copyInto(
      b,
      d,
      d.root,
      (v) => v,
      (n, index) => {
        if (isLoad(n, 'let', term.target)) stray = true;
        return b.load(n.source, n.tensor, index, n.version);
      },
      (id) => (products.has(id) ? b.load('input', dlog, products.get(id)!) : undefined),
    );
    if (stray) return undefined;
    rewritten.push(b.def(d.kind, d.target, root, () => d.phase));
  }

  // What each definition reads: the adjoint (core), the forward state (walk), the gate's D (gate).
  const classes = new Map<string, Set<Cls>>();
  const classesOf = (d: Def): Set<Cls> => {
    const out = new Set<Cls>();
    for (const n of d.nodes) {
      if (n.op !== 'load') continue;
      if (n.source === 'state' && n.tensor === adjoint) out.add('core');
      else if (n.source === 'input' && n.tensor === state) out.add('walk');
      else if (n.source === 'input' && n.tensor === dlog) out.add('gate');
      else if (n.source === 'let') classes.get(n.tensor)?.forEach((c) => out.add(c));
    }
    return out;
  };
  for (const d of rewritten) if (d.kind === 'let') classes.set(d.target, classesOf(d));
  if ([...classes.get(L.target)!].join() !== 'core') return undefined;
  // Each input's gradient and each param's sum to the cell of what it reads (the gate cell: inputs only).
  const cellOf = new Map<string, Cls>();
  for (const d of rewritten.filter((x) => x.kind === 'output' || (x.kind === 'update' && accumulators.has(x.target)))) {
    const c = [...classesOf(d)];
    if (c.length > 1) return undefined;
    cellOf.set(d.target, c[0] ?? 'gate');
  }
  const pick = (kind: 'output' | 'update') => new Map([...cellOf].filter(([name]) => (kind === 'update') === accumulators.has(name)));
  const from = pick('output');
  const sums = pick('update');
  // A cell's outputs, then its accumulators' updates.
  const outputsOf = (c: Cls) => rewritten.filter((d) => (d.kind === 'output' || (d.kind === 'update' && accumulators.has(d.target))) && cellOf.get(d.target) === c);
  const span = update.span;

  // The walk: the forward cell, then what the walk's outputs and F read, the state before and after the
  // step read as the state itself (the saved state and the primal's new state of the backward step).
  const walk = new ModuleBuilder(f.step);
  const fLets = new Set(f.tensors.filter((t) => t.role === 'let').map((t) => t.name));
  const walkOutputs = outputsOf('walk');
  const walkLets = letsNeeded(rewritten, [...walkOutputs, { ...L, nodes: [...under(L, inj[1])].map((k) => L.nodes[k]!) }], (x) => fLets.has(x) || x === newState.tensor);
  const walkNames = new Names([...f.tensors, ...m.tensors].map((t) => t.name).concat([dlog, F, G]));
  const walkLet = new Map(walkLets.map((d) => [d.target, walkNames.fresh(`${d.target}_walk`)]));
  const walkInputs = new Set<string>();
  const walkLoad = (b: DefBuilder) => (n: Load, index: string[]) => {
    if (n.source === 'input' && n.tensor === state) return b.load('state', state, index, 'old');
    if (n.source === 'let' && n.tensor === newState.tensor) return b.load('state', state, index, 'new');
    if (n.source === 'let') return b.load('let', walkLet.get(n.tensor) ?? n.tensor, index);
    if (n.source === 'input') walkInputs.add(n.tensor);
    return b.load(n.source, n.tensor, index, n.version);
  };
  for (const d of walkLets) walk.add('let', walkLet.get(d.target)!, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, walkLoad(b)));
  for (const d of walkOutputs) walk.add(d.kind, d.target, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, walkLoad(b)));
  walk.add('output', F, gateVars, span, (b) => sumOfProduct(b, copyInto(b, L, inj[1], fromL, walkLoad(b)), b.load('state', state, full, 'new'), otherVars));
  // The walk's additions read the state before the step only through the new state (else it would be
  // a second core); an accumulator reads its own.
  const readsOldState = (d: Def) => d.nodes.some((n) => isLoad(n, 'state', state) && n.version !== 'new');
  if (walk.defs.some((d) => readsOldState(d) || (d.kind === 'let' && d.phase === 'core'))) return undefined;
  const fNames = new Set(f.tensors.map((t) => t.name));
  const walkReads = new Set(walk.defs.flatMap((d) => d.nodes.flatMap((n) => (n.op === 'load' && n.source === 'param' ? [n.tensor] : []))));
  const walkModule: Module = {
    ...f,
    name: `${f.name}_grad_walk`,
    tensors: [
      ...f.tensors.filter((t) => t.role !== 'output'),
      ...[...walkInputs, ...walkReads].filter((x) => !fNames.has(x)).map((x) => tensorOf.get(x)!),
      ...walkLets.map((d) => tensorFor(walkLet.get(d.target)!, 'let', d.vars.map((v) => v.dim), d.span)),
      ...walkOutputs.map((d) => tensorOf.get(d.target)!),
      tensorFor(F, 'output', gateDims, span),
    ],
    // The forward's outputs are the forward run's: the walk writes only the backward's.
    step: [...f.step.filter((d) => d.kind !== 'output'), ...walk.defs],
    structures: [],
  };

  // The core: the adjoint recurrence, its outputs and G = Σ_other L · b (b the forward update's other
  // term; the forward lets it reads that the backward step lacks are copied in).
  const core = new ModuleBuilder();
  const fLetDefs = f.step.filter((d) => d.kind === 'let');
  const copied = new Set<string>();
  const coreLoad = (b: DefBuilder) => (n: Load, index: string[]) => b.load(n.source, n.tensor, index, n.version);
  const needForward = (d: Def): boolean =>
    d.nodes.every((n) => {
      if (n.op !== 'load') return true;
      if (n.source === 'state') return false;
      if (n.source !== 'let' || lets.has(n.tensor) || copied.has(n.tensor)) return true;
      const def = fLetDefs.find((x) => x.target === n.tensor);
      if (!def || !needForward(def)) return false;
      copied.add(n.tensor);
      return true;
    });
  const bDef: Def = { ...fUpdate, nodes: [...under(fUpdate, bRoot)].map((k) => fUpdate.nodes[k]!) };
  if (!needForward(bDef)) return undefined;
  const coreOutputs = outputsOf('core');
  const coreLets = letsNeeded(rewritten, [update, ...coreOutputs, bDef]);
  for (const d of fLetDefs.filter((x) => copied.has(x.target))) core.add('let', d.target, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, coreLoad(b)));
  for (const d of coreLets) core.add('let', d.target, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, coreLoad(b)));
  core.add('update', adjoint, update.vars, update.span, (b) => copyInto(b, update, update.root, (v) => v, coreLoad(b)));
  for (const d of coreOutputs) core.add(d.kind, d.target, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, coreLoad(b)));
  core.add('output', G, gateVars, span, (b) => sumOfProduct(b, b.load('let', L.target, full), copyInto(b, fUpdate, bRoot, fromForward, coreLoad(b)), otherVars));
  const coreModule = moduleOf(`${m.name}_core`, core.defs, [...m.tensors, ...f.tensors], [tensorFor(G, 'output', gateDims, span)]);
  if (coreModule.tensors.some((t) => t.role === 'input' && t.name === state)) return undefined;

  // The gate cell: D <- D + F - G, and the outputs that read D (the primal lets they read recomputed).
  const gate = new ModuleBuilder();
  const D = dlog;
  const gateOutputs = outputsOf('gate');
  const dLoad = (b: DefBuilder) => (n: Load, index: string[]) => (n.source === 'input' && n.tensor === dlog ? b.load('state', D, index, 'new') : b.load(n.source, n.tensor, index, n.version));
  gate.add('update', D, gateVars, span, (b) => b.add2(b.load('state', D, gateIndex, 'old'), b.binary('sub', b.load('input', F, gateIndex), b.load('input', G, gateIndex))));
  for (const d of letsNeeded(rewritten, gateOutputs)) gate.add('let', d.target, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, dLoad(b)));
  for (const d of gateOutputs) gate.add(d.kind, d.target, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, dLoad(b)));
  const gateModule = moduleOf(`${m.name}_gate`, gate.defs, [...m.tensors, tensorFor(F, 'input', gateDims, span), tensorFor(G, 'input', gateDims, span), tensorFor(D, 'state', gateDims, span, { kind: 'const', value: 0 })], []);

  function moduleOf(name: string, defs: Def[], known: Tensor[], extra: Tensor[]): Module {
    const byName = new Map(known.map((t) => [t.name, t]));
    const reads = new Set(defs.flatMap((d) => d.nodes.flatMap((n) => (n.op === 'load' && n.source !== 'let' ? [`${n.source}:${n.tensor}`] : []))));
    const written = new Set(defs.map((d) => d.target));
    const tensors: Tensor[] = [];
    for (const t of known) {
      if (tensors.some((x) => x.name === t.name) || extra.some((x) => x.name === t.name)) continue;
      const role = t.role;
      if ((role === 'input' || role === 'param') && reads.has(`${role}:${t.name}`)) tensors.push(t);
      else if (role === 'state' && written.has(t.name)) tensors.push(t);
      else if (role === 'let' && written.has(t.name) && defs.some((d) => d.kind === 'let' && d.target === t.name)) tensors.push(t);
      else if (role === 'output' && defs.some((d) => d.kind === 'output' && d.target === t.name)) tensors.push(t);
    }
    for (const d of defs) if (d.kind === 'let' && !tensors.some((t) => t.name === d.target)) tensors.push(tensorFor(d.target, 'let', d.vars.map((v) => v.dim), byName.get(d.target)?.span ?? d.span));
    const all = [...tensors, ...extra.filter((t) => t.role !== 'input' || reads.has(`input:${t.name}`))];
    return { ...m, name, tensors: all, step: withoutUnreadLets(defs).kept, structures: [] };
  }

  return { walk: walkModule, core: coreModule, gate: gateModule, state, adjoint, gateState: D, F, G, gateAxes, from, sums };
}
