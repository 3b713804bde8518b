// Expression trees for the analysis. The IR is a DAG per definition whose lets are loads of other
// definitions; the structure analysis needs to see through the lets that read the state (an LSTM
// gate, DeltaProduct's intermediate `S1`), so it works on trees in which those lets are inlined,
// their index variables substituted and their reduction variables renamed apart. Trees go back to
// IR definitions (`toDef`) when the analysis builds a scan plan.
import type { Span } from '../syntax/ast.js';
import type { BinaryFn, Reducer, UnaryFn } from '../builtins.js';
import { joinDep, type ArithFn, type CompareFn, type Def, type DefKind, type Dep, type IndexVar, type Module, type Node, type Phase, type Source } from '../ir/ir.js';

export type Term =
  | { op: 'const'; value: number; span: Span }
  | { op: 'load'; source: Source; tensor: string; index: string[]; version?: 'old' | 'new'; reversed?: true; span: Span }
  | { op: 'unary'; fn: UnaryFn | 'neg'; arg: Term; span: Span }
  | { op: 'binary'; fn: ArithFn | BinaryFn | CompareFn; args: [Term, Term]; span: Span }
  | { op: 'select'; args: [Term, Term, Term]; span: Span }
  | { op: 'reduce'; fn: Reducer; over: IndexVar; arg: Term; span: Span };

export type LoadTerm = Extract<Term, { op: 'load' }>;

const noSpan: Span = { start: 0, end: 0 };
export const constant = (value: number, span: Span = noSpan): Term => ({ op: 'const', value, span });
export const binary = (fn: Extract<Term, { op: 'binary' }>['fn'], a: Term, b: Term, span: Span = noSpan): Term => ({ op: 'binary', fn, args: [a, b], span });
export const unary = (fn: UnaryFn | 'neg', arg: Term, span: Span = noSpan): Term => ({ op: 'unary', fn, arg, span });
export const load = (source: Source, tensor: string, index: string[], version?: 'old' | 'new'): LoadTerm => ({ op: 'load', source, tensor, index, ...(version ? { version } : {}), span: noSpan });
export const reduce = (fn: Reducer, over: IndexVar, arg: Term, span: Span = noSpan): Term => ({ op: 'reduce', fn, over, arg, span });

/** Fresh index-variable names, unique within one analysis of one definition. */
export class NameSupply {
  private readonly used: Set<string>;
  constructor(used: Iterable<string>) {
    this.used = new Set(used);
  }
  fresh(base: string): string {
    let name = base;
    for (let k = 1; this.used.has(name); k++) name = `${base}${k}`;
    this.used.add(name);
    return name;
  }
}

export interface ExpandOptions {
  /** Which lets to inline (by name); the others stay loads. */
  inline: (letDef: Def) => boolean;
}

/**
 * Inlining turns the IR's DAG into a tree, which doubles with every let that reads the one before
 * it twice (`let a1 = a0 * a0 + a0`, ...): past this many nodes the expansion stops. The published
 * cells stay under 110 (DeltaProduct-3: 106).
 */
export const MAX_EXPANDED_NODES = 4096;

/** The expansion of an update went past MAX_EXPANDED_NODES; `inlined` is the let being inlined then. */
export class ExpansionTooLarge extends Error {
  constructor(readonly inlined: Def) {
    super(`the expression grows past ${MAX_EXPANDED_NODES} terms when \`${inlined.target}\` is inlined`);
  }
}

