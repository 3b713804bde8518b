// The sequential kernel's program: the IR's definitions in execution order, each naming where it
// writes, with the work that does not depend on the state split out of the time loop (one splitter,
// two destinations): time-invariant sub-expressions (params and constants, the IR's dep 'param')
// become definitions computed once before the loop; state-independent products over the inputs (dep
// 'input', with a reduction: input projections, gate pre-activations) become definitions computed
// for every step at once by a pre-pass into a scratch buffer, when the kernel is asked for one. Also
// the slicing analysis that decides which state indices are independent.
import type { Def, IndexVar, Module, Node } from '../../src/compiler/ir/ir.js';
import type { DimSizes } from '../../src/compiler/ir/dims.js';

/**
 * Storage the kernel keeps per sequence slice: `state:X` (current), `next:X` (this step's update),
 * `let:X` (lets and outputs of the step), `elem:X` and `clet:X` (a monoid's element and combine locals),
 * `hoist:N` (a time-invariant sub-expression), `par:N` (a state-independent sub-expression, per step,
 * in scratch).
 */
export type LocalKey = string;

export interface KernelDef {
  def: Def;
  /** Where the value goes; `next:X` for a state update. */
  target: LocalKey;
  /** Computed once before the time loop. */
  invariant: boolean;
  /** An output: also written to the outputs buffer. */
  output: boolean;
  /** Computed for every step before the loop (by the pre-pass, into scratch). */
  parallel?: boolean;
}

export interface Program {
  defs: KernelDef[];
  /** Dims of every local tensor. */
  shapes: Map<LocalKey, string[]>;
  /** States whose next value a step computes (committed at the end of a valid step). */
  updated: string[];
  /** The params the kernel reads. */
  weights: string[];
  /** State-independent definitions the pre-pass computes for every step (empty unless asked for). */
  parallel: KernelDef[];
  /** The state-independent step lets by name: the pre-pass inlines what its definitions read. */
  lets: Map<string, Def>;
}

/** The key a load reads. */
export function loadKey(n: Extract<Node, { op: 'load' }>, monoid: boolean): LocalKey | undefined {
  switch (n.source) {
    case 'input':
    case 'param':
      return undefined;
    case 'state':
      // In a monoid cell the step's definitions after the monoid block read the state after this
      // step's combine (lowered as 'new'); an 'old' load, the state before it (the saving cell's).
      return n.version === 'new' ? `next:${n.tensor}` : `state:${n.tensor}`;
    case 'left':
      return `state:${n.tensor}`;
    case 'right':
      return `elem:${n.tensor}`;
    case 'let':
      return n.tensor.startsWith('hoist:') || n.tensor.startsWith('par:') ? n.tensor : `let:${n.tensor}`;
  }
}

/** Largest time-invariant sub-expression worth hoisting (elements); beyond it, recompute per step. */
const HOIST_LIMIT = 1024;

/** Whether the sub-DAG under `root` has a reduction: a product worth computing off the loop. */
function reduces(def: Def, root: number): boolean {
  const n = def.nodes[root]!;
  return n.op === 'reduce' || ('args' in n && n.args.some((a) => reduces(def, a)));
}

interface Split {
  /** Nodes that may move out (a maximal one moves: some parent may not). */
  movable: (n: Node) => boolean;
  /** Whether a maximal movable node is worth moving (its index space in elements). */
  worth: (def: Def, n: Node, elements: number) => boolean;
  prefix: 'hoist' | 'par';
  phase: 'invariant' | 'parallel';
}

/** Params and constants: computed once before the loop, when small enough to keep per unit. */
const INVARIANT: Split = { movable: (n) => n.dep === 'const' || n.dep === 'param', worth: (_, __, elements) => elements <= HOIST_LIMIT, prefix: 'hoist', phase: 'invariant' };
/** Inputs, params and constants, with a reduction (an input projection): computed per step by the pre-pass. */
const PARALLEL: Split = { movable: (n) => n.dep !== 'state', worth: (def, n) => n.dep === 'input' && reduces(def, n.id), prefix: 'par', phase: 'parallel' };

