// The primal of the backward step: one forward step as a flat list of lets in one namespace, in a
// normal form that makes reverse mode a matter of local rules.
//
// - Every statement becomes a let: an update `s <- e` the let `s_new`, an output its own let, a
//   monoid's element, combine lets and combine (running state ⊕ element) lets too. The state before
//   the step is an *input* of the backward step (saved by the forward run, or recomputed from a
//   checkpoint), read under the state's own name; `left.s` reads it, `right.s` the element's let.
// - Every reduction is its own let, over the reduction's free indices (nested ones too), so that a
//   definition is either pointwise (no reduction) or one reduction of a pointwise body. A reverse
//   rule then never recomputes a reduction inside another loop, and the forward values the adjoints
//   need are whole tensors (the let of each reduction, or a pointwise expression of such lets).
import { tensorsOf, type Def, type Dep, type IndexVar, type Module, type Node, type Source } from '../ir/ir.js';
import { DefBuilder, GradError, type Names } from './build.js';

export interface Primal {
  /** The step's values as lets, in an order where each reads only earlier ones. */
  defs: Def[];
  /** Per forward state, the tensor holding it after the step: a let, or the saved state itself when nothing updates it. */
  newState: Map<string, { source: 'let' | 'input'; tensor: string }>;
  /** Dependence of every let. */
  letDeps: Map<string, Dep>;
}

type LoadNode = Extract<Node, { op: 'load' }>;
/** What a forward load reads in the primal's namespace. */
type LoadMap = (n: LoadNode) => { source: Source; tensor: string; index: string[] };

/** The dim of every index variable of a definition (its own and every reduction's); one name, one dim. */
export function varDims(def: Def): Map<string, string> {
  const dims = new Map(def.vars.map((v) => [v.name, v.dim]));
  for (const n of def.nodes) {
    if (n.op !== 'reduce') continue;
    const known = dims.get(n.over.name);
    if (known !== undefined && known !== n.over.dim) throw new GradError(`${def.kind} ${def.target}: the index \`${n.over.name}\` ranges over ${known} and over ${n.over.dim}; rename one to differentiate it`);
    dims.set(n.over.name, n.over.dim);
  }
  return dims;
}

