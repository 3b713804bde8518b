// The reference interpreter's own reverse mode: gradients of a float64 run, by a tape.
//
// The forward run is the interpreter's semantics (interpreter.ts), evaluated one scalar at a time:
// every value a node computes is a tape entry holding its value, its operands' entries and the
// partial derivatives with respect to them (each builtin's `derivative` from the builtin table). A
// tensor element is the entry that holds it, so loads record nothing. Then one sweep from the last
// entry to the first accumulates adjoints. This is deliberately the plainest possible reverse mode,
// written independently of the compiler's reverse-mode pass (src/compiler/grad/), so that each checks
// the other (test/grad/): it knows nothing of index transposes, it only follows the scalar dataflow.
//
// The loss whose gradient it computes is Σ upstream.outputs · outputs + Σ upstream.final · final.
// Steps past a sequence's length do not run, so nothing flows from them (their outputs are constant
// 0 and the final state is the one after the last valid step).
import { tensorsOf, type Def, type Module, type Node, type Tensor } from '../../compiler/ir/ir.js';
import { strides, tensorSize, type DimSizes } from '../../compiler/ir/dims.js';
import { builtin, reduction } from '../../compiler/builtins.js';
import type { RunData, RunResult, RunShape, Tensor32or64 } from './interpreter.js';
import type { Upstream } from '../bptt.js';

export type { Upstream };

export interface GradResult {
  /** Per input, [batch, T, ...dims]; 0 past a sequence's length. */
  inputs: Record<string, Float64Array>;
  /**
   * Per param, [...dims], summed over the batch and time. A param that initialises a state (`state h
   * = h0`) also gets the initial state's gradient of every sequence whose initial state was not given.
   */
  params: Record<string, Float64Array>;
  /** Per state, [batch, ...dims]: the gradient of the initial state. */
  initial: Record<string, Float64Array>;
  /** The forward run's result, from the tape's values. */
  forward: RunResult;
}

/** The tape: values, and per entry a run of (operand entry, partial) pairs. */
class Tape {
  readonly value: number[] = [];
  readonly start: number[] = [];
  readonly operand: number[] = [];
  readonly partial: number[] = [];

  leaf(v: number): number {
    this.start.push(this.operand.length);
    return this.value.push(v) - 1;
  }

  op(v: number, operands: readonly number[], partials: readonly number[]): number {
    this.start.push(this.operand.length);
    for (let k = 0; k < operands.length; k++) {
      this.operand.push(operands[k]!);
      this.partial.push(partials[k]!);
    }
    return this.value.push(v) - 1;
  }

  /** Adjoints of every entry, given the seeds: adj[operand] += adj[entry] · partial, last entry first. */
  backward(seed: Float64Array): Float64Array {
    const adj = seed;
    this.start.push(this.operand.length);
    for (let e = this.value.length - 1; e >= 0; e--) {
      const a = adj[e]!;
      if (a === 0) continue; // no gradient reaches it (a zero times a NaN partial is not a gradient either)
      for (let k = this.start[e]!; k < this.start[e + 1]!; k++) adj[this.operand[k]!]! += a * this.partial[k]!;
    }
    this.start.pop();
    return adj;
  }
}

/** Where a load reads: an array of tape entries and the offset of this step's slice in it. */
interface Place {
  ids: Int32Array;
  base: number;
  strides: number[];
}

