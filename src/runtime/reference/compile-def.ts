// Compiling one IR definition into a JavaScript function that computes its whole target tensor.
//
// Why generated code (new Function) rather than a node-by-node evaluator: the interpreter is the
// oracle for GPU tests over long sequences, so a step must cost little more than the arithmetic.
// A generated function is a nest of plain `for` loops with index arithmetic folded into constants,
// which V8 compiles to tight machine code; an evaluator over tensors would allocate a temporary per
// node per step and walk the DAG every time. Each node is placed in the outermost loop that binds
// every index of its space, so loop-invariant work (a param-only factor, a reduction's operands that
// do not depend on the reduction index) is computed once per enclosing iteration, not per element.
import type { Def, Node } from '../../compiler/ir/ir.js';
import { strides, type DimSizes } from '../../compiler/ir/dims.js';
import { builtin, foldOf, jsFunctions, reduction, type ScalarBuiltin } from '../../compiler/builtins.js';

/** A tensor a definition reads or writes: an array and the offset of this step's slice in it. */
export interface Slot {
  /** `state.left` / `state.up`: a grid cell's read of a state at a neighbouring position. */
  source: 'input' | 'param' | 'state.old' | 'state.new' | 'state.left' | 'state.up' | 'let' | 'left' | 'right' | 'target';
  tensor: string;
  dims: string[];
  /** An input read at the backward step's position (the `reversed` block of a bidirectional cell). */
  reversed?: true;
}

export interface CompiledDef {
  def: Def;
  /** The tensors the function reads (and, last, the one it writes), in argument order. */
  slots: Slot[];
  /** Computes the target: arrays[k] and offsets[k] locate slots[k]. */
  run: (arrays: Float64Array[], offsets: Int32Array) => void;
  /** The generated source, for debugging. */
  source: string;
}

export interface CompileOptions {
  /** Round every node result (and every reduction step) to float32. */
  f32: boolean;
  /** Dims of every tensor a definition may load, by the slot's source and name. */
  dimsOf: (source: Slot['source'], tensor: string) => string[];
}

interface Scope {
  parent?: Scope;
  /** Index variables bound here or in an enclosing scope. */
  bound: Set<string>;
  /** The loop this scope is the body of (absent for the function's top level). */
  loop?: { variable: string; extent: number };
  lines: string[];
  /** Node id -> the JS name of its value, for nodes placed in this scope. */
  values: Map<number, string>;
}

const indexName = (v: string) => `i_${v}`;

function literal(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return 'Infinity';
  if (x === -Infinity) return '(-Infinity)';
  return Object.is(x, -0) ? '(-0)' : x < 0 ? `(${x})` : String(x);
}

/**
 * A builtin applied to operand expressions, in the builtin's JS form. Booleans are numbers here (1 and
 * 0), so a comparison's JS boolean becomes one and a select tests its condition against 0.
 */
function applied(b: ScalarBuiltin, args: string[]): string {
  const js = b.js;
  if ('call' in js) return `${js.call}(${args.join(', ')})`;
  if ('conditional' in js) return `(${args[0]} !== 0 ? ${args[1]} : ${args[2]})`;
  if (args.length === 1) return `(${js.operator}${args[0]})`;
  const value = `(${args[0]} ${js.operator} ${args[1]})`;
  return b.result === 'bool' ? `(${value} ? 1 : 0)` : value;
}

/** What generated code may call: each builtin's float64 meaning under its JS name, and `fr` for float32 rounding. */
const helpers = { ...jsFunctions, fr: Math.fround };

