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
import { DefBuilder, Names, nodeCopier, phaseRule, withoutUnreadLets } from './build.js';
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

/** The flat index in D (the gate's axes, row-major) of a point of the state of sizes `dims`. */
export const gatePoint = (gateAxes: number[], dims: number[], point: number[]): number => gateAxes.reduce((o, ax) => o * dims[ax]! + point[ax]!, 0);
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

/** The expression under `root` of `def` copied into b (nodeCopier). */
const copyInto = (b: DefBuilder, def: Def, root: number, rename: (v: string) => string, load: (n: Load, index: string[]) => number, replace?: (id: number) => number | undefined): number =>
  nodeCopier(b, def, rename, load, replace)(root);

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

/** What `matchGate` found on the backward step and the forward cell. */
interface GateMatch {
  forward: Module;
  step: BackwardStep;
  state: string;
  adjoint: string;
  /** The backward's let holding the state after the step (the primal's). */
  newState: string;
  /** The params' accumulators of the backward step. */
  accumulators: Set<string>;
  lets: Map<string, Def>;
  /** The adjoint's update `d_h <- L · a`, its variables the state's (`full`). */
  update: Def;
  full: string[];
  /** L = `d_h.old + ι`: λ_t, and the node of ι in it; `fromL` renames L's variables to `full`. */
  L: Def;
  injection: number;
  fromL: (v: string) => string;
  /** The gate let, its index (a strict subset of `full`), its axes in the state and their variables; the other variables. */
  gateLet: Def;
  gateIndex: string[];
  gateAxes: number[];
  gateDims: string[];
  gateVars: IndexVar[];
  otherVars: IndexVar[];
  /** The forward's update `h <- a · h + b`, b's node, and its variables renamed to `full`. */
  fUpdate: Def;
  bRoot: number;
  fromForward: (v: string) => string;
  /** The let `Σ L · h_{t-1}` the identity replaces. */
  term: Def;
}

/**
 * The forms the identity needs, recognised on the backward step's IR (undefined where one is missing):
 * one state, its adjoint updated as `L · a` with `a` a let over some of its axes, L the old adjoint
 * plus a pointwise injection, the forward update `a · h + b` with b free of the state, and one let
 * `Σ L · h_{t-1}` (the gate's term).
 */
function matchGate(step: BackwardStep, forward: Module): GateMatch | undefined {
  const f = forward;
  const m = step.module;
  const { roles } = step;
  if (f.monoid || f.reversed || f.grid || f.tensors.some((t) => t.reversed)) return undefined;
  if (roles.stateAdjoints.length !== 1) return undefined;
  const { state, adjoint } = roles.stateAdjoints[0]!;
  const stateTensor = f.tensors.find((t) => t.name === state)!;
  const newState = step.newState.get(state);
  if (newState?.source !== 'let') return undefined;
  const lets = new Map(m.step.filter((d) => d.kind === 'let').map((d) => [d.target, d]));

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

  const lVars = L.vars.map((v) => v.name);
  const inj = operands(L, L.root, 'add', (n) => isLoad(n, 'state', adjoint) && n.version === 'old' && n.index.join() === lVars.join());
  if (!inj) return undefined;
  if ([...under(L, inj[1])].some((k) => L.nodes[k]!.op === 'reduce' || isLoad(L.nodes[k], 'state'))) return undefined;

  const fUpdate = f.step.find((d) => d.kind === 'update' && d.target === state);
  if (!fUpdate) return undefined;
  const fFull = fUpdate.vars.map((v) => v.name);
  const fTerms = operands(fUpdate, fUpdate.root, 'add', (n) => n.op === 'binary' && n.fn === 'mul' && n.dep === 'state');
  const decay = fTerms && operands(fUpdate, fTerms[0], 'mul', (n) => isLoad(n, 'state', state) && n.version !== 'new' && n.index.join() === fFull.join());
  const fGate = decay && fUpdate.nodes[decay[1]];
  if (!decay || !isLoad(fGate, 'let', gateLet.target) || fGate.index.map((v) => fFull.indexOf(v)).join() !== gateAxes.join()) return undefined;
  if ([...under(fUpdate, fTerms[1])].some((k) => isLoad(fUpdate.nodes[k], 'state'))) return undefined;

  // The gate's term: a let Σ_other L · h_{t-1} (h_{t-1} the saved state, an input under the state's name).
  const isGateTerm = (d: Def) => {
    if (d.kind !== 'let' || d.nodes[d.root]!.op !== 'reduce') return false;
    let id = d.root;
    while (d.nodes[id]!.op === 'reduce') id = argsOf(d.nodes[id]!)[0]!;
    const pair = operands(d, id, 'mul', (n) => isLoad(n, 'let', L.target));
    return pair !== undefined && isLoad(d.nodes[pair[1]], 'input', state);
  };
  const terms = m.step.filter(isGateTerm);
  if (terms.length !== 1) return undefined;

  return {
    forward: f,
    step,
    state,
    adjoint,
    newState: newState.tensor,
    accumulators: new Set(roles.paramAdjoints.map((r) => r.adjoint)),
    lets,
    update,
    full,
    L,
    injection: inj[1],
    fromL: (v) => (lVars.includes(v) ? full[lVars.indexOf(v)]! : v),
    gateLet,
    gateIndex,
    gateAxes,
    gateDims,
    gateVars: gateIndex.map((name, p) => ({ name, dim: gateDims[p]! })),
    otherVars: update.vars.filter((v) => !gateIndex.includes(v.name)),
    fUpdate,
    bRoot: fTerms[1],
    fromForward: (v) => (fFull.includes(v) ? full[fFull.indexOf(v)]! : v),
    term: terms[0]!,
  };
}