/** The tree of `def`'s root, lets chosen by `options` inlined (recursively). */
export function expand(module: Module, def: Def, options: ExpandOptions, names: NameSupply): Term {
  const lets = new Map(module.step.filter((d) => d.kind === 'let' || d.kind === 'output').map((d) => [d.target, d]));
  let made = 0;
  const walk = (d: Def, id: number, env: Map<string, string>): Term => {
    if (++made > MAX_EXPANDED_NODES) throw new ExpansionTooLarge(d);
    const n = d.nodes[id]!;
    const rename = (v: string) => env.get(v) ?? v;
    switch (n.op) {
      case 'const':
        return { op: 'const', value: n.value, span: n.span };
      case 'load': {
        const index = n.index.map(rename);
        const letDef = n.source === 'let' ? lets.get(n.tensor) : undefined;
        if (letDef && options.inline(letDef)) {
          const inner = new Map(letDef.vars.map((v, k) => [v.name, index[k]!]));
          return walk(letDef, letDef.root, inner);
        }
        return { op: 'load', source: n.source, tensor: n.tensor, index, ...(n.version ? { version: n.version } : {}), ...(n.reversed ? { reversed: n.reversed } : {}), span: n.span };
      }
      case 'unary':
        return { op: 'unary', fn: n.fn, arg: walk(d, n.args[0], env), span: n.span };
      case 'binary':
        return { op: 'binary', fn: n.fn, args: [walk(d, n.args[0], env), walk(d, n.args[1], env)], span: n.span };
      case 'select':
        return { op: 'select', args: [walk(d, n.args[0], env), walk(d, n.args[1], env), walk(d, n.args[2], env)], span: n.span };
      case 'reduce': {
        const fresh = names.fresh(n.over.name);
        const over = { name: fresh, dim: n.over.dim };
        return { op: 'reduce', fn: n.fn, over, arg: walk(d, n.args[0], new Map(env).set(n.over.name, fresh)), span: n.span };
      }
    }
  };
  return walk(def, def.root, new Map());
}

/** Free index variables of a term. */
export function freeVars(t: Term, out = new Set<string>()): Set<string> {
  switch (t.op) {
    case 'const':
      return out;
    case 'load':
      t.index.forEach((v) => out.add(v));
      return out;
    case 'unary':
      return freeVars(t.arg, out);
    case 'binary':
    case 'select':
      t.args.forEach((a) => freeVars(a, out));
      return out;
    case 'reduce': {
      const inner = freeVars(t.arg);
      inner.delete(t.over.name);
      inner.forEach((v) => out.add(v));
      return out;
    }
  }
}

/** Renames free index variables. Bound ones are unique after `expand`, so no capture can happen. */
export function renameVars(t: Term, map: Map<string, string>): Term {
  switch (t.op) {
    case 'const':
      return t;
    case 'load':
      return { ...t, index: t.index.map((v) => map.get(v) ?? v) };
    case 'unary':
      return { ...t, arg: renameVars(t.arg, map) };
    case 'binary':
      return { ...t, args: [renameVars(t.args[0], map), renameVars(t.args[1], map)] };
    case 'select':
      return { ...t, args: [renameVars(t.args[0], map), renameVars(t.args[1], map), renameVars(t.args[2], map)] };
    case 'reduce':
      return { ...t, arg: renameVars(t.arg, map) };
  }
}

/** All loads in a term, in evaluation order. */
export function loadsOf(t: Term, out: LoadTerm[] = []): LoadTerm[] {
  switch (t.op) {
    case 'const':
      return out;
    case 'load':
      out.push(t);
      return out;
    case 'unary':
    case 'reduce':
      return loadsOf(t.arg, out);
    case 'binary':
    case 'select':
      t.args.forEach((a) => loadsOf(a, out));
      return out;
  }
}

/** A stable text key for a term, ignoring spans (used to compare coefficients). */
export function termKey(t: Term): string {
  switch (t.op) {
    case 'const':
      return String(t.value);
    case 'load':
      return `${t.source}${t.version ? '.' + t.version : ''}${t.reversed ? '.reversed' : ''}:${t.tensor}[${t.index.join(',')}]`;
    case 'unary':
      return `${t.fn}(${termKey(t.arg)})`;
    case 'binary':
      return `${t.fn}(${termKey(t.args[0])},${termKey(t.args[1])})`;
    case 'select':
      return `select(${t.args.map(termKey).join(',')})`;
    case 'reduce':
      return `${t.fn}(${t.over.name}:${termKey(t.arg)})`;
  }
}

