// Maps and sums over time. A cell whose states are all accumulators, `d_W <- d_W + e(inputs, params,
// lets)`, and whose outputs read no state, needs no recurrence: only each accumulator's final sum and
// each step's outputs are wanted. Two kinds of cell are so: a param's accumulation cell of a split
// backward (src/compiler/grad/split.ts), and the rest of a staged backward (src/compiler/grad/stage.ts),
// which also writes the inputs' gradients. A scan would compute every prefix of the sums, a
// sequential loop walk T steps per element.
//
// Here a workgroup takes one chunk of a sequence's steps, and each invocation every WORKGROUP-th step
// of it, so that the lanes of a SIMD group read neighbouring steps. Per step, an invocation computes
// every output element and the term of every accumulator element (up to GROUP of them, each a
// register; more take one shader per group). At the end it writes its partial sums once, and the host
// adds the partials in float64. One invocation for all the elements loads each step's inputs once, as
// vec4s where a row is a multiple of 4 floats, and computes the values the elements share once:
// lavapipe pays for a load whose address differs per invocation as a loop over the SIMD lanes. The
// cells' shaders, for every piece of time the storage-binding limit cuts, run as the passes of one
// job: one round trip.
//
// The terms are lowered with the shared lowering (backends/lower/expr.ts) at every element's point.
// Time-invariant lets and values (params, constants) are computed once, before the loop. The other
// lets are inlined and computed per step. A step past a sequence's length adds nothing and writes
// nothing.
import type { Def, Module, Tensor } from '../../src/compiler/ir/ir.js';
import { strides, tensorSize, type DimSizes } from '../../src/compiler/ir/dims.js';
import { stepCost } from '../../src/compiler/ir/cost.js';
import { Lowerer, offsetExpr, type IndexValue } from '../lower/expr.js';
import { flatWorkgroupIndex, gridDispatch, MAX_WORKGROUPS_PER_DIMENSION } from '../lower/grid.js';
import { arrayOf, assign, bin, call, emptyModule, f32, forRange, id, ifS, index, letS, lit, member, named, u32, varS, vec, workgroupEntry, type Expr, type Module as WgslModule, type Stmt } from '../wgsl/ast.js';
import { mathPrelude } from '../wgsl/math.js';
import { printModule } from '../wgsl/print.js';
import { budgetUnrolling, countedLoop } from '../wgsl/unroll-budget.js';
import { dedupeLets } from '../wgsl/cse.js';
import type { GpuBufferSpec, GpuJob, GpuPass, GpuShaderSpec } from '../job.js';
import { gatePoint, type GatedBackward } from '../../src/compiler/grad/gate.js';

/** Invocations per workgroup: interleaved over one chunk of a sequence's steps. */
const WORKGROUP = 64;
/** Steps one invocation sums at least, and the invocations per WORKGROUP a pass aims at (about). */
const MIN_CHUNK = 64;
const TARGET_INVOCATIONS = 1 << 12;
/** Elements of an accumulator one invocation sums at most (each a register; more make one shader per group). */
const GROUP = 128;
const SIZES_BYTES = 16;
/**
 * Reductions of at most this many terms are unrolled per step (the shared lowering loops above 4).
 * Every point of a step is evaluated at known indices here, so an unrolled sum reads the lets it
 * needs at points already computed (a let inlined into a loop is recomputed per term, its loads
 * gathers at run-time addresses): mamba_s6's rest recomputed its 32 decays in each of 8 sums.
 */
const UNROLL_TERMS = 32;

/** Whether a tensor's rows (per step) are read and written as vec4s: a multiple of 4 floats, so every row is 16-byte aligned. */
const quads = (size: number) => size % 4 === 0;

const readsState = (d: Def, from: number): boolean => {
  const n = d.nodes[from]!;
  if (n.op === 'load') return n.source === 'state';
  if (n.op === 'const') return false;
  return n.args.some((x) => readsState(d, x));
};

/** The update `state[v…] <- state[v…] + term` of an accumulator, or undefined where it is not a sum over time. */
export function sumTerm(m: Module, state: string): { def: Def; term: number } | undefined {
  const def = m.step.find((d) => d.kind === 'update' && d.target === state);
  const term = def && accumulatorTerm(def);
  if (term === undefined || readsState(def!, term)) return undefined;
  return { def: def!, term };
}

/** The term of an accumulator's update `s <- s + term` (`s.old` at its own index), whatever else it reads. */
function accumulatorTerm(def: Def): number | undefined {
  const root = def.nodes[def.root]!;
  if (root.op !== 'binary' || root.fn !== 'add') return undefined;
  const isOwn = (k: number) => {
    const n = def.nodes[k]!;
    return n.op === 'load' && n.source === 'state' && n.tensor === def.target && n.version !== 'new' && n.index.length === def.vars.length && n.index.every((v, i) => v === def.vars[i]!.name);
  };
  const [a, b] = root.args;
  return isOwn(a) ? b : isOwn(b) ? a : undefined;
}

/** Accumulator elements and output elements per step past which a cell's kernel is too large to compile quickly. */
export const TIME_SUM_MAX_ELEMENTS = GROUP;
export const TIME_SUM_MAX_OUTPUTS = 64;
/**
 * Operations per step (stepCost) past which the kernel, every point unrolled, is too large to compile
 * quickly whatever its element count: GRU X = 64, H = 128 has 128 elements in d_bz but 25,728
 * operations per step (a 200 KB shader that lavapipe had not compiled after 5 minutes). The staged
 * rests of the examples at their own sizes take 172-1,128.
 */
export const TIME_SUM_MAX_OPS = 2048;

/**
 * Whether the time-sum kernel takes a cell at these sizes: every term and output is unrolled at each
 * of its points, and lavapipe's compile time grows faster than the kernel (an LSTM with H = 16 has
 * 256 elements in each U: minutes), so one shader's worth at most, and at most TIME_SUM_MAX_OPS
 * operations a step; larger cells run as scan cells.
 */
export function timeSumFits(m: Module, sizes: DimSizes): boolean {
  const total = (role: 'state' | 'output') => m.tensors.filter((t) => t.role === role).reduce((n, t) => n + tensorSize(t, sizes), 0);
  return isStepMap(m) && total('state') <= TIME_SUM_MAX_ELEMENTS && total('output') <= TIME_SUM_MAX_OUTPUTS && stepCost(m, sizes).ops <= TIME_SUM_MAX_OPS;
}

/**
 * Whether a cell is a map and a sum over time: every state an accumulator (`sumTerm`), and nothing
 * else reading a state (its lets and outputs are functions of the step's inputs and params).
 */