/**
 * The backward step's definitions without the gate's term and the adjoint's update, every
 * `(term) · a` read as `D` (an input named `dlog`); undefined where the term is read otherwise.
 */
function rewriteGateTerm(g: GateMatch, dlog: string): Def[] | undefined {
  const rewritten: Def[] = [];
  for (const d of g.step.module.step) {
    if (d === g.term || d === g.update) continue;
    if (!d.nodes.some((n) => isLoad(n, 'let', g.term.target))) {
      rewritten.push(d);
      continue;
    }
    const products = new Map<number, string[]>();
    for (const n of d.nodes) {
      const pair = operands(d, n.id, 'mul', (x) => isLoad(x, 'let', g.term.target));
      const other = pair && d.nodes[pair[1]]!;
      const read = pair && (d.nodes[pair[0]] as Load);
      if (other && read && isLoad(other, 'let', g.gateLet.target) && other.index.join() === read.index.join()) products.set(n.id, read.index);
    }
    const b = new DefBuilder(d.vars, () => 'input', d.span);
    let stray = false;
    const root = copyInto(
      b,
      d,
      d.root,
      (v) => v,
      (n, index) => {
        if (isLoad(n, 'let', g.term.target)) stray = true;
        return b.load(n.source, n.tensor, index, n.version);
      },
      (id) => (products.has(id) ? b.load('input', dlog, products.get(id)!) : undefined),
    );
    if (stray) return undefined;
    rewritten.push(b.def(d.kind, d.target, root, () => d.phase));
  }
  return rewritten;
}

/**
 * Each input's gradient and each param's sum → the cell of what it reads: the adjoint (core), the
 * forward state (walk), D (gate); one that reads none (inputs only) goes in the gate cell.
 * Undefined where one reads two, or L reads more than the adjoint.
 */
function assignCells(g: GateMatch, rewritten: Def[], dlog: string): Map<string, Cls> | undefined {
  const classes = new Map<string, Set<Cls>>();
  const classesOf = (d: Def): Set<Cls> => {
    const out = new Set<Cls>();
    for (const n of d.nodes) {
      if (n.op !== 'load') continue;
      if (n.source === 'state' && n.tensor === g.adjoint) out.add('core');
      else if (n.source === 'input' && n.tensor === g.state) out.add('walk');
      else if (n.source === 'input' && n.tensor === dlog) out.add('gate');
      else if (n.source === 'let') classes.get(n.tensor)?.forEach((c) => out.add(c));
    }
    return out;
  };
  for (const d of rewritten) if (d.kind === 'let') classes.set(d.target, classesOf(d));
  if ([...classes.get(g.L.target)!].join() !== 'core') return undefined;
  const cellOf = new Map<string, Cls>();
  for (const d of rewritten.filter((x) => isResult(g, x))) {
    const c = [...classesOf(d)];
    if (c.length > 1) return undefined;
    cellOf.set(d.target, c[0] ?? 'gate');
  }
  return cellOf;
}

/** An input's gradient (an output) or a param's sum (an accumulator's update). */
const isResult = (g: GateMatch, d: Def) => d.kind === 'output' || (d.kind === 'update' && g.accumulators.has(d.target));

interface GateNames {
  dlog: string;
  F: string;
  G: string;
}

/**
 * The walk: the forward cell (its outputs left out: the forward run's), then the walk's results and
 * F, reading the state before and after the step as the state itself (the saved state and the
 * primal's new state of the backward step). Undefined where they read the state before the step
 * otherwise (that would be a second core).
 */