/**
 * Splits the maximal sub-expressions `split` may move (not a bare load or constant) out of a
 * definition into definitions over the sub-expression's free indices, and rewrites the original to
 * load them.
 */
function splitOut(def: Def, sizes: DimSizes, split: Split, fresh: () => string, into: KernelDef[]): Def {
  const parents = new Map<number, Node[]>();
  for (const n of def.nodes) if ('args' in n) for (const a of n.args) parents.set(a, [...(parents.get(a) ?? []), n]);
  const varDims = new Map<string, string>(def.vars.map((v) => [v.name, v.dim]));
  for (const n of def.nodes) if (n.op === 'reduce') varDims.set(n.over.name, n.over.dim);
  const nodes = def.nodes.slice();
  for (const n of def.nodes) {
    if (!split.movable(n) || n.op === 'const' || n.op === 'load' || n.type !== 'f32') continue;
    const ps = parents.get(n.id) ?? [];
    if (ps.length === 0 || ps.every(split.movable)) continue; // the root of a whole movable def, or not maximal
    const elements = n.space.reduce((k, v) => k * sizes[varDims.get(v)!]!, 1);
    if (!split.worth(def, n, elements)) continue;
    const name = fresh();
    const vars: IndexVar[] = n.space.map((v) => ({ name: v, dim: varDims.get(v)! }));
    into.push({ def: subDef(def, n.id, vars, name, split.phase), target: name, invariant: split.phase === 'invariant', output: false, ...(split.phase === 'parallel' ? { parallel: true } : {}) });
    nodes[n.id] = { id: n.id, op: 'load', source: 'let', tensor: name, index: n.space, type: 'f32', space: n.space, dep: n.dep, span: n.span };
  }
  return { ...def, nodes };
}

/** The sub-DAG under `root` as a definition of its own (node ids renumbered densely). */
function subDef(def: Def, root: number, vars: IndexVar[], target: string, phase: 'invariant' | 'parallel'): Def {
  const keep = new Set<number>();
  const visit = (id: number) => {
    if (keep.has(id)) return;
    keep.add(id);
    const n = def.nodes[id]!;
    if ('args' in n) n.args.forEach(visit);
  };
  visit(root);
  const ids = [...keep].sort((a, b) => a - b);
  const renumber = new Map(ids.map((id, k) => [id, k]));
  const nodes = ids.map((id) => {
    const n = def.nodes[id]!;
    const copy = { ...n, id: renumber.get(id)! } as Node;
    if ('args' in n) (copy as { args: number[] }).args = n.args.map((a) => renumber.get(a)!);
    return copy;
  });
  return { kind: 'let', target, vars, nodes, root: renumber.get(root)!, dep: def.nodes[root]!.dep, phase, span: def.nodes[root]!.span };
}

export interface ProgramOptions {
  /** Split state-independent products out to a pre-pass over every step (the seq backend's kernels). */
  parallel?: boolean;
}