export function isStepMap(m: Module): boolean {
  if (m.monoid || m.reversed) return false;
  const states = m.tensors.filter((t) => t.role === 'state');
  if (!states.every((s) => sumTerm(m, s.name))) return false;
  return m.step.every((d) => d.kind === 'update' || !readsState(d, d.root));
}

/** One element of an accumulator. */
interface Element {
  state: string;
  point: number[];
  /** Its place in the cell's accumulators, flat: the states in order, each row-major. */
  flat: number;
}

interface CellKernel {
  cell: Module;
  shader: GpuShaderSpec;
  /** The accumulator elements it sums (at most GROUP). */
  elements: Element[];
  /** The outputs it writes per step (the first shader of a cell writes them all). */
  outputs: { name: string; size: number }[];
  /** Inputs it binds, in binding order (after sizes, lengths, params, partials). */
  inputs: { name: string; size: number; every?: number }[];
}

export interface TimeSumData {
  inputs: Record<string, Float32Array>;
  params: Record<string, Float32Array>;
  /** Valid steps per sequence (default: T). */
  lengths?: Int32Array;
}

export interface TimeSumResult {
  /** Per accumulator, [batch, ...dims]: each sequence's sum over its steps, added in float64. */
  sums: Record<string, Float64Array>;
  /** Per output, [batch, T, ...dims]; 0 past a sequence's length. */
  outputs: Record<string, Float32Array>;
}

export interface PreparedTimeSum {
  job(data: TimeSumData): GpuJob;
  decode(buffers: Record<string, ArrayBuffer>): TimeSumResult;
  /** Pieces of time the binding limit cut the run into. */
  pieces: number;
}

export interface CompiledTimeSum {
  shaders: GpuShaderSpec[];
  prepare(size: { batch: number; T: number }, limits: { maxStorageBufferBindingSize: number; maxComputeWorkgroupsPerDimension?: number }): PreparedTimeSum;
}

/** Every point of a tensor's dims, row-major. */
const pointsOf = (dims: string[], sizes: DimSizes): number[][] => dims.reduce<number[][]>((acc, d) => acc.flatMap((p) => Array.from({ length: sizes[d]! }, (_, k) => [...p, k])), [[]]);

/**
 * Kernels for cells that pass `isStepMap`: per cell, its accumulator elements in groups of GROUP,
 * a shader each, the first also writing the outputs. The params, packed into one buffer, are the
 * union of the cells'; an input name means the same tensor in every cell.
 */
export function compileTimeSum(cells: Module[], sizes: DimSizes, label = 'time_sum', options: { recompute?: Recompute } = {}): CompiledTimeSum {
  const { recompute } = options;
  const paramOffsets = new Map<string, number>();
  let paramFloats = 0;
  for (const c of [...cells, ...(recompute ? [recompute.forward, recompute.core] : [])])
    for (const t of c.tensors)
      if (t.role === 'param' && !paramOffsets.has(t.name)) {
        paramOffsets.set(t.name, paramFloats);
        paramFloats += tensorSize(t, sizes);
      }
  const kernels = cells.flatMap((cell, k) => {
    let flat = 0;
    const elements: Element[] = cell.tensors.filter((t) => t.role === 'state').flatMap((t) => pointsOf(t.dims, sizes).map((point) => ({ state: t.name, point, flat: flat++ })));
    const outputs = cell.tensors.filter((t) => t.role === 'output').map((t) => ({ name: t.name, size: tensorSize(t, sizes) }));
    const groups = Math.max(1, Math.ceil(elements.length / GROUP));
    return Array.from({ length: groups }, (_, g) => kernelOf(cell, sizes, paramOffsets, elements.slice(g * GROUP, (g + 1) * GROUP), g === 0 ? outputs : [], `${label}.${cell.name}_${k}_${g}`, recompute));
  });
  const stateSize = new Map(cells.flatMap((c) => c.tensors.filter((t) => t.role === 'state').map((t) => [t.name, tensorSize(t, sizes)] as const)));
  const stateBase = new Map(cells.flatMap((c) => {
    let base = 0;
    return c.tensors.filter((t) => t.role === 'state').map((t) => {
      const at = base;
      base += tensorSize(t, sizes);
      return [t.name, at] as const;
    });
  }));

  return {
    shaders: kernels.map((k) => k.shader),
    prepare({ batch, T }, limits) {
      const rowFloats = Math.max(1, ...kernels.flatMap((k) => [...k.inputs, ...k.outputs].map((x) => x.size)));
      // A sampled checkpoint input has a row per run ([batch, ceil(T / run), ...]; Recompute.sampled).
      const every = new Map(kernels.flatMap((k) => k.inputs.flatMap((x) => (x.every ? [[x.name, x.every] as const] : []))));
      // Steps a run recomputes together (1: every step on its own); pieces and chunks are whole runs.
      const run = recompute?.run ?? 1;
      const pieces = timePieces(T, batch, rowFloats, limits.maxStorageBufferBindingSize, run);
      const maxPerDim = limits.maxComputeWorkgroupsPerDimension ?? MAX_WORKGROUPS_PER_DIMENSION;
      // A workgroup sums one chunk of a sequence's steps, its invocations taking every WORKGROUP-th step.
      const layout = pieces.map(({ steps }) => {
        const perInvocation = Math.max(MIN_CHUNK, Math.ceil((batch * steps) / TARGET_INVOCATIONS));
        const chunk = WORKGROUP * run * Math.ceil(perInvocation / run);
        const chunks = Math.max(1, Math.ceil(steps / chunk));
        return { chunk, chunks, invocations: batch * chunks * WORKGROUP };
      });
      const partialName = (p: number, k: number) => `partials_${p}_${k}`;
      const outputName = (p: number, name: string) => `out_${name}_${p}`;
      const outputs = kernels.flatMap((k) => k.outputs);
      return {
        pieces: pieces.length,
        job(data) {
          const buffers: GpuBufferSpec[] = [paramsBuffer(paramOffsets, paramFloats, data.params)];
          const passes: GpuPass[] = [];
          const inputNames = [...new Set(kernels.flatMap((k) => k.inputs.map((x) => x.name)))];
          const sizeOf = new Map(kernels.flatMap((k) => k.inputs.map((x) => [x.name, x.size] as const)));
          pieces.forEach(({ t0, steps }, p) => {
            buffers.push(pieceLengths(`lengths_${p}`, batch, T, t0, steps, data.lengths));
            for (const name of inputNames) {
              const e = every.get(name);
              const slice = e ? stepsOf(data.inputs[name]!, batch, Math.ceil(T / e), sizeOf.get(name)!, t0 / e, Math.ceil(steps / e)) : stepsOf(data.inputs[name]!, batch, T, sizeOf.get(name)!, t0, steps);
              buffers.push({ name: `in_${name}_${p}`, bytes: Math.max(4, slice.byteLength), usage: 'storage-read', data: slice });
            }
            for (const o of outputs) buffers.push({ name: outputName(p, o.name), bytes: Math.max(4, 4 * batch * steps * o.size), usage: 'storage', read: true });
            const { chunk, chunks, invocations } = layout[p]!;
            buffers.push({ name: `sizes_${p}`, bytes: SIZES_BYTES, usage: 'uniform', data: Uint32Array.of(steps, chunk, chunks, batch) });
            kernels.forEach((k, c) => {
              buffers.push({ name: partialName(p, c), bytes: Math.max(4, 4 * invocations * k.elements.length), usage: 'storage', read: true });
              passes.push({
                shader: k.shader.label,
                label: `${k.shader.label} piece ${p}`,
                bindings: [
                  { binding: 0, buffer: `sizes_${p}` },
                  { binding: 1, buffer: `lengths_${p}` },
                  { binding: 2, buffer: 'params' },
                  { binding: 3, buffer: partialName(p, c) },
                  ...k.inputs.map((x, i) => ({ binding: 4 + i, buffer: `in_${x.name}_${p}` })),
                  ...k.outputs.map((o, i) => ({ binding: 4 + k.inputs.length + i, buffer: outputName(p, o.name) })),
                ],
                dispatch: gridDispatch(Math.ceil(invocations / WORKGROUP), maxPerDim),
              });
            });
          });
          return { shaders: kernels.map((k) => k.shader), buffers, passes };
        },
        decode(read) {
          const sums: Record<string, Float64Array> = {};
          for (const [state, n] of stateSize) sums[state] = new Float64Array(batch * n);
          kernels.forEach((k, c) => {
            pieces.forEach((_, p) => {
              // A sequence's partials: its chunks × WORKGROUP invocations, `count` each.
              const perSequence = layout[p]!.invocations / batch;
              const count = k.elements.length;
              const partials = new Float32Array(read[partialName(p, c)]!, 0, batch * perSequence * count);
              k.elements.forEach((el, e) => {
                const n = stateSize.get(el.state)!;
                const at = el.flat - stateBase.get(el.state)!;
                const sum = sums[el.state]!;
                for (let b = 0; b < batch; b++) {
                  let total = 0;
                  for (let j = 0; j < perSequence; j++) total += partials[(b * perSequence + j) * count + e]!;
                  sum[b * n + at]! += total;
                }
              });
            });
          });
          const out = Object.fromEntries(outputs.map((o) => [o.name, joinPieces(pieces, batch, T, o.size, (p) => read[outputName(p, o.name)]!)]));
          return { sums, outputs: out };
        },
      };
    },
  };
}