function walkCell(g: GateMatch, rewritten: Def[], results: Def[], n: GateNames): Module | undefined {
  const f = g.forward;
  const m = g.step.module;
  const tensorOf = new Map(m.tensors.map((t) => [t.name, t]));
  const walk = new ModuleBuilder(f.step);
  const fLets = new Set(f.tensors.filter((t) => t.role === 'let').map((t) => t.name));
  const injection: Def = { ...g.L, nodes: [...under(g.L, g.injection)].map((k) => g.L.nodes[k]!) };
  const walkLets = letsNeeded(rewritten, [...results, injection], (x) => fLets.has(x) || x === g.newState);
  const names = new Names([...f.tensors, ...m.tensors].map((t) => t.name).concat([n.dlog, n.F, n.G]));
  const renamed = new Map(walkLets.map((d) => [d.target, names.fresh(`${d.target}_walk`)]));
  const inputs = new Set<string>();
  const load = (b: DefBuilder) => (x: Load, index: string[]) => {
    if (x.source === 'input' && x.tensor === g.state) return b.load('state', g.state, index, 'old');
    if (x.source === 'let' && x.tensor === g.newState) return b.load('state', g.state, index, 'new');
    if (x.source === 'let') return b.load('let', renamed.get(x.tensor) ?? x.tensor, index);
    if (x.source === 'input' || x.source === 'param') inputs.add(x.tensor);
    return b.load(x.source, x.tensor, index, x.version);
  };
  for (const d of walkLets) walk.add('let', renamed.get(d.target)!, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, load(b)));
  for (const d of results) walk.add(d.kind, d.target, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, load(b)));
  walk.add('output', n.F, g.gateVars, g.update.span, (b) => sumOfProduct(b, copyInto(b, g.L, g.injection, g.fromL, load(b)), b.load('state', g.state, g.full, 'new'), g.otherVars));
  // (An accumulator reads its own state before the step: not the forward's.)
  if (walk.defs.some((d) => d.nodes.some((x) => isLoad(x, 'state', g.state) && x.version !== 'new') || (d.kind === 'let' && d.phase === 'core'))) return undefined;
  const fNames = new Set(f.tensors.map((t) => t.name));
  return {
    ...f,
    name: `${f.name}_grad_walk`,
    tensors: [
      ...f.tensors.filter((t) => t.role !== 'output'),
      ...[...inputs].filter((x) => !fNames.has(x)).map((x) => tensorOf.get(x)!),
      ...walkLets.map((d) => tensorFor(renamed.get(d.target)!, 'let', d.vars.map((v) => v.dim), d.span)),
      ...results.map((d) => tensorOf.get(d.target)!),
      tensorFor(n.F, 'output', g.gateDims, g.update.span),
    ],
    step: [...f.step.filter((d) => d.kind !== 'output'), ...walk.defs],
    structures: [],
  };
}

/**
 * The core: the adjoint recurrence, its results and G = Σ_other L · b (the forward lets b reads that
 * the backward step lacks copied in). Undefined where b or the core reads the state.
 */
function coreCell(g: GateMatch, rewritten: Def[], results: Def[], n: GateNames): Module | undefined {
  const f = g.forward;
  const m = g.step.module;
  const core = new ModuleBuilder();
  const fLetDefs = f.step.filter((d) => d.kind === 'let');
  const copied = new Set<string>();
  const load = (b: DefBuilder) => (x: Load, index: string[]) => b.load(x.source, x.tensor, index, x.version);
  const reachable = (d: Def): boolean =>
    d.nodes.every((x) => {
      if (x.op !== 'load') return true;
      if (x.source === 'state') return false;
      if (x.source !== 'let' || g.lets.has(x.tensor) || copied.has(x.tensor)) return true;
      const def = fLetDefs.find((y) => y.target === x.tensor);
      if (!def || !reachable(def)) return false;
      copied.add(x.tensor);
      return true;
    });
  const b: Def = { ...g.fUpdate, nodes: [...under(g.fUpdate, g.bRoot)].map((k) => g.fUpdate.nodes[k]!) };
  if (!reachable(b)) return undefined;
  for (const d of fLetDefs.filter((x) => copied.has(x.target))) core.add('let', d.target, d.vars, d.span, (x) => copyInto(x, d, d.root, (v) => v, load(x)));
  for (const d of letsNeeded(rewritten, [g.update, ...results, b])) core.add('let', d.target, d.vars, d.span, (x) => copyInto(x, d, d.root, (v) => v, load(x)));
  core.add('update', g.adjoint, g.update.vars, g.update.span, (x) => copyInto(x, g.update, g.update.root, (v) => v, load(x)));
  for (const d of results) core.add(d.kind, d.target, d.vars, d.span, (x) => copyInto(x, d, d.root, (v) => v, load(x)));
  core.add('output', n.G, g.gateVars, g.update.span, (x) => sumOfProduct(x, x.load('let', g.L.target, g.full), copyInto(x, g.fUpdate, g.bRoot, g.fromForward, load(x)), g.otherVars));
  const module = cellModule(m, `${m.name}_core`, core.defs, [...m.tensors, ...f.tensors], [tensorFor(n.G, 'output', g.gateDims, g.update.span)]);
  return module.tensors.some((t) => t.role === 'input' && t.name === g.state) ? undefined : module;
}