export function interpretGrad(m: Module, shape: RunShape, data: RunData, upstream: Upstream = {}): GradResult {
  const { batch, T, sizes } = shape;
  const size = (t: Tensor) => tensorSize(t, sizes);
  const tape = new Tape();
  const byName = new Map(m.tensors.map((t) => [t.name, t]));
  const inputs = tensorsOf(m, 'input');
  const params = tensorsOf(m, 'param');
  const states = tensorsOf(m, 'state');
  const outputs = tensorsOf(m, 'output');

  const leaves = (values: Tensor32or64 | undefined, n: number, what: string): Int32Array => {
    if (!values) throw new Error(`interpretGrad: no data for ${what}`);
    if (values.length !== n) throw new Error(`interpretGrad: ${what} has ${values.length} elements, expected ${n}`);
    const ids = new Int32Array(n);
    for (let i = 0; i < n; i++) ids[i] = tape.leaf(values[i]!);
    return ids;
  };
  const inputIds = new Map(inputs.map((t) => [t.name, leaves(data.inputs[t.name], batch * T * size(t), `input \`${t.name}\``)]));
  const paramIds = new Map(params.map((t) => [t.name, leaves(data.params[t.name], size(t), `param \`${t.name}\``)]));
  const initialIds = new Map(states.map((s) => [s.name, new Int32Array(batch * size(s))]));
  const outputIds = new Map(outputs.map((o) => [o.name, new Int32Array(batch * T * size(o)).fill(-1)]));
  const finalIds = new Map(states.map((s) => [s.name, new Int32Array(batch * size(s))]));

  const written = states.filter((s) => m.monoid || m.step.some((d) => d.kind === 'update' && d.target === s.name)).map((s) => s.name);
  const combineLetDims = new Map((m.monoid?.combine ?? []).filter((d) => d.kind === 'let').map((d) => [d.target, d.vars.map((v) => v.dim)]));

  for (let b = 0; b < batch; b++) {
    let current = new Map<string, Int32Array>();
    for (const s of states) current.set(s.name, initialState(s, b));
    const length = Math.max(0, Math.min(T, shape.lengths ? shape.lengths[b]! : T));
    for (let t = 0; t < length; t++) {
      // The position of logical step t: backward in a reversed cell and in a bidirectional cell's `reversed` block.
      const at = (backward: boolean) => (backward ? length - 1 - t : t);
      const next = new Map<string, Int32Array>();
      for (const s of states) next.set(s.name, written.includes(s.name) ? new Int32Array(size(s)) : current.get(s.name)!);
      const lets = new Map<string, Int32Array>();
      const combineLets = new Map<string, Int32Array>();
      const elements = new Map<string, Int32Array>();

      const place = (ids: Int32Array, dims: string[], base = 0): Place => ({ ids, base, strides: strides(dims, sizes) });
      const resolve = (node: Extract<Node, { op: 'load' }>, inCombine: boolean): Place => {
        const tensor = byName.get(node.tensor);
        switch (node.source) {
          case 'input':
            return place(inputIds.get(node.tensor)!, tensor!.dims, (b * T + at(m.reversed === true || node.reversed === true)) * size(tensor!));
          case 'param':
            return place(paramIds.get(node.tensor)!, tensor!.dims);
          case 'state':
            return place((node.version === 'new' ? next : current).get(node.tensor)!, tensor!.dims);
          case 'left':
            return place(current.get(node.tensor)!, tensor!.dims);
          case 'right':
            return place(elements.get(node.tensor)!, tensor!.dims);
          case 'let':
            if (inCombine && combineLets.has(node.tensor)) return place(combineLets.get(node.tensor)!, combineLetDims.get(node.tensor)!);
            return place(lets.get(node.tensor)!, tensor!.dims);
        }
      };
      const run = (def: Def, inCombine = false) => {
        const dims = def.vars.map((v) => v.dim);
        const target = new Int32Array(dims.reduce((n, d) => n * sizes[d]!, 1));
        evaluateDef(def, sizes, tape, (node) => resolve(node, inCombine), target);
        if (def.kind === 'update' || def.kind === 'combine') next.set(def.target, target);
        else if (def.kind === 'element') elements.set(def.target, target);
        else if (inCombine) combineLets.set(def.target, target);
        else lets.set(def.target, target);
      };
      // The interpreter's order: a monoid's state-independent statements, its elements and combine
      // (the state becomes combine(state, element)), then the statements that read the state.
      if (m.monoid) {
        for (const d of m.step) if (d.dep !== 'state') run(d);
        for (const d of m.monoid.element) run(d);
        for (const d of m.monoid.combine) run(d, true);
        for (const d of m.step) if (d.dep === 'state') run(d);
      } else for (const d of m.step) run(d);

      for (const o of outputs) outputIds.get(o.name)!.set(lets.get(o.name)!, (b * T + at(m.reversed === true || o.reversed === true)) * size(o));
      current = next;
    }
    for (const s of states) finalIds.get(s.name)!.set(current.get(s.name)!, b * size(s));
  }

  // Seeds: the loss is linear in the outputs and final states.
  const adj = new Float64Array(tape.value.length);
  const seed = (ids: Int32Array, values: Tensor32or64 | undefined, what: string) => {
    if (!values) return;
    if (values.length !== ids.length) throw new Error(`interpretGrad: ${what} has ${values.length} elements, expected ${ids.length}`);
    for (let i = 0; i < ids.length; i++) if (ids[i]! >= 0) adj[ids[i]!]! += values[i]!;
  };
  for (const o of outputs) seed(outputIds.get(o.name)!, upstream.outputs?.[o.name], `the upstream gradient of \`${o.name}\``);
  for (const s of states) seed(finalIds.get(s.name)!, upstream.final?.[s.name], `the upstream gradient of the final \`${s.name}\``);
  tape.backward(adj);

  const gather = (ids: Int32Array) => Float64Array.from(ids, (id) => adj[id]!);
  const values = (ids: Int32Array) => Float64Array.from(ids, (id) => (id < 0 ? 0 : tape.value[id]!));
  return {
    inputs: Object.fromEntries(inputs.map((x) => [x.name, gather(inputIds.get(x.name)!)])),
    params: Object.fromEntries(params.map((p) => [p.name, gather(paramIds.get(p.name)!)])),
    initial: Object.fromEntries(states.map((s) => [s.name, gather(initialIds.get(s.name)!)])),
    forward: {
      outputs: Object.fromEntries(outputs.map((o) => [o.name, values(outputIds.get(o.name)!)])),
      final: Object.fromEntries(states.map((s) => [s.name, values(finalIds.get(s.name)!)])),
    },
  };

  /** The initial state of sequence b as tape entries: given, a param's (through an identity entry, so the param gets the gradient), or a constant. */
  function initialState(s: Tensor, b: number): Int32Array {
    const n = size(s);
    const ids = new Int32Array(n);
    const given = data.initial?.[s.name];
    if (given && given.length !== batch * n) throw new Error(`interpretGrad: initial state \`${s.name}\` has ${given.length} elements, expected ${batch * n}`);
    const param = s.init?.kind === 'param' ? paramIds.get(s.init.name)! : undefined;
    for (let i = 0; i < n; i++) {
      if (given) ids[i] = tape.leaf(given[b * n + i]!);
      else if (param) ids[i] = tape.op(tape.value[param[i]!]!, [param[i]!], [1]);
      else ids[i] = tape.leaf(s.init?.kind === 'const' ? s.init.value : 0);
    }
    initialIds.get(s.name)!.set(ids, b * n);
    return ids;
  }
}