/** The uniform `sizes` of a kernel that sums chunks of a sequence's steps, and each sequence's valid steps: bindings 0 and 1. */
export const chunkedTimeGlobals = (): Pick<WgslModule, 'structs' | 'globals'> => ({
  structs: [{ name: 'Sizes', members: ['T', 'chunk', 'chunks', 'seqs'].map((name) => ({ name, type: u32 })) }],
  globals: [
    { name: 'sizes', space: 'uniform', type: named('Sizes'), group: 0, binding: 0 },
    { name: 'lengths', space: 'storage', access: 'read', type: arrayOf(u32), group: 0, binding: 1 },
  ],
});

/** The params of a job, packed at their offsets into one buffer (`params`). */
export function paramsBuffer(offsets: Map<string, number>, floats: number, params: Record<string, Float32Array>): GpuBufferSpec {
  const packed = new Float32Array(Math.max(1, floats));
  for (const [name, offset] of offsets) packed.set(params[name]!, offset);
  return { name: 'params', bytes: packed.byteLength, usage: 'storage-read', data: packed };
}

/** Each sequence's valid steps within a piece of time [t0, t0 + steps), as a buffer. */
export function pieceLengths(name: string, batch: number, T: number, t0: number, steps: number, lengths?: Int32Array): GpuBufferSpec {
  const data = Uint32Array.from({ length: batch }, (_, b) => Math.max(0, Math.min(steps, (lengths ? lengths[b]! : T) - t0)));
  return { name, bytes: Math.max(4, data.byteLength), usage: 'storage-read', data };
}

/** Pieces of time, [t0, t0 + steps), whose [batch, steps, rowFloats] arrays fit one binding; whole runs of `run` steps. */
export function timePieces(T: number, batch: number, rowFloats: number, maxBinding: number, run = 1): { t0: number; steps: number }[] {
  const fit = Math.floor(maxBinding / (4 * rowFloats * Math.max(1, batch)));
  const perPiece = Math.max(1, Math.min(T, fit >= T ? T : Math.max(run, fit - (fit % run))));
  return Array.from({ length: Math.max(1, Math.ceil(T / perPiece)) }, (_, p) => ({ t0: p * perPiece, steps: Math.max(0, Math.min(perPiece, T - p * perPiece)) }));
}

/** A [batch, T, n] output from its pieces' [batch, steps, n] buffers: a view where there is one piece. */
export function joinPieces(pieces: { t0: number; steps: number }[], batch: number, T: number, n: number, buffer: (piece: number) => ArrayBuffer): Float32Array {
  if (pieces.length === 1) return new Float32Array(buffer(0), 0, batch * T * n);
  const whole = new Float32Array(batch * T * n);
  pieces.forEach(({ t0, steps }, p) => {
    const part = new Float32Array(buffer(p), 0, batch * steps * n);
    for (let b = 0; b < batch; b++) whole.set(part.subarray(b * steps * n, (b + 1) * steps * n), (b * T + t0) * n);
  });
  return whole;
}

/** Steps [t0, t0 + steps) of a [batch, T, n] tensor: a view where they are contiguous, else a copy. */
export function stepsOf(a: Float32Array, batch: number, T: number, n: number, t0: number, steps: number): Float32Array {
  if (batch === 1 || steps === T) return a.subarray(t0 * n, (t0 + steps) * n + (batch - 1) * T * n);
  const out = new Float32Array(batch * steps * n);
  for (let b = 0; b < batch; b++) out.set(a.subarray((b * T + t0) * n, (b * T + t0 + steps) * n), b * steps * n);
  return out;
}

/**
 * The staged rest recomputing the states it reads, so that they need not be read per step: one
 * invocation takes a run of `run` consecutive steps, walks the forward update over them from the saved
 * state at the run's first step (keeping each step's state, `run` × the states' floats of private
 * memory), then walks the core's adjoint update back over them from the carried adjoint at the run's
 * last step, evaluating the rest at each step on the way. Per step it reads the inputs only, where the
 * plain form reads every saved state and carried adjoint (gla: 40 floats a step instead of 168).
 */