/** The gate cell: D <- D + F - G, and the results that read D (the primal lets they read recomputed). */
function gateCell(g: GateMatch, rewritten: Def[], results: Def[], n: GateNames): Module {
  const m = g.step.module;
  const gate = new ModuleBuilder();
  const span = g.update.span;
  const load = (b: DefBuilder) => (x: Load, index: string[]) => (x.source === 'input' && x.tensor === n.dlog ? b.load('state', n.dlog, index, 'new') : b.load(x.source, x.tensor, index, x.version));
  gate.add('update', n.dlog, g.gateVars, span, (b) => b.add2(b.load('state', n.dlog, g.gateIndex, 'old'), b.binary('sub', b.load('input', n.F, g.gateIndex), b.load('input', n.G, g.gateIndex))));
  for (const d of letsNeeded(rewritten, results)) gate.add('let', d.target, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, load(b)));
  for (const d of results) gate.add(d.kind, d.target, d.vars, d.span, (b) => copyInto(b, d, d.root, (v) => v, load(b)));
  const known = [...m.tensors, tensorFor(n.F, 'input', g.gateDims, span), tensorFor(n.G, 'input', g.gateDims, span), tensorFor(n.dlog, 'state', g.gateDims, span, { kind: 'const', value: 0 })];
  return cellModule(m, `${m.name}_gate`, gate.defs, known, []);
}

/** A cell of `defs` over the backward step's dims: the tensors of `known` they read or write, and `extra` (its inputs where read). */
function cellModule(m: Module, name: string, defs: Def[], known: Tensor[], extra: Tensor[]): Module {
  const byName = new Map(known.map((t) => [t.name, t]));
  const reads = new Set(defs.flatMap((d) => d.nodes.flatMap((n) => (n.op === 'load' && n.source !== 'let' ? [`${n.source}:${n.tensor}`] : []))));
  const written = new Set(defs.map((d) => d.target));
  const tensors: Tensor[] = [];
  for (const t of known) {
    if (tensors.some((x) => x.name === t.name) || extra.some((x) => x.name === t.name)) continue;
    const role = t.role;
    if ((role === 'input' || role === 'param') && reads.has(`${role}:${t.name}`)) tensors.push(t);
    else if (role === 'state' && written.has(t.name)) tensors.push(t);
    else if (role === 'let' && defs.some((d) => d.kind === 'let' && d.target === t.name)) tensors.push(t);
    else if (role === 'output' && defs.some((d) => d.kind === 'output' && d.target === t.name)) tensors.push(t);
  }
  for (const d of defs) if (d.kind === 'let' && !tensors.some((t) => t.name === d.target)) tensors.push(tensorFor(d.target, 'let', d.vars.map((v) => v.dim), byName.get(d.target)?.span ?? d.span));
  return { ...m, name, tensors: [...tensors, ...extra.filter((t) => t.role !== 'input' || reads.has(`input:${t.name}`))], step: withoutUnreadLets(defs).kept, structures: [] };
}

export function gateBackward(step: BackwardStep, forward: Module): GatedBackward | undefined {
  const g = matchGate(step, forward);
  if (!g) return undefined;
  const taken = new Names([...forward.tensors, ...step.module.tensors].map((t) => t.name));
  const names: GateNames = { dlog: taken.fresh(`d_log_${g.gateLet.target}`), F: taken.fresh(`${g.gateLet.target}_state_term`), G: taken.fresh(`${g.gateLet.target}_adjoint_term`) };
  const rewritten = rewriteGateTerm(g, names.dlog);
  const cellOf = rewritten && assignCells(g, rewritten, names.dlog);
  if (!rewritten || !cellOf) return undefined;
  // A cell's results: its outputs and its accumulators' updates, in the step's order.
  const resultsOf = (c: Cls) => rewritten.filter((d) => isResult(g, d) && cellOf.get(d.target) === c);
  const walk = walkCell(g, rewritten, resultsOf('walk'), names);
  const core = coreCell(g, rewritten, resultsOf('core'), names);
  if (!walk || !core) return undefined;
  const gate = gateCell(g, rewritten, resultsOf('gate'), names);
  const pick = (sums: boolean) => new Map([...cellOf].filter(([name]) => g.accumulators.has(name) === sums));
  return { walk, core, gate, state: g.state, adjoint: g.adjoint, gateState: names.dlog, F: names.F, G: names.G, gateAxes: g.gateAxes, from: pick(false), sums: pick(true) };
}
