// The reference interpreter: runs an IR module over a batch of sequences on the CPU, in float64 (or,
// with precision 'f32', rounding every node result to float32). It is the ground truth the GPU
// backends are tested against, so it follows the IR's semantics literally:
// - statements run in step order; `state.old` reads the state before this step's update and
//   `state.new` after it; an update computes its whole new tensor from the old one before it is
//   committed (a dense `h[i] <- sum(j: W[i, j] * h[j])` needs that);
// - a monoid cell has no updates: each state becomes combine(state, element_t) at the start of the
//   step (left = running state, right = this step's element), and the step's lets and outputs read
//   the combined state (the identity is not needed: the spec's initial state starts the fold);
// - with lengths, steps t >= lengths[b] are skipped: the state stays, the outputs stay 0;
// - a reversed module (Module.reversed) takes sequence b's steps at positions lengths[b]-1, ..., 0,
//   writes each step's outputs at its own position, and its final state is the one after position 0;
//   in a bidirectional cell, the `reversed` block's input loads and outputs (flagged in the IR) do so,
//   while the forward statements take positions 0, ..., lengths[b]-1 in the same logical steps.
// - a grid module (Module.grid) runs each batch element's H x W positions in row-major order (one valid
//   order of the DAG in which each position depends on its left and upper neighbours); position (r, c)
//   is step r*W + c of the shared layout, so inputs and outputs [batch, H, W, ...dims] are the time
//   layout with T = H*W. A neighbour read (`h.left`, `h.up`) takes the state after that neighbour's
//   update, or the initial value outside the grid; the final state is the one at (H-1, W-1).
// Layouts are the shared ones: inputs and outputs [batch, T, ...dims], params [...dims], initial and
// final states [batch, ...dims]. Each definition is compiled once to a JS function (compile-def.ts).
import { tensorsOf, type Def, type Module, type Tensor } from '../../compiler/ir/ir.js';
import { tensorSize, type DimSizes } from '../../compiler/ir/dims.js';
import { compileDef, type CompiledDef, type Slot } from './compile-def.js';

export interface RunShape {
  batch: number;
  T: number;
  sizes: DimSizes;
  /** Per sequence, the number of valid steps (clamped to [0, T]); all T when absent. */
  lengths?: Int32Array;
  /** A grid cell's rows and columns; T must be H*W (the positions in row-major order). */
  grid?: { H: number; W: number };
}

export type Tensor32or64 = Float32Array | Float64Array;

export interface RunData {
  inputs: Record<string, Tensor32or64>;
  params: Record<string, Tensor32or64>;
  /** Per state, [batch, ...dims]; a missing state starts at the spec's initial value. */
  initial?: Record<string, Tensor32or64>;
}

export interface RunResult {
  /** Per output, [batch, T, ...dims]; 0 past a sequence's length. */
  outputs: Record<string, Float64Array>;
  /** Per state, [batch, ...dims]: the state after each sequence's last valid step. */
  final: Record<string, Float64Array>;
}

export interface InterpretOptions {
  precision?: 'f64' | 'f32';
}

// Compiled definitions, reused while the module lives: property tests interpret one module many times.
const cache = new WeakMap<Def, Map<string, CompiledDef>>();
function compiledFor(def: Def, sizes: DimSizes, f32: boolean, compile: () => CompiledDef): CompiledDef {
  const key = `${f32 ? 'f32' : 'f64'} ${JSON.stringify(sizes)}`;
  let perDef = cache.get(def);
  if (!perDef) cache.set(def, (perDef = new Map()));
  let compiled = perDef.get(key);
  if (!compiled) perDef.set(key, (compiled = compile()));
  return compiled;
}

/** A compiled definition with the argument arrays it is called with, refreshed per step. */
interface Call {
  compiled: CompiledDef;
  arrays: Float64Array[];
  offsets: Int32Array;
  /** Re-points the slots that move with the sequence and the step (logical step t of a sequence of `length`). */
  refresh: ((b: number, t: number, length: number) => void)[];
}