export interface Recompute {
  /** The forward cell: its state updates recompute the saved states. */
  forward: Module;
  /** The staged core: its state updates (the adjoints') recompute the carried values, walking back. */
  core: Module;
  /** Forward state → the input of the rest and the core holding its value before each step. */
  saved: Map<string, string>;
  /** Core state (a state adjoint) → the input of the rest holding its value before each backward step. */
  carried: Map<string, string>;
  /** Steps per run (`recomputeRun`). */
  run: number;
  /**
   * Where the saved states and carried adjoints hold a row per run only ([batch, ceil(T / run), ...]:
   * the scans wrote them at each run's first and last step, PlanRequest.sample), else a row per step.
   */
  sampled?: { saved: boolean; carried: boolean };
  /**
   * The gate's gradient by the identity of grad/gate.ts, within each run: the forward walk evaluates
   * the walk's outputs (`d_q`, and F, kept a run in private memory) from the state it has just
   * computed, so no state is kept per step; the backward walk evaluates the core's outputs (`d_k`,
   * `d_v`, G) and D, from ⟨carried adjoint, state⟩ at the run's last step back, and the gate cell's
   * outputs (`d_g`). Same gradients; the S · d_S pairing and the per-step copies of S are gone.
   */
  gated?: GatedBackward;
}

/**
 * Private floats an invocation keeps of a run's states. On lavapipe private memory is the CPU's
 * stack; on a GPU it spills past the registers, so the budget is modest.
 */
const RUN_FLOATS = 1024;
const MAX_RUN = 32;
/** Below this, checkpoints every few steps cost about what the per-step loads they replace did. */
const MIN_RUN = 4;

/**
 * Steps per run of the recomputing rest for a forward cell at these sizes, or undefined where it
 * does not apply: a monoid's, a reversed or grid cell's states, or states too large to keep MIN_RUN
 * steps of, and where the three steps' operations together pass what the kernel compiles quickly.
 */
export function recomputeRun(forward: Module, core: Module, rest: Module, sizes: DimSizes, gated?: GatedBackward): number | undefined {
  if (forward.monoid || forward.reversed || forward.grid || forward.tensors.some((t) => t.reversed)) return undefined;
  if (core.monoid || core.reversed) return undefined;
  // Kept a step: the states, or with the gate's identity F only (gla: 8 floats, runs of 32 steps where
  // 16 were 102 ms of its rest at T = 2^20 and 32 were 89; 64 to 256, the same; docs/grad.md).
  const keptTensors = gated ? gated.gate.tensors.filter((t) => t.name === gated.F) : forward.tensors.filter((t) => t.role === 'state');
  const floats = keptTensors.reduce((n, t) => n + tensorSize(t, sizes), 0);
  const run = Math.min(MAX_RUN, Math.floor(RUN_FLOATS / Math.max(1, floats)));
  if (run < MIN_RUN) return undefined;
  if (stepCost(forward, sizes).ops + stepCost(core, sizes).ops + stepCost(rest, sizes).ops > TIME_SUM_MAX_OPS) return undefined;
  return run;
}

type LoadResolve = (n: Extract<Def['nodes'][number], { op: 'load' }>, values: IndexValue[]) => Expr;

/** The lets a set of definitions reads, directly or through other lets. */
function letsRead(m: Module, roots: Def[]): Set<string> {
  const lets = new Map(m.step.filter((d) => d.kind === 'let').map((d) => [d.target, d]));
  const used = new Set<string>();
  const visit = (d: Def) => {
    for (const n of d.nodes)
      if (n.op === 'load' && n.source === 'let' && !used.has(n.tensor) && lets.has(n.tensor)) {
        used.add(n.tensor);
        visit(lets.get(n.tensor)!);
      }
  };
  roots.forEach(visit);
  return used;
}

/** The inputs a set of definitions reads, directly or through lets. */
function inputsRead(m: Module, roots: Def[]): Set<string> {
  const used = letsRead(m, roots);
  const defs = [...roots, ...m.step.filter((d) => d.kind === 'let' && used.has(d.target))];
  return new Set(defs.flatMap((d) => d.nodes.flatMap((n) => (n.op === 'load' && n.source === 'input' ? [n.tensor] : []))));
}

/** What the modules of one kernel share while each is lowered: names, the statements before the loop, the hoisted values, the params. */
interface KernelScope {
  sizes: DimSizes;
  counter: { next: number };
  before: Stmt[];
  hoisted: Map<string, Expr>;
  paramOffsets: Map<string, number>;
  /** Every lowering made, for the math helpers they use. */
  lowerers: Lowerer[];
}

/**
 * One module's step in a kernel: its time-invariant lets computed once into `before` (those `used`
 * names), and `step(body, resolve)`, a lowering into `body` where the other lets are inlined, params
 * and invariant lets are read where they are, values of params and constants at known points are
 * hoisted before the loop, and every other load goes to `resolve`. `tag` keeps modules' names apart.
 */
function moduleLowering(m: Module, tag: string, used: Set<string>, k: KernelScope) {
  const { sizes, counter, before, hoisted } = k;
  const byName = new Map(m.tensors.map((t) => [t.name, t]));
  const lets = m.step.filter((d) => d.kind === 'let');
  const invariant = new Map(lets.filter((d) => d.dep === 'const' || d.dep === 'param').map((d) => [d.target, d]));
  const paramLoad = (n: { tensor: string }, values: IndexValue[]) => index(id('params'), offsetExpr(values, strides(byName.get(n.tensor)!.dims, sizes), k.paramOffsets.get(n.tensor)!));
  const invariantLoad = (n: { tensor: string }, values: IndexValue[]) => index(id(`inv_${tag}${n.tensor}`), offsetExpr(values, strides(byName.get(n.tensor)!.dims, sizes)));
  const outer = new Lowerer({
    sizes,
    prefix: 'w',
    counter,
    stmts: before,
    resolve(n, values) {
      if (n.source === 'param') return paramLoad(n, values);
      if (n.source === 'let' && invariant.has(n.tensor)) return invariantLoad(n, values);
      throw new Error(`compileTimeSum: ${m.name}: a time-invariant let reads ${n.source} ${n.tensor}`);
    },
  });
  for (const d of lets) {
    if (!invariant.has(d.target) || !used.has(d.target)) continue;
    const t = byName.get(d.target)!;
    before.push(varS(`inv_${tag}${d.target}`, arrayOf(f32, tensorSize(t, sizes))));
    for (const point of pointsOf(t.dims, sizes)) before.push(assign(invariantLoad({ tensor: d.target }, point), outer.evaluate(d, point)));
  }
  const stepLets = new Map(lets.filter((d) => !invariant.has(d.target)).map((d) => [d.target, d]));
  k.lowerers.push(outer);
  return {
    step(body: Stmt[], resolve: LoadResolve): Lowerer {
      const lowerer: Lowerer = new Lowerer({
        lets: stepLets,
        sizes,
        prefix: 'v',
        counter,
        stmts: body,
        unrollUpTo: UNROLL_TERMS,
        hook(d, nodeId, env) {
          const n = d.nodes[nodeId]!;
          if (n.op === 'const' || (n.dep !== 'param' && n.dep !== 'const')) return undefined;
          if (n.op === 'load' && n.source !== 'param') return undefined;
          const values = n.space.map((v) => env.get(v)!.value);
          if (!values.every((v) => typeof v === 'number')) return undefined;
          const key = `${tag}:${d.kind}:${d.target}:${nodeId}:${values.join(',')}`;
          const known = hoisted.get(key);
          if (known) return known;
          const value = outer.node(d, nodeId, new Map([...env].map(([name, b]) => [name, { value: b.value, depth: 0 }])));
          const bound = value.kind === 'ident' || value.kind === 'literal' ? value : (before.push(letS(`h${hoisted.size}`, value)), id(`h${hoisted.size}`));
          hoisted.set(key, bound);
          return bound;
        },
        resolve(n, values) {
          if (n.source === 'param') return paramLoad(n, values);
          if (n.source === 'let' && invariant.has(n.tensor)) return invariantLoad(n, values);
          return resolve(n, values);
        },
      });
      k.lowerers.push(lowerer);
      return lowerer;
    },
  };
}