export function buildProgram(m: Module, sizes: DimSizes, options: ProgramOptions = {}): Program {
  const monoid = m.monoid !== undefined;
  const raw: KernelDef[] = [];
  // Only a step let can be computed once: outputs are written every step, and updates, elements and
  // combine locals belong to the recurrence.
  const add = (def: Def, target: LocalKey, output = false) => raw.push({ def, target, invariant: def.phase === 'invariant' && target.startsWith('let:') && !output, output });
  if (m.monoid) {
    for (const d of m.monoid.element) add(d, `elem:${d.target}`);
    for (const d of m.monoid.combine) add(d, d.kind === 'let' ? `clet:${d.target}` : `next:${d.target}`);
  }
  for (const d of m.step) add(d, d.kind === 'update' ? `next:${d.target}` : `let:${d.target}`, d.kind === 'output');

  // Combine-local lets load with source 'let' but live under `clet:`.
  const combineLocals = new Set(m.monoid?.combine.filter((d) => d.kind === 'let').map((d) => d.target) ?? []);
  const rename = (def: Def): Def =>
    combineLocals.size === 0 ? def : { ...def, nodes: def.nodes.map((n) => (n.op === 'load' && n.source === 'let' && combineLocals.has(n.tensor) && !m.step.includes(def) ? { ...n, tensor: `clet:${n.tensor}` } : n)) };

  let counter = 0;
  let parCounter = 0;
  const defs: KernelDef[] = [];
  const parallel: KernelDef[] = [];
  const stepDefs = new Set(m.step);
  for (const k of raw) {
    // A whole state-independent step let with a product: the pre-pass computes it for every step.
    if (options.parallel && stepDefs.has(k.def) && k.def.kind === 'let' && k.def.phase === 'parallel' && reduces(k.def, k.def.root)) {
      parallel.push({ ...k, parallel: true });
      continue;
    }
    let def = rename(k.def);
    if (options.parallel && stepDefs.has(k.def) && !k.invariant) def = splitOut(def, sizes, PARALLEL, () => `par:${parCounter++}`, parallel);
    const hoisted: KernelDef[] = [];
    if (!k.invariant) def = splitOut(def, sizes, INVARIANT, () => `hoist:${counter++}`, hoisted);
    defs.push(...hoisted, { ...k, def });
  }
  const lets = new Map(m.step.filter((d) => d.kind === 'let' && d.dep !== 'state').map((d) => [d.target, d]));

  const ordered = inDependencyOrder(defs, monoid);

  const shapes = new Map<LocalKey, string[]>();
  for (const t of m.tensors) if (t.role === 'state') (shapes.set(`state:${t.name}`, t.dims), shapes.set(`next:${t.name}`, t.dims));
  for (const k of [...defs, ...parallel]) shapes.set(k.target, k.def.vars.map((v) => v.dim));
  const updated = [...new Set(defs.filter((k) => k.target.startsWith('next:')).map((k) => k.target.slice(5)))];
  // The params read, by the loop or by the pre-pass (directly or through a let it inlines).
  const readers = [...defs, ...parallel].map((k) => k.def);
  if (parallel.length) readers.push(...lets.values());
  const weights = m.tensors.filter((t) => t.role === 'param' && readers.some((d) => d.nodes.some((n) => n.op === 'load' && n.source === 'param' && n.tensor === t.name))).map((t) => t.name);
  return { defs: ordered, shapes, updated, weights, parallel, lets };
}

/**
 * The definitions in an order where each comes after those it reads, the time-invariant ones (computed
 * once, before the loop) first: a monoid element may read a step let that the source declares after
 * the monoid block, directly (`element h = sum(k: g[d, k])`) or through a hoisted sub-expression
 * (`min(c, 1)`). Otherwise the source order stays.
 */
function inDependencyOrder(defs: KernelDef[], monoid: boolean): KernelDef[] {
  const byTarget = new Map(defs.map((k) => [k.target, k]));
  const placed = new Set<LocalKey>();
  const out: KernelDef[] = [];
  const place = (k: KernelDef) => {
    if (placed.has(k.target)) return;
    placed.add(k.target);
    for (const n of k.def.nodes) {
      const read = n.op === 'load' ? keyOfLoad(n, monoid) : undefined;
      const dep = read === undefined || read === k.target ? undefined : byTarget.get(read);
      if (dep) place(dep);
    }
    out.push(k);
  };
  defs.filter((k) => k.invariant).forEach(place);
  defs.filter((k) => !k.invariant).forEach(place);
  return out;
}

/** `clet:` loads already carry their prefix; everything else goes through loadKey. */
export const keyOfLoad = (n: Extract<Node, { op: 'load' }>, monoid: boolean): LocalKey | undefined =>
  n.source === 'let' && n.tensor.startsWith('clet:') ? n.tensor : loadKey(n, monoid);

export interface Slicing {
  /** Independent axes: each a dim; one kernel unit per (sequence, coordinates on these axes). */
  axes: string[];
  /** Per local tensor: for each position, the axis it is sliced along, or -1 (kept whole per unit). */
  positions: Map<LocalKey, number[]>;
}