const compareFns = new Set(['lt', 'le', 'gt', 'ge', 'eq', 'ne']);

/**
 * An IR definition `target[vars] = t`: nodes hash-consed in topological order, each with its type,
 * its space (free indices: the definition's variables first, in order, then the others by name)
 * and its dependence. `depOfLet` gives the dependence of a step let the term still loads.
 */
export function toDef(kind: DefKind, target: string, vars: IndexVar[], t: Term, span: Span, depOfLet: (name: string) => Dep): Def {
  const nodes: Node[] = [];
  const keys = new Map<string, number>();
  const order = vars.map((v) => v.name);
  const sortSpace = (s: Set<string>) =>
    [...s].sort((a, b) => (order.indexOf(a) === -1 ? 1e9 : order.indexOf(a)) - (order.indexOf(b) === -1 ? 1e9 : order.indexOf(b)) || a.localeCompare(b));
  const add = (spec: Omit<Node, 'id'>): number => {
    const { span: _span, ...rest } = spec;
    const key = JSON.stringify(rest);
    const known = keys.get(key);
    if (known !== undefined) return known;
    const id = nodes.length;
    nodes.push({ id, ...spec } as Node);
    keys.set(key, id);
    return id;
  };
  const spaceOf = (args: number[], remove?: string) => {
    const s = new Set(args.flatMap((a) => nodes[a]!.space));
    if (remove) s.delete(remove);
    return sortSpace(s);
  };
  const depOf = (args: number[]) => joinDep(...args.map((a) => nodes[a]!.dep));
  const build = (x: Term): number => {
    switch (x.op) {
      case 'const':
        return add({ op: 'const', value: x.value, type: 'f32', space: [], dep: 'const', span: x.span } as Omit<Node, 'id'>);
      case 'load': {
        const dep: Dep = x.source === 'input' ? 'input' : x.source === 'param' ? 'param' : x.source === 'let' ? depOfLet(x.tensor) : 'state';
        return add({ op: 'load', source: x.source, tensor: x.tensor, index: x.index, ...(x.version ? { version: x.version } : {}), ...(x.reversed ? { reversed: x.reversed } : {}), type: 'f32', space: sortSpace(new Set(x.index)), dep, span: x.span } as Omit<Node, 'id'>);
      }
      case 'unary': {
        const a = build(x.arg);
        return add({ op: 'unary', fn: x.fn, args: [a], type: 'f32', space: spaceOf([a]), dep: depOf([a]), span: x.span } as Omit<Node, 'id'>);
      }
      case 'binary': {
        const args = x.args.map(build) as [number, number];
        return add({ op: 'binary', fn: x.fn, args, type: compareFns.has(x.fn) ? 'bool' : 'f32', space: spaceOf(args), dep: depOf(args), span: x.span } as Omit<Node, 'id'>);
      }
      case 'select': {
        const args = x.args.map(build) as [number, number, number];
        return add({ op: 'select', args, type: 'f32', space: spaceOf(args), dep: depOf(args), span: x.span } as Omit<Node, 'id'>);
      }
      case 'reduce': {
        const a = build(x.arg);
        return add({ op: 'reduce', fn: x.fn, over: x.over, args: [a], type: 'f32', space: spaceOf([a], x.over.name), dep: nodes[a]!.dep, span: x.span } as Omit<Node, 'id'>);
      }
    }
  };
  const root = build(t);
  const dep = nodes[root]!.dep;
  const phase: Phase = kind === 'element' ? (dep === 'input' ? 'parallel' : dep === 'state' ? 'core' : 'invariant') : kind === 'identity' ? 'invariant' : 'core';
  return { kind, target, vars, nodes, root, dep, phase, span };
}