/**
 * Loads of a step's inputs into `body`, at `row` (the step's row of every [batch, T, ...] input): each
 * element once, whichever definitions read it, a row of a multiple of 4 floats four at a time
 * (lavapipe charges a vec4 load as one f32 load); at run-time indices, a load each.
 */
function inputLoader(inputs: { name: string; size: number; dims: string[] }[], sizes: DimSizes, body: Stmt[]): (tensor: string, values: IndexValue[]) => Expr {
  const binding = new Map(inputs.map((x, i) => [x.name, i]));
  const loaded = new Map<string, string>();
  return (tensor, values) => {
    const k = binding.get(tensor)!;
    const { size, dims } = inputs[k]!;
    if (!values.every((v) => typeof v === 'number')) {
      const at = offsetExpr(values, strides(dims, sizes), bin('*', id('row'), lit.u32(size)));
      return quads(size) ? index(index(id(`in_${k}`), bin('/', at, lit.u32(4))), bin('%', at, lit.u32(4))) : index(id(`in_${k}`), at);
    }
    const flat = (values as number[]).reduce((o, v, i) => o + v * strides(dims, sizes)[i]!, 0);
    if (!quads(size)) {
      const key = `${k}:${flat}`;
      let name = loaded.get(key);
      if (!name) {
        loaded.set(key, (name = `in_${k}_${flat}`));
        body.push(letS(name, index(id(`in_${k}`), bin('+', bin('*', id('row'), lit.u32(size)), lit.u32(flat)))));
      }
      return id(name);
    }
    const q = Math.floor(flat / 4);
    const key = `${k}:q${q}`;
    let name = loaded.get(key);
    if (!name) {
      loaded.set(key, (name = `in_${k}_q${q}`));
      body.push(letS(name, index(id(`in_${k}`), bin('+', bin('*', id('row'), lit.u32(size / 4)), lit.u32(q)))));
    }
    return member(id(name), 'xyzw'[flat % 4]!);
  };
}

/** Copies one row of an input (`row`, a step's row) into a private array, element by element. */
function rowInto(target: string, k: number, size: number, row: Expr): Stmt[] {
  if (!quads(size)) return Array.from({ length: size }, (_, f) => assign(index(id(target), lit.u32(f)), index(id(`in_${k}`), bin('+', bin('*', row, lit.u32(size)), lit.u32(f)))));
  return [letS(`${target}_row`, bin('*', row, lit.u32(size / 4)))].concat(
    Array.from({ length: size / 4 }, (_, q) => [
      letS(`${target}_q${q}`, index(id(`in_${k}`), bin('+', id(`${target}_row`), lit.u32(q)))),
      ...Array.from({ length: 4 }, (_, c) => assign(index(id(target), lit.u32(4 * q + c)), member(id(`${target}_q${q}`), 'xyzw'[c]!))),
    ]).flat(),
  );
}

