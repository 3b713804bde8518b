// The IR: a typed per-step dataflow graph over index spaces.
//
// A module is a list of definitions (lets, state updates, outputs) in step order. Each definition
// `target[v1, ..., vn] = root` owns a small DAG of nodes in topological order; a node is defined over
// the index variables in its `space` (the free indices it depends on). Loads name the indices through
// which they read a tensor, so an analysis can see that `h[d, n]` reads the state through the
// definition's own indices (diagonal) or through a reduction variable (a contraction).
// Every node carries `dep`, the most variable thing it depends on, which is what hoisting needs.
import type { ArithFn, BinaryFn, CompareFn, Reducer, UnaryFn } from '../builtins.js';
import type { Span } from '../syntax/ast.js';

export type Type = 'f32' | 'bool';

/** Dependence lattice, ordered: const < param < input < state. */
export type Dep = 'const' | 'param' | 'input' | 'state';
export const depRank: Record<Dep, number> = { const: 0, param: 1, input: 2, state: 3 };
export const joinDep = (...ds: Dep[]): Dep => ds.reduce((a, b) => (depRank[b] > depRank[a] ? b : a), 'const');

export interface IndexVar {
  name: string;
  dim: string;
}

/** What a load reads: a declared tensor, an earlier let, or one operand of a monoid combine. */
export type Source = 'input' | 'param' | 'state' | 'let' | 'left' | 'right';

/** The IR names of operators, from the builtin table. */
export type { ArithFn, CompareFn };

interface NodeBase {
  id: number;
  type: Type;
  /** Free index variables, in the order of the definition's variables, then reduction variables. */
  space: string[];
  dep: Dep;
  span: Span;
}

export type Node = NodeBase &
  (
    | { op: 'const'; value: number }
    /** `reversed`: an input read by the `reversed` block of a bidirectional cell, at the position of its backward step. */
    /** `neighbour`: a grid cell's read of a state (version 'old') at the position to the left or above (`h.left`, `h.up`). */
    | { op: 'load'; source: Source; tensor: string; index: string[]; version?: 'old' | 'new'; reversed?: true; neighbour?: 'left' | 'up' }
    | { op: 'unary'; fn: UnaryFn | 'neg'; args: [number] }
    | { op: 'binary'; fn: ArithFn | BinaryFn | CompareFn; args: [number, number] }
    | { op: 'select'; args: [number, number, number] }
    | { op: 'reduce'; fn: Reducer; over: IndexVar; args: [number] }
  );

export type DefKind = 'let' | 'update' | 'output' | 'element' | 'identity' | 'combine';

/**
 * Where a definition sits in the time loop:
 * - invariant: depends on params and constants only; computed once, outside the loop;
 * - parallel: depends on inputs but not the state; computable for all t at once (hoisted);
 * - core: reads the state before this step's update (or is an update): the recurrence;
 * - after: reads only updated state; computed per step after the updates (outputs, typically).
 */
export type Phase = 'invariant' | 'parallel' | 'core' | 'after';

export interface Def {
  kind: DefKind;
  target: string;
  vars: IndexVar[];
  nodes: Node[];
  root: number;
  dep: Dep;
  phase: Phase;
  span: Span;
}

export type TensorRole = 'input' | 'param' | 'state' | 'let' | 'output';

export interface Tensor {
  name: string;
  role: TensorRole;
  dims: string[];
  span: Span;
  /** A state, let or output of the `reversed { ... }` block of a bidirectional cell: it runs backward in time (outputs are written at the backward step's position). */
  reversed?: true;
  /** States: the initial value, a constant or a param of the same shape. */
  init?: { kind: 'const'; value: number } | { kind: 'param'; name: string };
}

export interface DeclaredStructure {
  state?: string;
  kind: string;
  rank?: number;
  semiring?: string;
  span: Span;
}

export interface MonoidIR {
  left: string;
  right: string;
  /** Per state: what one step contributes, from inputs and params. */
  element: Def[];
  /** Per state: the identity, constants only. */
  identity: Def[];
  /** The combine's lets, then one definition per state. */
  combine: Def[];
  span: Span;
}

export interface Module {
  name: string;
  /**
   * Time runs backward (`rnn name reversed {`): a sequence of length L runs its steps at positions
   * L-1, ..., 0, writes each step's outputs at that step's own position, and its final state is the
   * one after position 0. Kernels run in logical time and map logical step t to position L-1-t (see
   * backends/lower/time.ts); absent for a forward cell.
   */
  reversed?: true;
  /**
   * A grid cell (`rnn name grid {`): the time axis is replaced by a grid of H rows and W columns per
   * batch element; inputs and outputs are [batch, H, W, ...dims]. Before its update a state is read
   * only at a neighbour (LoadNode.neighbour: 'left' = same row, previous column; 'up' = previous row,
   * same column; the initial value outside the grid); the final state is the one at (H-1, W-1).
   * The wavefront kernel (backends/wgsl-grid) runs it; absent for a time cell.
   */
  grid?: true;
  dims: { name: string; size?: number }[];
  tensors: Tensor[];
  /** The step, in source order. */
  step: Def[];
  monoid?: MonoidIR;
  structures: DeclaredStructure[];
}

export const tensorsOf = (m: Module, role: TensorRole): Tensor[] => m.tensors.filter((t) => t.role === role);
export const tensorNamed = (m: Module, name: string): Tensor | undefined => m.tensors.find((t) => t.name === name);
export const nodeOf = (def: Def, id: number): Node => def.nodes[id]!;

/** The nodes under `root` (itself included) in a fixed order, preorder, each once: alike expressions list alike nodes. */
export function nodesUnder(def: Def, root: number): number[] {
  const out: number[] = [];
  const visit = (k: number): void => {
    if (out.includes(k)) return;
    out.push(k);
    const n = def.nodes[k]!;
    if ('args' in n) n.args.forEach(visit);
  };
  visit(root);
  return out;
}