/**
 * Which state indices are independent. Positions of states and locals, and every definition's own
 * index variables, are united when a definition reads or writes a tensor through its own variable;
 * a class is coupled when some load reads a member through a reduction variable, or when one
 * definition has two variables in it (a transpose). Uncoupled classes that contain a state position
 * are the slice axes: every unit computes its own slice, and everything else whole.
 */
export function sliceProgram(p: Program, monoid: boolean, options: { parts?: boolean } = {}): Slicing {
  const parent = new Map<string, string>();
  const find = (x: string): string => {
    const up = parent.get(x);
    if (up === undefined || up === x) return x;
    const root = find(up);
    parent.set(x, root);
    return root;
  };
  const union = (a: string, b: string) => {
    const [ra, rb] = [find(a), find(b)];
    if (ra !== rb) parent.set(ra < rb ? rb : ra, ra < rb ? ra : rb);
  };
  const coupled = new Set<string>();
  const normal = (key: LocalKey) => (key.startsWith('next:') ? `state:${key.slice(5)}` : key);
  const pos = (key: LocalKey, p: number) => `${normal(key)}#${p}`;

  p.defs.forEach((k, di) => {
    const own = new Set(k.def.vars.map((v) => v.name));
    const varItem = (v: string) => `def${di}:${v}`;
    k.def.vars.forEach((v, i) => union(pos(k.target, i), varItem(v.name)));
    for (const n of k.def.nodes) {
      if (n.op !== 'load') continue;
      const key = keyOfLoad(n, monoid);
      if (!key) continue;
      n.index.forEach((v, i) => (own.has(v) ? union(pos(key, i), varItem(v)) : coupled.add(pos(key, i))));
    }
  });
  // A bidirectional cell (`parts`): its forward and reversed parts never meet, so their states' positions
  // are separate classes and no axis would slice every state. A state with the same dims as an earlier
  // one in another class joins it position by position: a unit then runs its slice of each part in lockstep.
  if (options.parts) {
    const states = [...p.shapes].filter(([key, dims]) => key.startsWith('state:') && dims.length > 0);
    states.forEach(([key, dims], k) => {
      const twin = states.slice(0, k).find(([other, d]) => d.length === dims.length && d.every((x, i) => x === dims[i]) && dims.every((_, i) => find(pos(other, i)) !== find(pos(key, i))));
      if (twin) dims.forEach((_, i) => union(pos(twin[0], i), pos(key, i)));
    });
  }
  const coupledRoots = new Set([...coupled].map(find));
  p.defs.forEach((k, di) => {
    const roots = k.def.vars.map((v) => find(`def${di}:${v.name}`));
    roots.forEach((r, i) => roots.indexOf(r) !== i && coupledRoots.add(r));
  });

  // Axes in a fixed order: by first appearance among the states' positions (in declaration order).
  // An axis that some state with dims is not sliced along would make every unit recompute that
  // state whole, and the units multiply across axes: the backward cell's param accumulators, each
  // independent along its own two dims, made 4^4 · 8^4 units per sequence of LSTM's backward, each
  // redoing the whole adjoint recurrence. So an axis must slice every state that has dims.
  const stateRoots = [...p.shapes].filter(([key, dims]) => key.startsWith('state:') && dims.length > 0).map(([key, dims]) => new Set(dims.map((_, i) => find(pos(key, i)))));
  const axisRoots: string[] = [];
  const axes: string[] = [];
  for (const [key, dims] of p.shapes) {
    if (!key.startsWith('state:')) continue;
    dims.forEach((dim, i) => {
      const r = find(pos(key, i));
      if (!coupledRoots.has(r) && !axisRoots.includes(r) && stateRoots.every((roots) => roots.has(r))) (axisRoots.push(r), axes.push(dim));
    });
  }
  const positions = new Map<LocalKey, number[]>();
  for (const [key, dims] of p.shapes) positions.set(key, dims.map((_, i) => axisRoots.indexOf(find(pos(key, i)))));
  return { axes, positions };
}