function kernelOf(m: Module, sizes: DimSizes, paramOffsets: Map<string, number>, elements: Element[], outputs: { name: string; size: number }[], label: string, recompute?: Recompute): CellKernel {
  if (!isStepMap(m)) throw new Error(`compileTimeSum: ${m.name} is not a map and a sum over time`);
  const scope: KernelScope = {
    sizes,
    counter: { next: 0 },
    before: [],
    hoisted: new Map(),
    paramOffsets,
    lowerers: [],
  };

  // What this shader evaluates: its elements' terms and its outputs, and the lets they read.
  const defs: {
    def: Def;
    root: number;
    points: number[][];
    write: (point: number[], value: Expr) => Stmt;
  }[] = [];
  const byState = new Map<string, { e: number; point: number[] }[]>();
  elements.forEach((el, e) => byState.set(el.state, [...(byState.get(el.state) ?? []), { e, point: el.point }]));
  const restTensor = new Map(m.tensors.map((t) => [t.name, t]));
  const outputBinding = new Map(outputs.map((x, i) => [x.name, i]));
  const rowOffset = (name: string, values: IndexValue[]) => offsetExpr(values, strides(restTensor.get(name)!.dims, sizes), bin('*', id('row'), lit.u32(tensorSize(restTensor.get(name)!, sizes))));
  // The gated backward evaluates the outputs and the sums from its own cells (Recompute.gated), not the rest's.
  const gated = recompute?.gated;
  for (const [state, els] of gated ? [] : byState) {
    const { def, term } = sumTerm(m, state)!;
    const at = new Map(els.map((x) => [x.point.join(','), x.e]));
    defs.push({
      def,
      root: term,
      points: els.map((x) => x.point),
      write: (point, value) => assign(id(`acc_${at.get(point.join(','))}`), value, '+='),
    });
  }
  for (const o of gated ? [] : outputs) {
    const def = m.step.find((d) => d.kind === 'output' && d.target === o.name)!;
    defs.push({
      def,
      root: def.root,
      points: pointsOf(restTensor.get(o.name)!.dims, sizes),
      write: (point, value) => assign(index(id(`out_${outputBinding.get(o.name)}`), rowOffset(o.name, point)), value),
    });
  }

  // The recomputed steps: the forward's state updates and the core's, and what they read.
  const updates = (x: Module) => x.step.filter((d) => d.kind === 'update');
  const forwardStates = recompute ? recompute.forward.tensors.filter((t) => t.role === 'state') : [];
  const adjointStates = recompute ? recompute.core.tensors.filter((t) => t.role === 'state') : [];
  const savedInput = new Map(forwardStates.map((t, k) => [recompute!.saved.get(t.name)!, { k, t }]));
  const carriedInput = new Map(adjointStates.map((t, k) => [recompute!.carried.get(t.name)!, { k, t }]));

  // The kernel's inputs: the rest's (its checkpoints among them: the saved states and carried adjoints), and what the recomputed updates read.
  const inputs: { name: string; size: number; dims: string[]; every?: number }[] = [];
  const addInput = (t: Tensor) => {
    if (!inputs.some((x) => x.name === t.name)) inputs.push({ name: t.name, size: tensorSize(t, sizes), dims: t.dims });
  };
  m.tensors.filter((t) => t.role === 'input').forEach(addInput);
  // The checkpoints: the saved states and the carried adjoints, read once a run.
  for (const [name, { t }] of [...savedInput, ...carriedInput]) addInput({ ...t, name, role: 'input' });
  for (const x of inputs) if ((recompute?.sampled?.saved && savedInput.has(x.name)) || (recompute?.sampled?.carried && carriedInput.has(x.name))) x.every = recompute!.run;
  if (recompute)
    for (const x of [recompute.forward, recompute.core]) {
      const read = inputsRead(x, updates(x));
      x.tensors.filter((t) => t.role === 'input' && read.has(t.name)).forEach(addInput);
    }
  if (gated)
    for (const x of [gated.walk, gated.core, gated.gate]) {
      const read = inputsRead(x, x.step.filter((d) => d.kind !== 'let'));
      x.tensors.filter((t) => t.role === 'input' && read.has(t.name) && t.name !== gated.F && t.name !== gated.G).forEach(addInput);
    }

  const restLowering = moduleLowering(m, '', letsRead(m, defs.map((d) => d.def)), scope);
  const rowOf = (t: Expr) => bin('+', bin('*', id('b'), member(id('sizes'), 'T')), t);
  // The step's body: its row, then the rest (and, recomputing, the core's update after it). Recomputing,
  // the body walks a run back from its last step: s = L - 1 … 0, `s < n` the run's steps.
  const L = recompute?.run ?? 1;
  const body: Stmt[] = recompute ? [letS('s', bin('-', lit.u32(L - 1), id('r')))] : [letS('row', rowOf(id('t')))];
  const guarded: Stmt[] = recompute ? [letS('row', rowOf(bin('+', id('ta'), id('s'))))] : body;
  const load = inputLoader(inputs, sizes, guarded);
  // A kept state is read once a step at each point (a let), like an input: the rest and the core's
  // update then share what they compute from it (dedupeLets below).
  const keptReads = new Set<string>();
  const adjointRead = (k: number, t: Tensor, values: IndexValue[]): Expr => {
    const at = offsetExpr(values, strides(t.dims, sizes));
    if (at.kind !== 'literal') return index(id(`a${k}`), at);
    const name = `a${k}_${at.value}`;
    if (!keptReads.has(name)) guarded.push(letS(name, index(id(`a${k}`), at)));
    keptReads.add(name);
    return id(name);
  };
  const recomputed = (n: { source: string; tensor: string }, values: IndexValue[]): Expr | undefined => {
    if (n.source !== 'input') return undefined;
    const saved = savedInput.get(n.tensor);
    if (saved) {
      const at = offsetExpr(values, strides(saved.t.dims, sizes));
      if (at.kind !== 'literal') return index(index(id(`hs${saved.k}`), id('s')), at);
      const name = `hs${saved.k}_${at.value}`;
      if (!keptReads.has(name)) guarded.push(letS(name, index(index(id(`hs${saved.k}`), id('s')), at)));
      keptReads.add(name);
      return id(name);
    }
    const carried = carriedInput.get(n.tensor);
    if (carried) return adjointRead(carried.k, carried.t, values);
    return undefined;
  };
  const lowerer = restLowering.step(guarded, (n, values) => {
    const r = recomputed(n, values);
    if (r) return r;
    if (n.source === 'input') return load(n.tensor, values);
    throw new Error(`compileTimeSum: ${m.name} reads ${n.source} ${n.tensor} per step`);
  });
  const writes: Stmt[] = [];
  const stored = new Map<string, Expr[]>();
  for (const d of defs)
    d.points.forEach((point) => {
      const value = lowerer.node(d.def, d.root, new Map(d.def.vars.map((v, k) => [v.name, { value: point[k]!, depth: 0 }])));
      if (d.def.kind === 'output') {
        const flat = point.reduce((o, v, i) => o + v * strides(restTensor.get(d.def.target)!.dims, sizes)[i]!, 0);
        stored.set(d.def.target, Object.assign(stored.get(d.def.target) ?? [], { [flat]: value }));
      } else writes.push(d.write(point, value));
    });
  // Outputs a row at a time: vec4 stores where the row is a multiple of 4 floats.
  const rowStores = (name: string, values: Expr[]): Stmt[] => {
    // (A shader other than a cell's first writes none of its outputs.)
    const o = outputs.find((x) => x.name === name);
    if (!o) return [];
    const k = outputBinding.get(name)!;
    if (quads(o.size)) return Array.from({ length: o.size / 4 }, (_, q) => assign(index(id(`out_${k}`), bin('+', bin('*', id('row'), lit.u32(o.size / 4)), lit.u32(q))), call('vec4<f32>', ...values.slice(4 * q, 4 * q + 4))));
    return values.map((v, flat) => assign(index(id(`out_${k}`), bin('+', bin('*', id('row'), lit.u32(o.size)), lit.u32(flat))), v));
  };
  if (!gated) for (const o of outputs) writes.push(...rowStores(o.name, stored.get(o.name)!));
  guarded.push(...writes);
  /**
   * A module's outputs at every point, lowered into `into` (flat values by output), its loads by
   * `resolve`; and the terms of the params' sums it updates, added to this shader's accumulators there.
   */
  const outputsOf = (x: Module, tag: string, into: Stmt[], resolve: LoadResolve): Map<string, Expr[]> => {
    const outs = x.step.filter((d) => d.kind === 'output');
    const sums = x.step.filter((d) => d.kind === 'update' && byState.has(d.target));
    const lw = moduleLowering(x, tag, letsRead(x, [...outs, ...sums]), scope).step(into, resolve);
    const tensorOf = new Map(x.tensors.map((t) => [t.name, t]));
    const at = (d: Def, point: number[]) => new Map(d.vars.map((v, k) => [v.name, { value: point[k]!, depth: 0 }]));
    const values = new Map(
      outs.map((d) => {
        const t = tensorOf.get(d.target)!;
        const row: Expr[] = [];
        for (const point of pointsOf(t.dims, sizes)) row[point.reduce((o, v, i) => o + v * strides(t.dims, sizes)[i]!, 0)] = lw.node(d, d.root, at(d, point));
        return [d.target, row];
      }),
    );
    for (const d of sums) for (const { e, point } of byState.get(d.target)!) into.push(assign(id(`acc_${e}`), lw.node(d, accumulatorTerm(d)!, at(d, point)), '+='));
    return values;
  };

  // A module's state updates at every point, into `<next><k>` for its k-th state (`old` loads read
  // `<current><k>`, `new` loads what an earlier update wrote), then `current = next`.
  const stepStates = (x: Module, tag: string, states: Tensor[], current: string, next: string, into: Stmt[], load: (tensor: string, values: IndexValue[]) => Expr) => {
    const place = new Map(states.map((t, k) => [t.name, { k, t }]));
    // Only the given states' updates (a gated cell's params' sums are evaluated with its outputs).
    const own = updates(x).filter((d) => place.has(d.target));
    const step = moduleLowering(x, tag, letsRead(x, own), scope).step(into, (n, values) => {
      const r = recomputed(n, values);
      if (r) return r;
      if (n.source === 'input') return load(n.tensor, values);
      const s = n.source === 'state' ? place.get(n.tensor) : undefined;
      if (s && n.version !== 'new' && current === 'a') return adjointRead(s.k, s.t, values);
      if (s) return index(id(`${n.version === 'new' ? next : current}${s.k}`), offsetExpr(values, strides(s.t.dims, sizes)));
      throw new Error(`compileTimeSum: ${x.name} reads ${n.source} ${n.tensor} per step`);
    });
    // Each state's new values by flat point: what reads the new state after the step can use them as they are.
    const updated: Expr[][] = states.map(() => []);
    for (const d of own) {
      const s = place.get(d.target)!;
      for (const point of pointsOf(s.t.dims, sizes)) {
        const value = step.node(d, d.root, new Map(d.vars.map((v, k) => [v.name, { value: point[k]!, depth: 0 }])));
        const at = offsetExpr(point, strides(s.t.dims, sizes));
        into.push(assign(index(id(`${next}${s.k}`), at), value));
        if (at.kind === 'literal') updated[s.k]![Number(at.value)] = value;
      }
    }
    states.forEach((_, k) => into.push(assign(id(`${current}${k}`), id(`${next}${k}`))));
    return updated;
  };

  const arrayVar = (name: string, t: Tensor, steps?: number) => varS(name, steps ? arrayOf(arrayOf(f32, tensorSize(t, sizes)), steps) : arrayOf(f32, tensorSize(t, sizes)));
  let loop: Stmt[];
  if (!recompute) loop = [forRange('t', bin('+', id('t0'), id('lid')), id('t1'), body, lit.u32(WORKGROUP))];
  else {
    // The loops over a run's steps have a constant trip count, so that `s` is the same in every
    // invocation and the kept states are indexed alike in all (lavapipe indexes private arrays
    // per SIMD lane where the index may differ).
    const inputIndex = new Map(inputs.map((x, i) => [x.name, i]));
    // A sampled checkpoint's row: the run's, among the sequence's ceil(T / L).
    const runRow = bin('+', bin('*', id('b'), bin('/', bin('+', member(id('sizes'), 'T'), lit.u32(L - 1)), lit.u32(L))), bin('/', id('ta'), lit.u32(L)));
    // Forward over the run from its first step's saved state, each step's state kept in hs<k>[s]
    // (gated: the walk's outputs from the state just computed, F kept in fs[s]).
    const forwardBody: Stmt[] = [letS('row', rowOf(bin('+', id('ta'), id('s')))), ...(gated ? [] : forwardStates.map((_, k) => assign(index(id(`hs${k}`), id('s')), id(`p${k}`))))];
    const forwardLoad = inputLoader(inputs, sizes, forwardBody);
    const newStates = stepStates(gated ? gated.walk : recompute.forward, 'f_', forwardStates, 'p', 'np', forwardBody, forwardLoad);
    const gateTensor = gated?.gate.tensors.find((t) => t.name === gated.gateState);
    const gateFlat = (values: IndexValue[]) => offsetExpr(values, strides(gateTensor!.dims, sizes));
    const boundary: Stmt[] = [];
    if (gated) {
      const stateOf = (name: string) => forwardStates.findIndex((t) => t.name === name);
      const walkOut = outputsOf(gated.walk, 'w_', forwardBody, (n, values) => {
        if (n.source === 'state') {
          const at = offsetExpr(values, strides(forwardStates[stateOf(n.tensor)]!.dims, sizes));
          return (at.kind === 'literal' && newStates[stateOf(n.tensor)]![Number(at.value)]) || index(id(`p${stateOf(n.tensor)}`), at);
        }
        if (n.source === 'input') return forwardLoad(n.tensor, values);
        throw new Error(`compileTimeSum: the walk reads ${n.source} ${n.tensor}`);
      });
      for (const [name, values] of walkOut) forwardBody.push(...(name === gated.F ? values.map((v, q) => assign(index(index(id('fs'), id('s')), lit.u32(q)), v)) : rowStores(name, values)));
      // D at the run's last step: Σ over the state's other axes of the carried adjoint times the state there.
      const k = stateOf(gated.state);
      const dims = forwardStates[k]!.dims.map((d) => sizes[d]!);
      const terms: Expr[][] = Array.from({ length: tensorSize(gateTensor!, sizes) }, () => []);
      pointsOf(forwardStates[k]!.dims, sizes).forEach((point, p) => {
        terms[gatePoint(gated.gateAxes, dims, point)]!.push(bin('*', index(id('a0'), lit.u32(p)), index(id(`p${k}`), lit.u32(p))));
      });
      terms.forEach((t, q) => boundary.push(assign(index(id('dl0'), lit.u32(q)), t.reduce((x, y) => bin('+', x, y)))));
      // Back: the core's outputs (G among them), D, the gate cell's outputs.
      const coreOut = outputsOf(gated.core, 'k_', guarded, (n, values) => {
        if (n.source === 'state') return adjointRead(0, adjointStates[0]!, values);
        if (n.source === 'input') return load(n.tensor, values);
        throw new Error(`compileTimeSum: the core reads ${n.source} ${n.tensor}`);
      });
      coreOut.get(gated.G)!.forEach((v, q) => guarded.push(letS(`gt_${q}`, v)));
      stepStates(gated.gate, 'g_', [gateTensor!], 'dl', 'ndl', guarded, (tensor, values) => {
        if (tensor === gated.F) return index(index(id('fs'), id('s')), gateFlat(values));
        if (tensor === gated.G) {
          const at = gateFlat(values);
          if (at.kind !== 'literal') throw new Error('compileTimeSum: G read at a run-time index');
          return id(`gt_${at.value}`);
        }
        return load(tensor, values);
      });
      const gateOut = outputsOf(gated.gate, 'g_', guarded, (n, values) => {
        if (n.source === 'state') return index(id('dl0'), gateFlat(values));
        if (n.source === 'input') return load(n.tensor, values);
        throw new Error(`compileTimeSum: the gate cell reads ${n.source} ${n.tensor}`);
      });
      for (const [name, values] of [...coreOut, ...gateOut]) if (name !== gated.G) guarded.push(...rowStores(name, values));
    }
    // Back over the run from its last step's carried adjoint: the rest at each step, then the core's
    // update, which gives the adjoint the step before reads.
    stepStates(recompute.core, 'c_', adjointStates, 'a', 'na', guarded, load);
    body.push(ifS(bin('<', id('s'), id('n')), guarded));
    loop = [
      ...forwardStates.flatMap((t, k) => [arrayVar(`p${k}`, t), arrayVar(`np${k}`, t), ...(gated ? [] : [arrayVar(`hs${k}`, t, L)])]),
      ...adjointStates.flatMap((t, k) => [arrayVar(`a${k}`, t), arrayVar(`na${k}`, t)]),
      ...(gated ? [arrayVar('fs', gateTensor!, L), arrayVar('dl0', gateTensor!), arrayVar('ndl0', gateTensor!)] : []),
      forRange(
        'j',
        lit.u32(0),
        member(id('sizes'), 'chunk'),
        [
          letS('ta', bin('+', bin('+', id('t0'), id('j')), bin('*', id('lid'), lit.u32(L)))),
          ifS(bin('<', id('ta'), id('t1')), [
            letS('n', bin('-', call('min', bin('+', id('ta'), lit.u32(L)), id('t1')), id('ta'))),
            ...forwardStates.flatMap((t, k) => rowInto(`p${k}`, inputIndex.get(recompute.saved.get(t.name)!)!, tensorSize(t, sizes), recompute.sampled?.saved ? runRow : rowOf(id('ta')))),
            countedLoop('s', lit.u32(0), L, [ifS(bin('<', id('s'), id('n')), forwardBody)]),
            ...adjointStates.flatMap((t, k) => rowInto(`a${k}`, inputIndex.get(recompute.carried.get(t.name)!)!, tensorSize(t, sizes), recompute.sampled?.carried ? runRow : rowOf(bin('-', bin('+', id('ta'), id('n')), lit.u32(1))))),
            ...boundary,
            countedLoop('r', lit.u32(0), L, body),
          ]),
        ],
        lit.u32(WORKGROUP * L),
      ),
    ];
  }
  const { globals: mathGlobals, functions } = mathPrelude(new Set(scope.lowerers.flatMap((l) => [...l.helpers])));

  const what = [...(elements.length ? [`the sums over time of ${[...byState.keys()].join(', ')} (${elements.length} elements)`] : []), ...(outputs.length ? [`per step ${outputs.map((o) => o.name).join(', ')}`] : [])].join('; ');
  const how = recompute
    ? `runs of ${recompute.run} steps per invocation, their ${forwardStates.map((t) => t.name).join(', ')} recomputed forward from the saved state and ${adjointStates.map((t) => t.name).join(', ')} back from the carried adjoint${gated ? `, the gate's gradient by ${gated.gateState} (grad/gate.ts)` : ''}`
    : "one chunk of one sequence's steps per invocation";
  // Mesa unrolls a loop of up to 32 trips whose count it knows: a run's two walks, unrolled, took
  // lavapipe 10-66 s to compile cold (gla's, mamba_s6's, lru's rests); budgetUnrolling keeps them loops.
  const kernel = printModule(budgetUnrolling({
    ...emptyModule(),
    header: `${m.name}: ${what}; ${how}, partial sums to the host`,
    structs: chunkedTimeGlobals().structs,
    globals: [
      ...chunkedTimeGlobals().globals,
      { name: 'params', space: 'storage', access: 'read', type: arrayOf(f32), group: 0, binding: 2 },
      { name: 'partials', space: 'storage', access: 'read_write', type: arrayOf(f32), group: 0, binding: 3 },
      ...inputs.map((x, i) => ({ name: `in_${i}`, space: 'storage' as const, access: 'read' as const, type: arrayOf(quads(x.size) ? vec(4, f32) : f32), group: 0, binding: 4 + i })),
      ...outputs.map((x, i) => ({ name: `out_${i}`, space: 'storage' as const, access: 'read_write' as const, type: arrayOf(quads(x.size) ? vec(4, f32) : f32), group: 0, binding: 4 + inputs.length + i })),
      ...mathGlobals,
    ],
    functions,
    entryPoints: [
      // The modules' values computed once (dedupeLets): each module's hoisted params and each
      // definition's terms are lowered apart, so the same value (mamba_s6's decays, from a hoisted
      // exp(A_log)) came out under different names, in the rest, the core's update and each sum.
      workgroupEntry(
        WORKGROUP,
        dedupeLets(
          [
            letS('w', flatWorkgroupIndex()),
            letS('g', bin('+', bin('*', id('w'), lit.u32(WORKGROUP)), id('lid'))),
            letS('c', bin('%', id('w'), member(id('sizes'), 'chunks'))),
            letS('b', bin('/', id('w'), member(id('sizes'), 'chunks'))),
            ifS(bin('>=', id('b'), member(id('sizes'), 'seqs')), [{ kind: 'return' }]),
            ...scope.before,
            letS('len', call('min', index(id('lengths'), id('b')), member(id('sizes'), 'T'))),
            letS('t0', bin('*', id('c'), member(id('sizes'), 'chunk'))),
            letS('t1', call('min', bin('+', id('t0'), member(id('sizes'), 'chunk')), id('len'))),
            ...elements.map((_, e) => varS(`acc_${e}`, f32, lit.f32(0))),
            ...loop,
            ...elements.map((_, e) => assign(index(id('partials'), bin('+', bin('*', id('g'), lit.u32(elements.length)), lit.u32(e))), id(`acc_${e}`))),
          ],
          new Set([...outputs.map((_, i) => `out_${i}`), 'partials']),
        ),
      ),
    ],
  }));
  return {
    cell: m,
    shader: { label, code: kernel, entryPoint: 'main' },
    elements,
    outputs,
    inputs: inputs.map(({ name, size, every }) => ({ name, size, ...(every ? { every } : {}) })),
  };
}