export function primalOf(m: Module, names: Names): Primal {
  const defs: Def[] = [];
  const letDeps = new Map<string, Dep>();
  const depOf = (source: Source, tensor: string): Dep => (source === 'input' ? 'input' : source === 'param' ? 'param' : (letDeps.get(tensor) ?? 'const'));
  const states = tensorsOf(m, 'state').map((s) => s.name);
  const updated = new Set(m.monoid ? states : m.step.filter((d) => d.kind === 'update').map((d) => d.target));
  const newState = new Map(states.map((s) => [s, updated.has(s) ? { source: 'let' as const, tensor: names.fresh(`${s}_new`) } : { source: 'input' as const, tensor: s }]));

  /**
   * A forward definition as primal lets: reductions split out, loads renamed by `map`. Sibling
   * reductions may use one index name over different dims (`sum(j: A[i, j] …) + sum(j: B[i, j] …)`
   * with j over N, then M); the primal gives each (name, dim) a name of its own, so that in the
   * primal an index name means one dim in a whole definition. (No node lies under both: a load pins
   * its index to its tensor's dim.)
   */
  const translate = (def: Def, target: string, map: LoadMap) => {
    const dimOf = new Map(def.vars.map((v) => [v.name, v.dim]));
    const named = new Map<string, string>();
    const nameFor = (over: IndexVar): string => {
      const key = `${over.name}:${over.dim}`;
      let name = named.get(key);
      if (name === undefined) {
        name = over.name;
        for (let k = 2; dimOf.has(name) && dimOf.get(name) !== over.dim; k++) name = `${over.name}_${k}`;
        dimOf.set(name, over.dim);
        named.set(key, name);
      }
      return name;
    };
    /** The reduction indices in scope, by their forward name. */
    const scope = new Map<string, string>();
    const renamed = (v: string) => scope.get(v) ?? v;
    const split = new Map<number, string>();
    const copy = (id: number, b: DefBuilder, memo: Map<number, number>, isRoot: boolean): number => {
      const known = memo.get(id);
      if (known !== undefined) return known;
      const n = def.nodes[id]!;
      let out: number;
      switch (n.op) {
        case 'const':
          out = b.constant(n.value);
          break;
        case 'load': {
          const to = map(n);
          out = b.load(to.source, to.tensor, to.index.map(renamed));
          break;
        }
        case 'unary':
          out = b.unary(n.fn, copy(n.args[0], b, memo, false));
          break;
        case 'binary':
          out = b.binary(n.fn, copy(n.args[0], b, memo, false), copy(n.args[1], b, memo, false));
          break;
        case 'select':
          out = b.select(...(n.args.map((a) => copy(a, b, memo, false)) as [number, number, number]));
          break;
        case 'reduce': {
          // The root of a definition over exactly its free indices stays; any other reduction becomes a let.
          if (isRoot && n.space.length === b.vars.length) {
            const over = { name: nameFor(n.over), dim: n.over.dim };
            const outer = scope.get(n.over.name);
            scope.set(n.over.name, over.name);
            const body = copy(n.args[0], b, memo, false);
            if (outer === undefined) scope.delete(n.over.name);
            else scope.set(n.over.name, outer);
            out = b.reduce(n.fn, over, body);
            break;
          }
          const space = n.space.map(renamed);
          let name = split.get(id);
          if (name === undefined) {
            name = names.fresh(`${target}_${n.fn}`);
            split.set(id, name);
            const vars: IndexVar[] = space.map((v) => ({ name: v, dim: dimOf.get(v)! }));
            emit(name, vars, def, (sub) => copy(id, sub, new Map(), true));
          }
          out = b.load('let', name, space);
          break;
        }
      }
      memo.set(id, out);
      return out;
    };
    emit(target, def.vars, def, (b) => copy(def.root, b, new Map(), true));
  };
  const emit = (target: string, vars: IndexVar[], from: Def, body: (b: DefBuilder) => number) => {
    const b = new DefBuilder(vars, depOf, from.span);
    const root = body(b);
    const def = b.def('let', target, root, () => 'core');
    letDeps.set(target, def.dep);
    defs.push({ ...def, phase: def.dep === 'const' || def.dep === 'param' ? 'invariant' : 'parallel' });
  };

  const stateLoad = (n: LoadNode) => {
    const to = n.version === 'new' ? newState.get(n.tensor)! : { source: 'input' as const, tensor: n.tensor };
    return { ...to, index: n.index };
  };
  const plain = (n: LoadNode) => (n.source === 'state' ? stateLoad(n) : { source: n.source, tensor: n.tensor, index: n.index });
  const targetOf = (d: Def) => (d.kind === 'update' ? newState.get(d.target)!.tensor : d.target);

  if (!m.monoid) {
    for (const d of m.step) translate(d, targetOf(d), plain);
    return { defs, newState, letDeps };
  }
  // A monoid: the state becomes combine(state, element) first; the statements read the combined state.
  const monoid = m.monoid;
  const element = new Map(monoid.element.map((d) => [d.target, names.fresh(`${d.target}_element`)]));
  const local = new Map(monoid.combine.filter((d) => d.kind === 'let').map((d) => [d.target, names.fresh(d.target)]));
  const inCombine = (n: LoadNode) => {
    if (n.source === 'left') return { source: 'input' as const, tensor: n.tensor, index: n.index };
    if (n.source === 'right') return { source: 'let' as const, tensor: element.get(n.tensor)!, index: n.index };
    if (n.source === 'let' && local.has(n.tensor)) return { source: 'let' as const, tensor: local.get(n.tensor)!, index: n.index };
    return plain(n);
  };
  for (const d of m.step) if (d.dep !== 'state') translate(d, d.target, plain);
  for (const d of monoid.element) translate(d, element.get(d.target)!, plain);
  for (const d of monoid.combine) translate(d, d.kind === 'let' ? local.get(d.target)! : newState.get(d.target)!.tensor, inCombine);
  for (const d of m.step) if (d.dep === 'state') translate(d, d.target, (n) => (n.source === 'state' ? { ...newState.get(n.tensor)!, index: n.index } : plain(n)));
  return { defs, newState, letDeps };
}