export function compileDef(def: Def, sizes: DimSizes, options: CompileOptions): CompiledDef {
  const slots: Slot[] = [];
  const slotIndex = new Map<string, number>();
  const slotOf = (source: Slot['source'], tensor: string, reversed?: true): number => {
    const key = `${source}:${tensor}${reversed ? ':reversed' : ''}`;
    let k = slotIndex.get(key);
    if (k === undefined) {
      k = slots.length;
      slots.push({ source, tensor, dims: options.dimsOf(source, tensor), ...(reversed ? { reversed } : {}) });
      slotIndex.set(key, k);
    }
    return k;
  };
  const round = (e: string) => (options.f32 ? `fr(${e})` : e);
  let counter = 0;
  const fresh = (prefix: string) => `${prefix}${counter++}`;

  /** Element offset of `tensor[index...]` in slot k, as a JS expression. */
  const address = (k: number, index: string[]): string => {
    const st = strides(slots[k]!.dims, sizes);
    const terms = index.map((v, p) => (st[p] === 1 ? indexName(v) : `${indexName(v)} * ${st[p]}`));
    return [`o${k}`, ...terms].join(' + ');
  };

  const child = (parent: Scope, variable: string, extent: number): Scope => ({
    parent,
    bound: new Set([...parent.bound, variable]),
    loop: { variable, extent },
    lines: [],
    values: new Map(),
  });

  /** The outermost scope, from `scope` outwards, that binds every index of the node's space. */
  const placement = (node: Node, scope: Scope): Scope => {
    let s = scope;
    while (s.parent && node.space.every((v) => s.parent!.bound.has(v))) s = s.parent;
    return s;
  };

  const emit = (id: number, scope: Scope): string => {
    const node = def.nodes[id]!;
    if (node.op === 'const') return literal(options.f32 ? Math.fround(node.value) : node.value);
    const home = placement(node, scope);
    const known = home.values.get(id);
    if (known !== undefined) return known;
    const name = fresh('n');
    let value: string;
    switch (node.op) {
      case 'load': {
        const source = node.source === 'state' ? (`state.${node.neighbour ?? node.version ?? 'old'}` as const) : node.source;
        const k = slotOf(source, node.tensor, node.reversed);
        value = round(`a${k}[${address(k, node.index)}]`);
        break;
      }
      case 'unary':
      case 'binary':
      case 'select': {
        const b = builtin(node.op === 'select' ? 'select' : node.fn);
        const args = node.args.map((a) => emit(a, home));
        // A select picks one of two values that are rounded already; a comparison gives 1 or 0.
        value = b.result === 'f32' && b.kind !== 'select' ? round(applied(b, args)) : applied(b, args);
        break;
      }
      case 'reduce': {
        // A fold with the reduction's binary builtin from its identity (logsumexp: logaddexp from -inf).
        const body = child(home, node.over.name, sizes[node.over.dim]!);
        const x = emit(node.args[0], body);
        const acc = fresh('r');
        home.lines.push(`let ${acc} = ${literal(reduction(node.fn).identity)};`);
        body.lines.push(`${acc} = ${round(applied(foldOf(node.fn), [acc, x]))};`);
        home.lines.push(...loopCode(body));
        value = acc;
        break;
      }
    }
    home.lines.push(`const ${name} = ${value};`);
    home.values.set(id, name);
    return name;
  };

  const loopCode = (s: Scope): string[] => {
    const { variable, extent } = s.loop!;
    const i = indexName(variable);
    return [`for (let ${i} = 0; ${i} < ${extent}; ${i}++) {`, ...s.lines.map((l) => '  ' + l), '}'];
  };

  // The definition's own loops, outermost first; the root is computed in the innermost one.
  const top: Scope = { bound: new Set(), lines: [], values: new Map() };
  const nest = [top];
  for (const v of def.vars) nest.push(child(nest[nest.length - 1]!, v.name, sizes[v.dim]!));
  const inner = nest[nest.length - 1]!;
  const root = emit(def.root, inner);
  const target = slotOf('target', def.target);
  inner.lines.push(`a${target}[${address(target, def.vars.map((v) => v.name))}] = ${root};`);
  for (let d = nest.length - 1; d > 0; d--) nest[d - 1]!.lines.push(...loopCode(nest[d]!));

  const prologue = slots.map((_, k) => `const a${k} = arrays[${k}], o${k} = offsets[${k}];`);
  const source = [...prologue, ...top.lines].join('\n');
  const factory = new Function(...Object.keys(helpers), `return function ${def.kind}_${def.target}(arrays, offsets) {\n${source}\n};`);
  const run = factory(...Object.values(helpers)) as CompiledDef['run'];
  return { def, slots, run, source };
}