/**
 * Evaluates one definition at every point of its index space onto the tape, writing the entry of each
 * element into `target`. A node's entry is shared by every point that agrees on the node's own
 * indices (so a value the definition broadcasts is computed once, as the interpreter does).
 */
function evaluateDef(def: Def, sizes: DimSizes, tape: Tape, resolve: (node: Extract<Node, { op: 'load' }>) => Place, target: Int32Array): void {
  const env = new Map<string, number>();
  const memo = new Map<string, number>();
  const ev = (id: number): number => {
    const node = def.nodes[id]!;
    if (node.op === 'load') {
      const p = resolve(node);
      let offset = p.base;
      node.index.forEach((v, k) => (offset += env.get(v)! * p.strides[k]!));
      return p.ids[offset]!;
    }
    const key = `${id}:${node.space.map((v) => env.get(v)).join(',')}`;
    const known = memo.get(key);
    if (known !== undefined) return known;
    let entry: number;
    switch (node.op) {
      case 'const':
        entry = tape.leaf(node.value);
        break;
      case 'unary': {
        const b = builtin(node.fn);
        if (b.kind !== 'unary') throw new Error(`interpretGrad: \`${node.fn}\` is not unary`);
        const x = ev(node.args[0]);
        const v = b.f64(tape.value[x]!);
        entry = tape.op(v, [x], [b.derivative(tape.value[x]!, v)]);
        break;
      }
      case 'binary': {
        const b = builtin(node.fn);
        const [x, y] = [ev(node.args[0]), ev(node.args[1])];
        const [vx, vy] = [tape.value[x]!, tape.value[y]!];
        if (b.kind === 'comparison') entry = tape.leaf(b.f64(vx, vy) ? 1 : 0); // piecewise constant: no operands
        else if (b.kind === 'binary') {
          const v = b.f64(vx, vy);
          entry = tape.op(v, [x, y], b.derivative(vx, vy, v));
        } else throw new Error(`interpretGrad: \`${node.fn}\` is not binary`);
        break;
      }
      case 'select': {
        const b = builtin('select');
        if (b.kind !== 'select') throw new Error('interpretGrad: `select` is not a select');
        const [c, x, y] = node.args.map(ev) as [number, number, number];
        const condition = tape.value[c]! !== 0;
        const [, dx, dy] = b.derivative(condition, tape.value[x]!, tape.value[y]!);
        entry = tape.op(b.f64(condition, tape.value[x]!, tape.value[y]!), [x, y], [dx, dy]);
        break;
      }
      case 'reduce': {
        const r = reduction(node.fn);
        const terms: number[] = [];
        const outer = env.get(node.over.name);
        for (let k = 0; k < sizes[node.over.dim]!; k++) {
          env.set(node.over.name, k);
          terms.push(ev(node.args[0]));
        }
        if (outer === undefined) env.delete(node.over.name);
        else env.set(node.over.name, outer);
        const values = terms.map((e) => tape.value[e]!);
        const v = r.f64(values);
        entry = tape.op(v, terms, r.derivative(values, v));
        break;
      }
    }
    memo.set(key, entry);
    return entry;
  };
  const extents = def.vars.map((v) => sizes[v.dim]!);
  const count = extents.reduce((n, e) => n * e, 1);
  for (let flat = 0; flat < count; flat++) {
    let rest = flat;
    for (let k = def.vars.length - 1; k >= 0; k--) {
      env.set(def.vars[k]!.name, rest % extents[k]!);
      rest = Math.floor(rest / extents[k]!);
    }
    target[flat] = ev(def.root);
  }
}