export function interpret(m: Module, shape: RunShape, data: RunData, options: InterpretOptions = {}): RunResult {
  const f32 = options.precision === 'f32';
  const { batch, T, sizes } = shape;
  const size = (t: Tensor) => tensorSize(t, sizes);
  const toF64 = (a: Tensor32or64): Float64Array => {
    const out = Float64Array.from(a);
    if (f32 && a instanceof Float64Array) for (let i = 0; i < out.length; i++) out[i] = Math.fround(out[i]!);
    return out;
  };
  const expectLength = (what: string, a: Tensor32or64 | undefined, n: number): Tensor32or64 => {
    if (!a) throw new Error(`interpret: no data for ${what}`);
    if (a.length !== n) throw new Error(`interpret: ${what} has ${a.length} elements, expected ${n}`);
    return a;
  };

  const grid = m.grid ? gridShape(shape) : undefined;
  // A grid cell's states at every position of the current batch element, and their initial values
  // (what a neighbour outside the grid reads).
  const atPosition = new Map<string, Float64Array>();
  const initialOf = new Map<string, Float64Array>();

  const inputs = new Map(tensorsOf(m, 'input').map((t) => [t.name, toF64(expectLength(`input \`${t.name}\``, data.inputs[t.name], batch * T * size(t)))]));
  const params = new Map(tensorsOf(m, 'param').map((t) => [t.name, toF64(expectLength(`param \`${t.name}\``, data.params[t.name], size(t)))]));
  const states = tensorsOf(m, 'state');
  const outputs = tensorsOf(m, 'output');
  const byName = new Map(m.tensors.map((t) => [t.name, t]));

  // Per-step storage: lets and outputs of the step, the combine's own lets, monoid elements, and
  // two buffers per state (the running state and the one this step's update writes).
  const stepLets = new Map(m.tensors.filter((t) => t.role === 'let' || t.role === 'output').map((t) => [t.name, new Float64Array(size(t))]));
  const combineLetDefs = m.monoid?.combine.filter((d) => d.kind === 'let') ?? [];
  const combineLets = new Map(combineLetDefs.map((d) => [d.target, new Float64Array(d.vars.reduce((n, v) => n * sizes[v.dim]!, 1))]));
  const elements = new Map(states.map((s) => [s.name, new Float64Array(size(s))]));
  const current = new Map(states.map((s) => [s.name, new Float64Array(size(s))]));
  const next = new Map(states.map((s) => [s.name, new Float64Array(size(s))]));

  const prepare = (def: Def, inCombine: boolean): Call => {
    const dimsOf = (source: Slot['source'], tensor: string): string[] => {
      if (source === 'target') return def.vars.map((v) => v.dim);
      if (source === 'let' && inCombine) {
        const local = combineLetDefs.find((d) => d.target === tensor);
        if (local) return local.vars.map((v) => v.dim);
      }
      return byName.get(tensor)!.dims;
    };
    const compiled = compiledFor(def, sizes, f32, () => compileDef(def, sizes, { f32, dimsOf }));
    const arrays: Float64Array[] = [];
    const offsets = new Int32Array(compiled.slots.length);
    const refresh: Call['refresh'] = [];
    compiled.slots.forEach((slot, k) => {
      const name = slot.tensor;
      switch (slot.source) {
        case 'input': {
          const n = size(byName.get(name)!);
          arrays[k] = inputs.get(name)!;
          const backward = m.reversed === true || slot.reversed === true;
          refresh.push((b, t, length) => void (offsets[k] = (b * T + (backward ? length - 1 - t : t)) * n));
          break;
        }
        case 'param':
          arrays[k] = params.get(name)!;
          break;
        case 'let':
          arrays[k] = (inCombine ? combineLets.get(name) : undefined) ?? stepLets.get(name)!;
          break;
        case 'right':
          arrays[k] = elements.get(name)!;
          break;
        case 'left':
        case 'state.old':
          refresh.push(() => void (arrays[k] = current.get(name)!));
          break;
        case 'state.new':
          refresh.push(() => void (arrays[k] = next.get(name)!));
          break;
        case 'state.left':
        case 'state.up': {
          if (!grid) throw new Error(`interpret: ${slot.source} ${name} in a module that is not a grid cell`);
          const n = size(byName.get(name)!);
          const left = slot.source === 'state.left';
          refresh.push((_b, t) => {
            const inside = left ? t % grid.W > 0 : t >= grid.W;
            arrays[k] = inside ? atPosition.get(name)! : initialOf.get(name)!;
            offsets[k] = inside ? (t - (left ? 1 : grid.W)) * n : 0;
          });
          break;
        }
        case 'target':
          if (def.kind === 'update' || def.kind === 'combine') refresh.push(() => void (arrays[k] = next.get(name)!));
          else if (def.kind === 'element') arrays[k] = elements.get(name)!;
          else arrays[k] = (inCombine ? combineLets.get(name) : undefined) ?? stepLets.get(name)!;
          break;
      }
    });
    return { compiled, arrays, offsets, refresh };
  };

  // The order of one step. Lets, outputs and elements that depend on params alone are computed once.
  const once: Call[] = [];
  const perStep: Call[] = [];
  const schedule = (def: Def, inCombine = false) => {
    const call = prepare(def, inCombine);
    if (def.phase === 'invariant' && (def.kind === 'let' || def.kind === 'output' || def.kind === 'element') && !inCombine) once.push(call);
    else perStep.push(call);
  };
  if (m.monoid) {
    for (const d of m.step) if (d.dep !== 'state') schedule(d);
    for (const d of m.monoid.element) schedule(d);
    for (const d of m.monoid.combine) schedule(d, true);
    for (const d of m.step) if (d.dep === 'state') schedule(d);
  } else for (const d of m.step) schedule(d);
  // States this step writes (updates, or every state of a monoid): their new buffer becomes current.
  const written = states.filter((s) => m.monoid || m.step.some((d) => d.kind === 'update' && d.target === s.name)).map((s) => s.name);
  // An unwritten state's "new" version is its current one.
  for (const s of states) if (!written.includes(s.name)) next.set(s.name, current.get(s.name)!);

  const run = (call: Call, b: number, t: number, length = 1) => {
    for (const r of call.refresh) r(b, t, length);
    call.compiled.run(call.arrays, call.offsets);
  };
  for (const call of once) run(call, 0, 0);

  const result: RunResult = {
    outputs: Object.fromEntries(outputs.map((o) => [o.name, new Float64Array(batch * T * size(o))])),
    final: Object.fromEntries(states.map((s) => [s.name, new Float64Array(batch * size(s))])),
  };
  const outputCopies = outputs.map((o) => ({ from: stepLets.get(o.name)!, to: result.outputs[o.name]!, n: size(o), backward: m.reversed === true || o.reversed === true }));

  if (grid) {
    for (const s of states) {
      initialOf.set(s.name, new Float64Array(size(s)));
      atPosition.set(s.name, new Float64Array(T * size(s)));
    }
    for (let b = 0; b < batch; b++) {
      for (const s of states) setInitial(s, b, initialOf.get(s.name)!);
      // A state no update writes keeps its initial value everywhere (its "new" version is `current`).
      for (const s of states) if (!written.includes(s.name)) setInitial(s, b, current.get(s.name)!);
      // Row-major: (r, c) at p = r*W + c comes after (r, c-1) and (r-1, c).
      for (let p = 0; p < T; p++) {
        for (const call of perStep) run(call, b, p, T);
        for (const { from, to, n } of outputCopies) to.set(from, (b * T + p) * n);
        for (const s of states) atPosition.get(s.name)!.set(next.get(s.name)!, p * size(s));
      }
      for (const s of states) {
        const n = size(s);
        result.final[s.name]!.set(T > 0 ? atPosition.get(s.name)!.subarray((T - 1) * n, T * n) : initialOf.get(s.name)!, b * n);
      }
    }
    return result;
  }

  for (let b = 0; b < batch; b++) {
    for (const s of states) setInitial(s, b, current.get(s.name)!);
    const length = Math.max(0, Math.min(T, shape.lengths ? shape.lengths[b]! : T));
    // Logical step t is at position t, or at length-1-t in a reversed cell and in the `reversed` block
    // of a bidirectional one (its inputs' slots and outputs say which).
    for (let t = 0; t < length; t++) {
      for (const call of perStep) run(call, b, t, length);
      for (const { from, to, n, backward } of outputCopies) to.set(from, (b * T + (backward ? length - 1 - t : t)) * n);
      for (const name of written) {
        const old = current.get(name)!;
        current.set(name, next.get(name)!);
        next.set(name, old);
      }
    }
    for (const s of states) result.final[s.name]!.set(current.get(s.name)!, b * size(s));
  }
  return result;

  function setInitial(s: Tensor, b: number, into: Float64Array): void {
    const n = size(s);
    const given = data.initial?.[s.name];
    if (given) {
      expectLength(`initial state \`${s.name}\``, given, batch * n);
      for (let i = 0; i < n; i++) into[i] = f32 ? Math.fround(given[b * n + i]!) : given[b * n + i]!;
    } else if (s.init?.kind === 'param') into.set(params.get(s.init.name)!);
    else into.fill(f32 ? Math.fround(s.init?.value ?? 0) : (s.init?.value ?? 0));
  }
}

/** A grid cell's H and W, checked against T (= H*W); a grid has no per-sequence lengths. */
function gridShape(shape: RunShape): { H: number; W: number } {
  const g = shape.grid;
  if (!g) throw new Error('interpret: a grid cell needs shape.grid (its rows H and columns W)');
  if (!Number.isInteger(g.H) || !Number.isInteger(g.W) || g.H < 0 || g.W < 0 || g.H * g.W !== shape.T) {
    throw new Error(`interpret: grid ${g.H}x${g.W} does not match T = ${shape.T} (T must be H*W)`);
  }
  if (shape.lengths) throw new Error('interpret: a grid cell takes no lengths (every position of the grid runs)');
  return g;
}
