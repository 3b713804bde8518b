// The sequential WGSL backend: one kernel that loops over time.
//
// A kernel *unit* is one (sequence, slice) pair, the slice being a coordinate on the independent
// axes found by `sliceProgram`. With slice axes (mamba's channels, deltanet's rows) a unit is one
// invocation, and its part of every tensor lives in function-scope arrays. With none (LSTM, GRU,
// dense semirings: every state element reads every other) a unit is one workgroup: the tensors live
// in workgroup memory, each invocation owns a strided share of every definition's elements, and a
// barrier separates definitions.
//
// Each step computes the program's definitions in order into local tensors, writes outputs, then
// commits the updated states (in workgroup memory a state's two halves swap roles instead: one barrier
// a step). Steps at or past a sequence's length are not run: the state stays, and
// outputs get zeros. Time-invariant lets and sub-expressions are computed once before the loop.
//
// With `parallel` (the seq backend's kernels), what does not depend on the state and contains a
// product (input projections `W·x_t`, gate pre-activations from inputs; program.ts decides) is not
// computed in the loop: a second kernel, the pre-pass, computes it for every step of every sequence
// at once (one invocation per step, so that the weights it reads are the same in every invocation
// of a workgroup) into the `scratch` buffer, step-major, and the loop reads it back. The host
// dispatches the pre-pass before the kernel. Without it (callers that run `main` alone over the
// layout's buffers, as the chunk backend's comparisons do), the kernel is the one-pass kernel.
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { strides, tensorSize, type DimSizes } from '../../src/compiler/ir/dims.js';
import { SourceFile } from '../../src/compiler/diagnostics/render.js';
import * as W from '../wgsl/ast.js';
import { assign, bin, blank, call, callS, comment, forRange, id, ifS, index, letS, lit, member, un, varS, type Expr, type Stmt } from '../wgsl/ast.js';
import { mathPrelude, type MathHelper } from '../wgsl/math.js';
import { indexExpr, Lowerer, type IndexValue, type LoadNode, type NodeHook, type VectorResolver } from '../lower/expr.js';
import { flatWorkgroupIndex, gridDispatch } from '../lower/grid.js';
import { overPoints } from '../lower/points.js';
import { isBidirectional, REVERSED_ROW, stepRow, timeAxisOf } from '../lower/time.js';
import { printModule } from '../wgsl/print.js';
import { countedLoop, budgetUnrolling, MAX_UNROLLED_ACCESSES } from '../wgsl/unroll-budget.js';
import { storeHalf } from '../wgsl/half.js';

const VECTOR_UNROLLED_ACCESSES = MAX_UNROLLED_ACCESSES / 4;
/** WebGPU's guaranteed maxStorageBuffersPerShaderStage. */
const MAX_STORAGE_BUFFERS = 8;
import { HALF_GLOBALS, kernelLayout, type BufferLayout, type KernelLayout } from './layout.js';
import { buildProgram, keyOfLoad, sliceProgram, type KernelDef, type LocalKey, type Program, type Slicing } from './program.js';
import { emitSubgroupPrepass, SUBGROUP_ROWS, subgroupLoops, type RegionOf, type SubgroupPrepassContext } from './prepass-subgroup.js';
import { laneSumAt, laneSums, laneSumsPhase, type LaneSums } from './step-subgroup.js';

export type SeqStrategy = 'invocation' | 'workgroup';

/** The `scratch` buffer: per step of every sequence, the pre-pass's tensors, one after another. */
export interface ScratchLayout {
  binding: number;
  /** Floats per step row (`batch * T` rows). */
  perStep: number;
  regions: { key: LocalKey; dims: string[]; size: number; offset: number }[];
}

/** The pre-pass kernel: one invocation per step row, `ceil(batch * T / workgroupSize)` workgroups. */
export interface SeqPrepass {
  wgsl: string;
  entryPoint: 'main';
  workgroupSize: number;
  /** Step rows per workgroup: dispatch `ceil(batch * T / rowsPerWorkgroup)` workgroups. */
  rowsPerWorkgroup: number;
  /** The bindings it uses (binding 0, the uniform, included). */
  bindings: number[];
  /** Lanes over step rows sharing weights by subgroupBroadcast (prepass-subgroup.ts): the job needs `subgroups`, of at least `workgroupSize` invocations. */
  subgroups?: true;
}

export interface SeqKernel {
  name: string;
  wgsl: string;
  entryPoint: 'main';
  /** The bindings `main` uses (binding 0, the uniform, included): a bind group for an 'auto' layout has these. */
  bindings: number[];
  /** Extra bindings of a read-only buffer as `array<vec4<f32>>` (the same buffer bound twice), used by main or the pre-pass. */
  views: { binding: number; buffer: 'weights' | 'inputs' }[];
  /** Present when the kernel has a pre-pass; `main` then needs it run first, with `scratch` bound. */
  prepass?: SeqPrepass;
  scratch?: ScratchLayout;
  /** Present when `main` keeps its lets and states in a storage buffer (Plan.localsInStorage): `perUnit` floats for each unit (sequence and slice). */
  locals?: { binding: number; perUnit: number };
  strategy: SeqStrategy;
  workgroupSize: number;
  /**
   * Sequences one workgroup runs (the batch tile; 1 but in the workgroup strategy): dispatch
   * `ceil(batch / sequencesPerWorkgroup)` workgroups. More are harmless (they return at once).
   */
  sequencesPerWorkgroup: number;
  /** Present when the step runs as its own dispatch (stepwise); the host then runs it instead of `wgsl`. */
  step?: SeqStepKernel;
  /** Dims of the independent slice axes; one unit per sequence and slice coordinate. */
  sliceAxes: string[];
  unitsPerSequence: number;
  dims: DimSizes;
  layout: KernelLayout;
}

/**
 * The step as a kernel of its own, dispatched once per step (`init` once before): no loop over time
 * and no barrier in the kernel, so lavapipe keeps its sums in registers (a barrier inside the time
 * loop makes the kernel a coroutine whose values live in memory), and the rows of a step spread over
 * as many workgroups as they fill, whatever the batch. The states live in two storage buffers that
 * swap roles every step (`state_cur` read, `state_next` written); the step index travels in the
 * first float of them (written by workgroup 0 for the next step), so every dispatch binds the same
 * uniform.
 */
export interface SeqStepKernel {
  /** One module with two entry points: `main` (a step) and `init` (the initial state into `state_next`). */
  wgsl: string;
  entryPoint: 'main';
  initEntryPoint: 'init';
  workgroupSize: number;
  /** Sequences an invocation computes together, sharing each weight load. */
  tile: number;
  /** Workgroups over a sequence's elements (`ceil(elements / workgroupSize)`). */
  blocks: number;
  /** Bindings of `main` and of `init` (binding 0, the uniform, included). */
  bindings: number[];
  initBindings: number[];
  /** Bindings of the two state buffers (a step reads `cur` and writes `next`; the next step swaps them). */
  stateCur: number;
  stateNext: number;
  /** Floats of each state buffer: a header of STEP_HEADER floats (the step index), then the states as state_in lays them out. */
  stateFloats: (batch: number) => number;
  /** Lanes over 8 sequences sharing the recurrent weights by subgroupBroadcast (step-subgroup.ts): the job needs `subgroups` of at least 8. */
  subgroups?: true;
}

export interface SeqOptions {
  /** Emit the step kernel too (SeqStepKernel), with this many sequences per invocation (the plan's decision), or with lanes over 8 sequences (step-subgroup.ts). */
  stepwise?: { tile: number; lanes?: boolean };
  /** The .rnn source, for `// path:line` comments on generated blocks. */
  source?: SourceFile;
  /** Move state-independent products into a pre-pass over every step (see the header). */
  parallel?: boolean;
  /** Inputs, params and outputs in f16 buffers (layout.ts HALF_GLOBALS; the plan's precision). */
  half?: boolean;
  /** The pre-pass over subgroups (prepass-subgroup.ts) where its definitions take it (the plan's decision, subgroupPrepassForm). */
  subgroupPrepass?: boolean;
  /** One invocation per sequence, whatever the workgroup memory allows (SeqDecision.invocation). */
  invocation?: boolean;
  /** Sequences one workgroup runs at most (the batch at prepare: a tile past it runs absent sequences' steps). */
  maxTile?: number;
}

/** WebGPU's guaranteed workgroup storage (maxComputeWorkgroupStorageSize). */
const WORKGROUP_STORAGE_BYTES = 16384;
const INVOCATION_WORKGROUP = 64;
/** Invocations per workgroup of the pre-pass (one per step row). */
const PREPASS_WORKGROUP = 64;
/** Step rows the pre-pass computes together (rowsPrepass), sharing each weight load. */
const PREPASS_ROWS = 8;
/**
 * The most sums in one loop of the rows pre-pass (f32 accumulators, scalarAccumulators): LSTM
 * X = H = 256, T = 256, batch 8, load ~12: 8 rows x 4 projections = 32 sums 770/930 ms of CPU
 * (min/median) against 4 rows (16 sums) 1020/1070 ms (docs/seq-bench.md).
 */
const MAX_PREPASS_SUMS = 32;

/** Invocations per workgroup of the step kernel. */
const STEP_WORKGROUP = 64;
/** Floats before the states in the step kernel's state buffers: the step index, and padding. */
const STEP_HEADER = 4;

const localName = (key: LocalKey): string => {
  const [kind, name] = key.split(':') as [string, string];
  return { state: 'state_', next: 'next_', let: 'let_', elem: 'elem_', clet: 'tmp_', hoist: 'inv_', par: 'par_' }[kind] + name;
};
const u = (n: number) => lit.u32(n);
const mulE = (a: Expr, k: number): Expr => (k === 0 ? u(0) : k === 1 ? a : bin('*', a, u(k)));
const addE = (a: Expr, b: Expr): Expr => (a.kind === 'literal' && a.value === 0 ? b : b.kind === 'literal' && b.value === 0 ? a : bin('+', a, b));
const sumE = (terms: Expr[]): Expr => terms.reduce(addE, u(0));
/** `e / 4` for an index that is a multiple of 4, written without the division where its terms show it (`cur * 8u + q * 4u` -> `cur * 2u + q`). */
const quarterE = (e: Expr): Expr => {
  const exact = (x: Expr): Expr | undefined => {
    if (x.kind === 'literal' && typeof x.value === 'number' && x.value % 4 === 0) return u(x.value / 4);
    if (x.kind !== 'binary') return undefined;
    if (x.op === '+') {
      const [a, b] = [exact(x.left), exact(x.right)];
      return a && b ? addE(a, b) : undefined;
    }
    if (x.op === '*' && x.right.kind === 'literal' && typeof x.right.value === 'number' && x.right.value % 4 === 0) return mulE(x.left, x.right.value / 4);
    if (x.op === '*' && x.left.kind === 'literal' && typeof x.left.value === 'number' && x.left.value % 4 === 0) return mulE(x.right, x.left.value / 4);
    return undefined;
  };
  return exact(e) ?? bin('/', e, u(4));
};

/**
 * Whether a kernel keeps local `key` per unit (a function-scope or workgroup array, or its region of
 * `locals`): something reads it, or it is a state; not what the pre-pass leaves in `scratch`, nor what
 * stays in registers.
 */
const keptLocal = (p: Pick<Plan, 'read' | 'scratch'>, registers: Set<LocalKey>, key: LocalKey): boolean =>
  (p.read.has(key) || key.startsWith('state:')) && !p.scratch.regions.some((r) => r.key === key) && !registers.has(key);

/** Decides the strategy and sizes; the rest of the emitter follows from these. */
interface Plan {
  program: Program;
  slicing: Slicing;
  strategy: SeqStrategy;
  workgroupSize: number;
  unitsPerSequence: number;
  /** Local shape of every tensor: its dims at unsliced positions. */
  local: Map<LocalKey, { dims: string[]; positions: number[]; count: number }>;
  /** Tensors something reads (others are not stored). */
  read: Set<LocalKey>;
  /** Where the pre-pass's tensors live in `scratch` (no regions: no pre-pass). */
  scratch: Omit<ScratchLayout, 'binding'>;
  /** The invocation's lets and states in the `locals` storage buffer rather than function-scope arrays (plan: LOCALS_IN_STORAGE_BYTES). */
  localsInStorage: boolean;
  /** Sequences per workgroup (the batch tile, chooseTile); 1 outside the workgroup strategy. */
  tile: number;
}

function plan(m: Module, sizes: DimSizes, options: SeqOptions): Plan {
  // No pre-pass for a bidirectional cell: its scratch rows would need each part's position.
  const program = buildProgram(m, sizes, { parallel: (options.parallel ?? false) && !isBidirectional(m) });
  let perStep = 0;
  const regions = program.parallel.map((k) => {
    const dims = k.def.vars.map((v) => v.dim);
    const size = dims.reduce((n, d) => n * sizes[d]!, 1);
    return { key: k.target, dims, size, offset: (perStep += size) - size };
  });
  const inScratch = new Set(regions.map((r) => r.key));
  const slicing = sliceProgram(program, m.monoid !== undefined, { parts: isBidirectional(m) });
  const local: Plan['local'] = new Map();
  for (const [key, dims] of program.shapes) {
    const positions = slicing.positions.get(key)!;
    const localDims = dims.filter((_, i) => positions[i]! < 0);
    local.set(key, { dims: localDims, positions, count: localDims.reduce((n, d) => n * sizes[d]!, 1) });
  }
  const read = new Set<LocalKey>();
  for (const k of program.defs) for (const n of k.def.nodes) if (n.op === 'load') read.add(keyOfLoad(n, m.monoid !== undefined) ?? '');
  for (const s of program.updated) read.add(`next:${s}`);
  for (const key of inScratch) read.delete(key); // read from scratch, not kept per unit
  const storageBytes = [...local].filter(([key]) => read.has(key) || key.startsWith('state:')).reduce((n, [, l]) => n + 4 * l.count, 4);
  const maxCount = Math.max(1, ...[...local.values()].map((l) => l.count));
  const strategy: SeqStrategy = slicing.axes.length === 0 && storageBytes <= WORKGROUP_STORAGE_BYTES && !options.invocation ? 'workgroup' : 'invocation';
  const workgroupSize = strategy === 'workgroup' ? Math.min(256, Math.max(8, 2 ** Math.ceil(Math.log2(maxCount)))) : INVOCATION_WORKGROUP;
  const unitsPerSequence = slicing.axes.reduce((n, d) => n * sizes[d]!, 1);
  const localsInStorage = strategy === 'invocation' && options.invocation === true && storageBytes > LOCALS_IN_STORAGE_BYTES;
  return { program, slicing, strategy, workgroupSize, unitsPerSequence, local, read, scratch: { perStep, regions }, localsInStorage, tile: 1 };
}

/**
 * An invocation per sequence of one step (SeqOptions.invocation, the staged backward's rest) keeps
 * its lets and states in a storage buffer, a region per invocation, from this many bytes: creating the
 * pipeline of mamba_s6's rest at D = 256, N = 16 (six function-scope arrays of 4,096 floats) took 11 s
 * on lavapipe in every process (Tint's and Mesa's NIR passes, which the disk cache does not keep),
 * 37 ms with the arrays in a storage buffer (docs/grad.md, "Session 30").
 */
const LOCALS_IN_STORAGE_BYTES = WORKGROUP_STORAGE_BYTES;

class KernelWriter {
  readonly helpers = new Set<MathHelper>();
  /** Names of generated values, unique across the kernel's one function. */
  private readonly counter = { next: 0 };
  private readonly buffers: Map<string, BufferLayout>;
  /** Outputs of a bidirectional cell's `reversed` block: written at the backward step's position. */
  private readonly backwardOutputs: Set<string>;
  constructor(
    readonly m: Module,
    readonly sizes: DimSizes,
    readonly p: Plan,
    readonly layout: KernelLayout,
    readonly vectors = false,
    /** Lets and states kept in workgroup memory as arrays of vec4s (quadLocal; a swapped state by its `state:` key): a sum reads them four at a time. */
    readonly quadLets: ReadonlySet<LocalKey> = new Set(),
  ) {
    this.buffers = new Map(layout.buffers.map((b) => [b.role, b]));
    this.backwardOutputs = new Set(m.tensors.filter((t) => t.role === 'output' && t.reversed).map((t) => t.name));
    this.registers = this.registerKeys();
    this.storageLocals = p.localsInStorage ? this.localsLayout() : undefined;
  }

  /** With Plan.localsInStorage: each kept local's offset in an invocation's region of `locals`, and the region's floats. */
  readonly storageLocals: { offsets: Map<LocalKey, number>; perUnit: number } | undefined;

  /** The locals `module` keeps (read, or a state), in its order, laid out one after another. */
  private localsLayout(): { offsets: Map<LocalKey, number>; perUnit: number } {
    const offsets = new Map<LocalKey, number>();
    let perUnit = 0;
    for (const [key, l] of this.p.local) {
      if (!keptLocal(this.p, this.registers, key)) continue;
      offsets.set(key, perUnit);
      perUnit += l.count;
    }
    return { offsets, perUnit };
  }

  /** The binding of `locals` (Plan.localsInStorage): after scratch, its views and the step kernel's states. */
  get localsBinding(): number {
    return this.scratchBinding + 5;
  }

  /** Lets that live in registers within a fused run (registerKeys): no workgroup array. */
  readonly registers: Set<LocalKey>;

  /** Lets and states a vectorised sum read four at a time while written, each a workgroup array of floats (quadLocal): emitSeq writes the kernel again with them as `quadLets`. */
  readonly quadWanted = new Set<LocalKey>();

  /**
   * Whether a let or a state (its key as quadKey gives it) can live in workgroup memory as an array of
   * vec4s: the loop kernel's workgroup strategy, kept there (no register, no scratch, no storage
   * region, not sliced), its last dim a multiple of 4 (so a sum's quad along it is one aligned vec4).
   * On lavapipe every invocation loads a workgroup address lane by lane, even one all of them read: a
   * vec4 is one load where four floats were four (LSTM X = H = 128's backward loop at batch 8:
   * 630 -> 481 ms with its gate adjoints so, docs/grad.md).
   */
  private quadLocal(key: LocalKey): boolean {
    const l = this.p.local.get(key);
    if (!l || !/^(let|state|next):/.test(key) || !this.wg || this.stepwise || this.prepassRows !== undefined || this.p.slicing.axes.length > 0) return false;
    if (this.registers.has(key) || this.storageLocals?.offsets.has(key) || this.p.scratch.regions.some((r) => r.key === key) || !keptLocal(this.p, this.registers, key)) return false;
    return l.count > 1 && l.dims.length > 0 && this.sizes[l.dims[l.dims.length - 1]!]! % 4 === 0;
  }

  private get wg() {
    return this.p.strategy === 'workgroup';
  }

  // ---- addressing ----

  private region(role: string, tensor: string) {
    const b = this.buffers.get(role)!;
    return b.regions.find((r) => r.tensor === tensor)!;
  }

  /** Row-major flat index of `dims` at the given coordinate expressions. */
  private flat(dims: string[], coords: Expr[]): Expr {
    const st = strides(dims, this.sizes);
    return sumE(coords.map((c, i) => mulE(c, st[i]!)));
  }

  /** `inputs`/`outputs` element: region offset + (sequence row * size) + flat. */
  private stepAddress(role: 'inputs' | 'outputs', tensor: string, coords: Expr[], reversed?: boolean): Expr {
    const r = this.region(role, tensor);
    return sumE([mulE(id('steps'), r.offset.elements), mulE(id(reversed ? REVERSED_ROW : this.rowName()), r.size), this.flat(r.dims, coords)]);
  }

  private stateAddress(role: 'state_in' | 'state_out', tensor: string, coords: Expr[]): Expr {
    const r = this.region(role, tensor);
    return sumE([mulE(member(id('params'), 'batch'), r.offset.elements), mulE(this.seqE(), r.size), this.flat(r.dims, coords)]);
  }

  /** A local tensor's element: unsliced positions only (sliced ones are this unit's coordinate). */
  private localRef(key: LocalKey, coords: Expr[]): Expr {
    const l = this.p.local.get(key)!;
    const stored = this.swappedState(key) === undefined ? this.storageLocals?.offsets.get(key) : undefined;
    if (stored !== undefined) return index(id('locals'), sumE([mulE(id('unit'), this.storageLocals!.perUnit), u(stored), this.flat(l.dims, coords.filter((_, i) => l.positions[i]! < 0))]));
    const { array, at } = this.localSlot(key, coords);
    if (at === undefined) return id(array);
    // A vec4 array (quadLocal): the element is a component of its quad.
    if (this.quadLets.has(this.quadKey(key))) return index(index(id(array), bin('/', at, u(4))), bin('%', at, u(4)));
    return index(id(array), at);
  }

  /** The workgroup or private array holding a local's element, and the element's index in it (none: a scalar). */
  private localSlot(key: LocalKey, coords: Expr[]): { array: string; at?: Expr } {
    const l = this.p.local.get(key)!;
    const within = addE(u(this.tile > 1 ? this.member * l.count : 0), this.flat(l.dims, coords.filter((_, i) => l.positions[i]! < 0)));
    const swapped = this.swappedState(key);
    if (swapped !== undefined) {
      // One array of two halves (swapsHalves): the state before the step in half `cur`, its update in the other.
      const halves = this.halves?.(this.member);
      const half = key.startsWith('next:') ? halves?.next ?? u(1) : halves?.cur ?? u(0);
      const start = half.kind === 'literal' ? u((half.value as number) * l.count * this.tile) : mulE(half, l.count * this.tile);
      return { array: localName(`state:${swapped}`), at: addE(start, within) };
    }
    if (this.tile === 1 && l.count === 1) return { array: localName(key) };
    return { array: localName(key), at: within };
  }

  /** The local a key's array is declared under: a swapped state's two halves are one array, `state:NAME`. */
  private quadKey(key: LocalKey): LocalKey {
    const swapped = this.swappedState(key);
    return swapped !== undefined ? `state:${swapped}` : key;
  }

  /**
   * In the loop kernel's workgroup strategy, each updated state is one workgroup array of two halves
   * that swap roles every step: a step reads the state before it from half `cur` and writes its update
   * (`next:`) to the other, so there is no commit copy and one barrier ends the step (it had a barrier,
   * the copy and another barrier; on lavapipe a barrier in the loop stores and reloads every live
   * value). Elsewhere (an invocation's own arrays, the step kernel) `next_` is an array of its own.
   */
  private get swapsHalves(): boolean {
    return this.wg && !this.stepwise && this.prepassRows === undefined;
  }

  /** The updated state whose halves a `state:` or `next:` key is, where the states swap halves. */
  private swappedState(key: LocalKey): string | undefined {
    if (!this.swapsHalves || !(key.startsWith('state:') || key.startsWith('next:'))) return undefined;
    const name = key.slice(key.indexOf(':') + 1);
    return this.p.program.updated.includes(name) ? name : undefined;
  }

  /** While a step or the final state is written: each member's half holding the state before the step (`cur`), and the other (`next`). */
  private halves: ((b: number) => { cur: Expr; next: Expr }) | undefined;

  /** `let cur = parity & 1u; let nxt = 1u - cur;` for each member (at the top of a step; before the final state, `cur` alone). */
  private halfLets(parity: (b: number) => Expr, next = true): Stmt[] {
    if (!this.swapsHalves || this.p.program.updated.length === 0) return [];
    const name = (base: string, b: number) => (this.tile > 1 ? `${base}_${b}` : base);
    this.halves = (b) => ({ cur: id(name('cur', b)), next: id(name('nxt', b)) });
    return this.members.flatMap((b) => [letS(name('cur', b), bin('&', parity(b), u(1))), ...(next ? [letS(name('nxt', b), bin('-', u(1), id(name('cur', b))))] : [])]);
  }

  /** The layout's buffers and the pre-pass's scratch as globals, each with what it holds (the loop and step kernels). */
  private declareBuffers(mod: W.Module): void {
    for (const b of this.layout.buffers) {
      const regions = b.regions.map((r) => `${r.tensor}${r.dims.length ? `[${r.dims.join(', ')}]` : ''} @ ${r.offset.elements}${r.offset.scale === '1' ? '' : ` * ${r.offset.scale}`}`).join(', ');
      mod.globals.push({ name: b.role, space: 'storage', access: b.usage === 'storage' ? 'read_write' : 'read', type: W.arrayOf(b.elementType === 'u32' ? W.u32 : W.f32), group: 0, binding: b.binding, comment: b.role === 'lengths' ? 'steps per sequence' : regions });
    }
    const scratch = this.p.scratch;
    if (scratch.regions.length) {
      const regions = scratch.regions.map((r) => `${localName(r.key)}${r.dims.length ? `[${r.dims.join(', ')}]` : ''} @ ${r.offset}`).join(', ');
      mod.globals.push({ name: 'scratch', space: 'storage', access: 'read_write', type: W.arrayOf(W.f32), group: 0, binding: this.scratchBinding, comment: `written by the pre-pass; per step row (${scratch.perStep} floats): ${regions}` });
    }
  }

  // ---- the batch tile: `tile` sequences per workgroup, members 0 .. tile-1 ----

  /** Sequences per workgroup in the kernel being written (the pre-pass has none). */
  private get tile(): number {
    return this.prepassRows ?? this.stepTile ?? this.p.tile;
  }

  /**
   * In the step kernel: the states its sums read at other elements than their own, copied into
   * workgroup memory at the start of a step (lavapipe reads a storage buffer lane by lane even at an
   * address the same in every invocation; workgroup memory at such an address once).
   */
  private readonly staged = new Set<string>();
  /** Of those, the ones held as vec4s: a sum reads them four at a time (quadStaged). */
  private readonly stagedQuads = new Set<string>();

  /** Whether a staged state is held as vec4s: vectorised sums, and every sequence's region and the state's last dim whole quads. */
  private quadStaged(name: string): boolean {
    const r = this.region('state_in', name);
    return this.vectors && r.size % 4 === 0 && this.sizes[r.dims[r.dims.length - 1]!]! % 4 === 0;
  }

  /** States a step reads at an element other than the reading definition's own (stepModule stages them). */
  private statesReadAcross(defs: KernelDef[]): string[] {
    const out = new Set<string>();
    for (const k of defs) {
      const vars = k.def.vars.map((v) => v.name);
      for (const n of k.def.nodes) {
        if (n.op !== 'load' || n.source !== 'state' || n.version === 'new') continue;
        if (n.index.length !== vars.length || n.index.some((v, i) => v !== vars[i])) out.add(n.tensor);
      }
    }
    return [...out];
  }

  /** In the step kernel (stepModule): its sequences per invocation; undefined elsewhere. */
  private stepTile: number | undefined;
  private get stepwise(): boolean {
    return this.stepTile !== undefined;
  }

  /** In the pre-pass: step rows computed together (its members), instead of the batch tile. */
  private prepassRows: number | undefined;
  /** Step rows one workgroup of the pre-pass computes (its dispatch: one workgroup per this many). */
  prepassRowsPerWorkgroup = PREPASS_WORKGROUP;
  /** Whether the pre-pass written is the subgroup one (prepass-subgroup.ts): a workgroup of SUBGROUP_ROWS. */
  prepassSubgroups = false;
  /** In the rows pre-pass: inputs it copies into workgroup memory first (rowsPrepass). */
  private readonly stagedInputs = new Set<string>();
  /** The member whose addresses are being written. */
  private member = 0;
  /** Load nodes of a member's copy of a definition (memberDefs), by node. */
  private readonly memberOf = new WeakMap<object, number>();

  private asMember<T>(b: number, f: () => T): T {
    const was = this.member;
    this.member = b;
    try {
      return f();
    } finally {
      this.member = was;
    }
  }

  private get members(): number[] {
    return Array.from({ length: this.tile }, (_, b) => b);
  }

  private seqE(b = this.member): Expr {
    return id(this.tile > 1 ? `seq_${b}` : 'seq');
  }

  private rowName(b = this.member): string {
    return this.tile > 1 ? `step_row_${b}` : 'step_row';
  }

  /**
   * Each member's copy of the definitions: the same nodes under another target (so that the lowering
   * keeps their values apart), whose loads resolve at that member's sequence. Member 0 of an untiled
   * kernel is the definitions themselves.
   */
  private memberDefs(defs: KernelDef[]): KernelDef[][] {
    if (this.tile === 1) return [defs];
    return this.members.map((b) =>
      defs.map((k) => {
        const nodes = k.def.nodes.map((n) => ({ ...n }));
        for (const n of nodes) if (n.op === 'load') this.memberOf.set(n, b);
        return { ...k, def: { ...k.def, target: `${k.def.target}#${b}`, nodes } };
      }),
    );
  }

  // ---- element loops ----

  /**
   * Runs `body` over a tensor's local elements: every element in invocation mode, this invocation's
   * strided share in workgroup mode. `body` gets a coordinate per position (slice coordinates for
   * sliced positions).
   */
  private forElements(key: LocalKey, body: (coords: Expr[]) => Stmt[]): Stmt[] {
    const l = this.p.local.get(key)!;
    const st = strides(l.dims, this.sizes);
    const decode: Stmt[] = [];
    let k = 0;
    const coords = l.positions.map((axis) => {
      if (axis >= 0) return id(`slice_${axis}`);
      if (l.count === 1) return u(0); // every unsliced dim has size 1: no loop, no element index
      const dim = this.sizes[l.dims[k]!]!;
      let e: Expr = id('e');
      if (l.dims.length === 1) return (k++, e);
      if (st[k]! > 1) e = bin('/', e, u(st[k]!));
      if (k > 0) e = bin('%', e, u(dim));
      decode.push(letS(`e${k}`, e));
      return id(`e${k++}`);
    });
    const inner = [...decode, ...body(coords)];
    // The step kernel: `e` is this invocation's element, one per invocation across the workgroups.
    if (this.stepwise) return l.count % STEP_WORKGROUP === 0 ? [{ kind: 'block', body: inner }] : [ifS(bin('<', id('e'), u(l.count)), inner)];
    if (!this.wg) return l.count === 1 ? inner : [countedLoop('e', u(0), l.count, inner)];
    // No guard where every invocation has an element: lavapipe reads an address that is the same in
    // every invocation once (not per lane) only where invocation 0 is known to be active.
    if (l.count === this.p.workgroupSize) return [{ kind: 'block', body: [letS('e', id('lid')), ...inner] }];
    if (l.count <= this.p.workgroupSize) return [ifS(bin('<', id('lid'), u(l.count)), [letS('e', id('lid')), ...inner])];
    return [forRange('e', id('lid'), u(l.count), inner, u(this.p.workgroupSize))];
  }

  private barrier(): Stmt[] {
    return this.wg && !this.stepwise ? [callS('workgroupBarrier')] : [];
  }

  /** `slice_k == 0` for the axes a tensor lacks: only one unit writes a tensor that is not sliced along every axis. */
  private ownerGuard(key: LocalKey, stmts: Stmt[]): Stmt[] {
    const present = new Set(this.p.local.get(key)!.positions.filter((a) => a >= 0));
    const conds = this.p.slicing.axes.map((_, a) => a).filter((a) => !present.has(a)).map((a) => bin('==', id(`slice_${a}`), u(0)));
    if (conds.length === 0) return stmts;
    return [ifS(conds.reduce((x, y) => bin('&&', x, y)), stmts)];
  }

  // ---- definitions ----

  private sourceComment(k: KernelDef, source?: SourceFile): Stmt[] {
    if (k.target.startsWith('hoist:') || k.target.startsWith('par:')) {
      const where = source ? `${source.path}:${source.position(k.def.span.start).line}  ${source.text.slice(k.def.span.start, k.def.span.end)}: ` : '';
      return [comment(`${where}${k.target.startsWith('hoist:') ? 'time-invariant, computed once' : 'independent of the state, computed for every step'}`)];
    }
    if (!source) return [];
    const line = source.position(k.def.span.start).line;
    return [comment(`${source.path}:${line}  ${source.lineText(line).trim()}`)];
  }

  /**
   * Definitions in order, each followed by a barrier only where the next one needs it. In workgroup
   * mode an invocation owns the same share of every tensor with the same local shape (`forElements`),
   * so a definition that reads what the ones since the last barrier wrote only at its own element —
   * the load's index is the definition's own variables, over the same local shape — reads what this
   * invocation wrote itself, and needs no barrier. Anything else (a reduction over another index, a
   * transpose, a broadcast, a scalar) does. The last definition keeps its barrier: the commit after it
   * overwrites states other invocations may still read.
   */
  emitDefs(defs: KernelDef[], source?: SourceFile): Stmt[] {
    return this.groupsOf(defs).flatMap((g) => (this.fuses ? this.emitGroup(g.defs, source, g.barrier) : this.emitDef(g.defs[0]!, source, g.barrier)));
  }

  /**
   * Whether definitions between barriers share one element loop (`emitGroup`): in workgroup mode, with
   * the vectorized sums of the seq backend's kernels.
   */
  private get fuses(): boolean {
    return this.wg && this.vectors;
  }

  /**
   * The definitions in order, in runs written as one element loop, each with whether a barrier follows
   * it (see emitDefs). Without fusion every run is one definition; with it, a run is consecutive
   * definitions with no barrier between them over the same local elements.
   */
  private groupsOf(defs: KernelDef[]): { defs: KernelDef[]; barrier: boolean }[] {
    const groups: { defs: KernelDef[]; barrier: boolean }[] = [];
    const dirty = new Set<LocalKey>();
    let run: KernelDef[] = [];
    defs.forEach((k, i) => {
      dirty.add(k.target);
      run.push(k);
      const next = defs[i + 1];
      const barrier = next === undefined || !this.ownElementsOnly(next, dirty);
      if (barrier) dirty.clear();
      if (barrier || !this.fuses || !this.sameElements(k, next!)) {
        groups.push({ defs: run, barrier });
        run = [];
      }
    });
    return groups;
  }

  /** How many runs (element loops between barriers) a step's definitions make in the workgroup strategy. */
  stepGroups(defs: KernelDef[]): number {
    return this.fuses ? this.groupsOf(defs).length : Infinity;
  }

  /** Whether two definitions run over the same local elements, indexed by their own variables. */
  private sameElements(a: KernelDef, b: KernelDef): boolean {
    const [x, y] = [this.p.local.get(a.target)!, this.p.local.get(b.target)!];
    if (a.def.vars.length === 0 || b.def.vars.length === 0 || x.count <= 1) return false;
    return x.count === y.count && x.dims.length === y.dims.length && x.dims.every((d, i) => d === y.dims[i]) && x.positions.every((p, i) => p === y.positions[i]);
  }

  /**
   * Lets kept in registers rather than workgroup memory: written in a fused run and read only by later
   * definitions of the same run (at their own element, as the run's barrier-free reads are).
   */
  private registerKeys(): Set<LocalKey> {
    const out = new Set<LocalKey>();
    if (!this.fuses) return out;
    const all = this.p.program.defs;
    const monoid = this.m.monoid !== undefined;
    const groups = [...this.groupsOf(all.filter((k) => k.invariant)), ...this.groupsOf(all.filter((k) => !k.invariant))];
    for (const g of groups) {
      if (g.defs.length < 2) continue;
      g.defs.forEach((k, i) => {
        if (!k.target.startsWith('let:')) return;
        const readers = all.filter((r) => r.def.nodes.some((n) => n.op === 'load' && keyOfLoad(n, monoid) === k.target));
        if (readers.every((r) => g.defs.indexOf(r) > i)) out.add(k.target);
      });
    }
    return out;
  }

  /** Register values of the run being written (registerKeys), by key. */
  private readonly registerValues = new Map<LocalKey, Expr>();

  /**
   * A fused run: one element loop computes every definition of the run at the invocation's element, in
   * order, and the sums over one dim of the definitions that read nothing the run writes share one
   * loop (`Lowerer.fuseSums`: the state's vec4 read once for all gates).
   */
  private emitGroup(defs: KernelDef[], source: SourceFile | undefined, barrier: boolean): Stmt[] {
    const lowerer = new Lowerer({ lets: new Map(), resolve: (n, values) => this.load(n, values), sizes: this.sizes, prefix: 'v', counter: this.counter, ...(this.laneHook ? { hook: this.laneHook } : this.vectorOption) });
    const target = this.p.local.get(defs[0]!.target)!;
    const monoid = this.m.monoid !== undefined;
    const body = this.forElements(defs[0]!.target, (coords) => {
      const stmts = lowerer.open([]);
      const point = coords.map((c) => (c.kind === 'literal' ? (c.value as number) : c));
      const depths = target.positions.map((axis) => (axis >= 0 ? 0 : 1));
      const copies = this.memberDefs(defs);
      // Definition-major: a loop's sums are one definition's for the tile's members, sharing its weight
      // loads. A sum that reads what an earlier definition of the run writes waits for it.
      lowerer.fuseSums(
        defs.flatMap((k, i) => {
          const earlier = new Set(defs.slice(0, i).map((x) => x.target));
          const unready = (n: LoadNode) => earlier.has(keyOfLoad(n, monoid) ?? '');
          return copies.map((c) => ({ def: c[i]!.def, values: point, depths, unready }));
        }),
        MAX_FUSED_SUMS,
      );
      defs.forEach((k, i) => {
        const own: Expr[] = k.def.vars.map((_, j) => coords[j]!);
        for (const b of this.members) {
          const value = lowerer.evaluate(copies[b]![i]!.def, point, depths);
          this.asMember(b, () => {
            if (this.stepwise) {
              stmts.push(...this.stepWrites(k, own, value, b));
              return;
            }
            if (this.registers.has(k.target)) {
              if (this.p.read.has(k.target)) this.registerValues.set(`${k.target}#${b}`, value);
            } else if (this.p.read.has(k.target)) stmts.push(assign(this.localRef(k.target, own), value));
            if (!k.output) return;
            const write = this.ownerGuard(k.target, [assign(index(id('outputs'), this.stepAddress('outputs', k.def.target, own, this.backwardOutputs.has(k.def.target))), value)]);
            // A tiled kernel runs every member to the longest length: steps past a member's own are not written.
            stmts.push(...(this.tile > 1 ? [ifS(bin('<', id('t'), id(`len_${b}`)), write)] : write));
          });
        }
      });
      lowerer.close();
      return stmts;
    });
    this.registerValues.clear();
    lowerer.helpers.forEach((h) => this.helpers.add(h));
    const block: Stmt = { kind: 'block', body: [...lowerer.stmts, ...body] };
    return [...defs.flatMap((k) => this.sourceComment(k, source)), block, ...(barrier ? this.barrier() : [])];
  }

  /**
   * What the step kernel does with a value of member `b` at its own element: later definitions of the
   * step read it from a register; a state's update goes to `state_next` (the old value where the step
   * is past the member's length), and after the last step to `state_out` too; an output is written,
   * zero past the member's length. A member past the batch writes nothing.
   */
  private stepWrites(k: KernelDef, own: Expr[], value: Expr, b: number): Stmt[] {
    if (this.p.read.has(k.target) || k.target.startsWith('next:')) this.registerValues.set(`${k.target}#${b}`, value);
    const live = bin('<', this.seqE(), member(id('params'), 'batch'));
    const running = bin('<', id('t'), id(this.lenName()));
    const writes: Stmt[] = [];
    if (k.target.startsWith('next:')) {
      const address = this.stateAddress('state_in', k.target.slice(5), own);
      const kept = `kept_${this.counter.next++}`;
      writes.push(letS(kept, call('select', index(id('state_cur'), addE(u(STEP_HEADER), address)), value, running)));
      writes.push(assign(index(id('state_next'), addE(u(STEP_HEADER), address)), id(kept)));
      writes.push(ifS(bin('==', bin('+', id('t'), u(1)), member(id('params'), 'T')), [assign(index(id('state_out'), address), id(kept))]));
    }
    if (k.output) writes.push(assign(index(id('outputs'), this.stepAddress('outputs', k.def.target, own, this.backwardOutputs.has(k.def.target))), call('select', lit.f32(0), value, running)));
    return writes.length ? [ifS(live, writes)] : [];
  }

  private lenName(b = this.member): string {
    return this.tile > 1 ? `len_${b}` : 'len';
  }

  /** Whether `k` reads the tensors in `dirty` only at its own element (see emitDefs). */
  private ownElementsOnly(k: KernelDef, dirty: Set<LocalKey>): boolean {
    if (!this.wg) return true;
    const target = this.p.local.get(k.target)!;
    const vars = k.def.vars.map((v) => v.name);
    // A definition over no element index is computed by every invocation before its element guard.
    if (vars.length === 0 || target.count <= 1) return ![...k.def.nodes].some((n) => n.op === 'load' && dirty.has(keyOfLoad(n, this.m.monoid !== undefined) ?? ''));
    const same = (key: LocalKey) => {
      const l = this.p.local.get(key);
      return l !== undefined && l.count === target.count && l.dims.length === target.dims.length && l.dims.every((d, i) => d === target.dims[i]) && l.positions.every((p, i) => p === target.positions[i]);
    };
    return k.def.nodes.every((n) => {
      if (n.op !== 'load') return true;
      const key = keyOfLoad(n, this.m.monoid !== undefined);
      if (key === undefined || !dirty.has(key)) return true;
      return n.index.length === vars.length && n.index.every((v, i) => v === vars[i]) && same(key);
    });
  }

  emitDef(k: KernelDef, source?: SourceFile, barrier = true): Stmt[] {
    // Values that depend on no element index (the slice's own coordinates only) go before the element loop.
    const lowerer = new Lowerer({ lets: new Map(), resolve: (n, values) => this.load(n, values), sizes: this.sizes, prefix: 'v', counter: this.counter, ...this.vectorOption });
    const target = this.p.local.get(k.target)!;
    const body = this.forElements(k.target, (coords) => {
      const stmts = lowerer.open([]);
      const own: Expr[] = k.def.vars.map((_, i) => coords[i]!);
      const point = coords.map((c) => (c.kind === 'literal' ? (c.value as number) : c));
      const value = lowerer.evaluate(k.def, point, target.positions.map((axis) => (axis >= 0 ? 0 : 1)));
      lowerer.close();
      if (this.p.read.has(k.target)) stmts.push(assign(this.localRef(k.target, own), value));
      if (k.output) stmts.push(...this.ownerGuard(k.target, [assign(index(id('outputs'), this.stepAddress('outputs', k.def.target, own, this.backwardOutputs.has(k.def.target))), value)]));
      return stmts;
    });
    lowerer.helpers.forEach((h) => this.helpers.add(h));
    const block: Stmt = { kind: 'block', body: [...lowerer.stmts, ...body] };
    return [...this.sourceComment(k, source), block, ...(barrier ? this.barrier() : [])];
  }

  // ---- loads the lowering resolves ----

  /** Buffers (and vec4 views) the kernel being written reads through loads (`main` may read no input or param once the pre-pass took them). */
  readonly loaded = new Set<'inputs' | 'weights' | 'inputs4' | 'weights4'>();

  /** Bindings of the vec4 views of the read-only buffers, after scratch. */
  viewBinding(view: 'weights4' | 'inputs4'): number {
    return this.scratchBinding + (view === 'weights4' ? 1 : 2);
  }

  private get vectorOption(): { vector?: VectorResolver } {
    return this.vectors ? { vector: (n, values, quad) => this.loadQuad(n, values, quad) } : {};
  }

  /**
   * Four consecutive elements (the last index at 4·quad …) of an input or param as one vec4 load from
   * the buffer's vec4 view, where the region and its rows are 4-aligned; undefined elsewhere.
   */
  private loadQuad(n: LoadNode, values: IndexValue[], quad: Expr): Expr | undefined {
    return this.asMember(this.memberOf.get(n) ?? this.member, () => this.loadQuadAt(n, values, quad));
  }

  private loadQuadAt(n: LoadNode, values: IndexValue[], quad: Expr): Expr | undefined {
    // The step kernel's staged state, held as vec4s: the quad is one load.
    if (n.source === 'state' && this.stepwise && this.stagedQuads.has(n.tensor) && n.version !== 'new') {
      const r = this.region('state_in', n.tensor);
      return index(id(`staged_${n.tensor}`), quarterE(addE(u(this.member * r.size), this.flat(r.dims, values.map(indexExpr)))));
    }
    if (n.source === 'let' || n.source === 'state') {
      const key = keyOfLoad(n, this.m.monoid !== undefined)!;
      const canon = this.quadKey(key);
      if (this.registerValues.has(`${key}#${this.member}`) || !this.quadLocal(canon)) return undefined;
      if (!this.quadLets.has(canon)) {
        this.quadWanted.add(canon);
        return undefined;
      }
      // The quad's first element is 4-aligned (quadLocal): its vec4 is that index over 4.
      const slot = this.localSlot(key, values.map(indexExpr));
      return index(id(slot.array), quarterE(slot.at!));
    }
    if (n.source !== 'input' && n.source !== 'param') return undefined;
    if (n.source === 'input' && this.stagedInputs.has(n.tensor) && !n.reversed) return undefined; // 4 loads of workgroup memory
    const role = n.source === 'input' ? 'inputs' : 'weights';
    const r = this.region(role, n.tensor);
    if (r.offset.elements % 4 !== 0 || r.size % 4 !== 0 || this.sizes[r.dims[r.dims.length - 1]!]! % 4 !== 0) return undefined;
    const st = strides(r.dims, this.sizes);
    const coords = values.slice(0, -1).map(indexExpr);
    const within = sumE([...coords.map((c, i) => mulE(c, st[i]! / 4)), quad]);
    const view = role === 'inputs' ? 'inputs4' : 'weights4';
    this.loaded.add(view);
    const address = role === 'inputs' ? sumE([mulE(id('steps'), r.offset.elements / 4), mulE(id(n.reversed ? REVERSED_ROW : this.rowName()), r.size / 4), within]) : addE(u(r.offset.elements / 4), within);
    return index(id(view), address);
  }

  /** The vec4 views the module's code read, declared after its other storage buffers. */
  private addViews(mod: W.Module): void {
    let at = 0;
    mod.globals.forEach((g, i) => g.space === 'storage' && (at = i + 1));
    mod.globals.splice(at, 0, ...this.viewGlobals());
  }

  /** Declarations of the vec4 views the module's code read (after it is written). */
  private viewGlobals(): W.Global[] {
    return (['weights4', 'inputs4'] as const)
      .filter((v) => this.loaded.has(v))
      .map((v) => ({ name: v, space: 'storage', access: 'read', type: W.arrayOf(W.vec(4, W.f32)), group: 0, binding: this.viewBinding(v), comment: `${v.slice(0, -1)} as vec4s (the same buffer): aligned runs of 4 along a reduction` }));
  }

  load(n: LoadNode, values: IndexValue[]): Expr {
    return this.asMember(this.memberOf.get(n) ?? this.member, () => this.loadAt(n, values));
  }

  private loadAt(n: LoadNode, values: IndexValue[]): Expr {
    const coords = values.map(indexExpr);
    switch (n.source) {
      case 'input':
        if (this.stagedInputs.has(n.tensor) && !n.reversed) {
          const r = this.region('inputs', n.tensor);
          return index(id(`staged_${n.tensor}`), addE(u(this.member * r.size), this.flat(r.dims, coords)));
        }
        this.loaded.add('inputs');
        return index(id('inputs'), this.stepAddress('inputs', n.tensor, coords, n.reversed));
      case 'param': {
        this.loaded.add('weights');
        const r = this.region('weights', n.tensor);
        return index(id('weights'), addE(u(r.offset.elements), this.flat(r.dims, coords)));
      }
      default: {
        const key = keyOfLoad(n, this.m.monoid !== undefined)!;
        const register = this.registerValues.get(`${key}#${this.member}`);
        if (register) return register;
        // The step kernel reads the states of the step before from storage.
        if (this.stepwise && key.startsWith('state:')) {
          const name = key.slice(6);
          if (this.staged.has(name)) {
            const at = addE(u(this.member * this.region('state_in', name).size), this.flat(this.region('state_in', name).dims, coords));
            return this.stagedQuads.has(name) ? index(index(id(`staged_${name}`), bin('/', at, u(4))), bin('%', at, u(4))) : index(id(`staged_${name}`), at);
          }
          return index(id('state_cur'), addE(u(STEP_HEADER), this.stateAddress('state_in', name, coords)));
        }
        const r = this.p.scratch.regions.find((x) => x.key === key);
        return r ? index(id('scratch'), this.scratchAddress(r, coords)) : this.localRef(key, coords);
      }
    }
  }

  /** A pre-pass tensor's element of step row `step_row` (scratch is step-major). */
  private scratchAddress(r: Plan['scratch']['regions'][number], coords: Expr[]): Expr {
    return sumE([mulE(id(this.rowName()), this.p.scratch.perStep), u(r.offset), this.flat(r.dims, coords)]);
  }

  /** The binding of `scratch`: after the layout's buffers. */
  get scratchBinding(): number {
    return Math.max(0, ...this.layout.buffers.map((b) => b.binding)) + 1;
  }

  /** The pre-pass's tensors grouped by their dims (one loop over their points each), in program order. */
  private prepassGroups(): { defs: KernelDef[]; dims: string[] }[] {
    const groups = new Map<string, { defs: KernelDef[]; dims: string[] }>();
    for (const k of this.p.program.parallel) {
      const dims = this.p.scratch.regions.find((x) => x.key === k.target)!.dims;
      const g = groups.get(dims.join(',')) ?? { defs: [], dims };
      g.defs.push(k);
      groups.set(dims.join(','), g);
    }
    return [...groups.values()];
  }

  /**
   * The pre-pass: invocation `step_row` computes every pre-pass tensor at that step row. Lets it reads
   * are inlined; a value that depends on no element index is computed once per invocation.
   */
  prepassModule(source?: SourceFile, subgroups = false): W.Module {
    this.loaded.clear();
    this.prepassRows = 1; // one invocation per step row (rowsPrepass sets its own)
    const mod = W.emptyModule();
    mod.header = [
      `${this.m.name}: the sequential kernel's pre-pass, generated by rnnc${source ? ` from ${source.path}` : ''}; do not edit.`,
      `What does not depend on the state, for every step of every sequence (one invocation per step row), into scratch; dispatched before ${this.m.name}.wgsl.`,
    ].join('\n');
    mod.structs.push({ name: 'Params', members: [{ name: 'batch', type: W.u32 }, { name: 'T', type: W.u32 }] });
    mod.globals.push({ name: 'params', space: 'uniform', type: W.named('Params'), group: 0, binding: 0 });
    for (const b of this.layout.buffers.filter((x) => x.role === 'inputs' || x.role === 'weights')) {
      const regions = b.regions.map((r) => `${r.tensor}${r.dims.length ? `[${r.dims.join(', ')}]` : ''} @ ${r.offset.elements}${r.offset.scale === '1' ? '' : ` * ${r.offset.scale}`}`).join(', ');
      mod.globals.push({ name: b.role, space: 'storage', access: 'read', type: W.arrayOf(W.f32), group: 0, binding: b.binding, comment: regions });
    }
    const regions = this.p.scratch.regions.map((r) => `${localName(r.key)}${r.dims.length ? `[${r.dims.join(', ')}]` : ''} @ ${r.offset}`).join(', ');
    mod.globals.push({ name: 'scratch', space: 'storage', access: 'read_write', type: W.arrayOf(W.f32), group: 0, binding: this.scratchBinding, comment: `per step row (${this.p.scratch.perStep} floats): ${regions}` });
    const readsLets = this.p.program.parallel.some((k) => k.def.nodes.some((n) => n.op === 'load' && n.source === 'let'));
    const loops = subgroups && this.vectors && !readsLets ? subgroupLoops(this.subgroupContext()) : 'not asked';
    if (typeof loops !== 'string') {
      const prelude = mathPrelude(emitSubgroupPrepass(mod, this.subgroupContext(), loops));
      mod.globals.push(...prelude.globals);
      mod.functions.push(...prelude.functions);
      this.addViews(mod);
      this.prepassSubgroups = true;
      this.prepassRowsPerWorkgroup = SUBGROUP_ROWS;
      mod.header += `\nA workgroup is one subgroup of ${SUBGROUP_ROWS} step rows, one per lane: each weight vec4 is loaded once and shared by subgroupBroadcast (see backends/wgsl-seq/prepass-subgroup.ts).`;
      return mod;
    }
    if (this.vectors && !readsLets && paramFloatsInSums(this.m, this.sizes, this.p.program.parallel) >= MIN_TILE_WEIGHTS) {
      this.rowsPrepass(mod, source);
      const R = this.prepassRows!;
      mod.header += this.stagedInputs.size
        ? `\nA workgroup computes ${R} step rows, their inputs first copied into workgroup memory, each invocation a strided share of the outputs: a weight load serves ${R} rows.`
        : `\nA workgroup computes ${PREPASS_WORKGROUP} step rows, ${R} at a time, each invocation a strided share of the outputs: a weight load serves ${R} rows.`;
      return mod;
    }
    const lw = new Lowerer({ lets: this.p.program.lets, resolve: (n, values) => this.load(n, values), sizes: this.sizes, prefix: 'v', ...this.vectorOption });
    const body = lw.stmts;
    body.push(letS('step_row', bin('+', bin('*', flatWorkgroupIndex(), u(PREPASS_WORKGROUP)), id('lid'))));
    body.push(letS('steps', bin('*', member(id('params'), 'batch'), member(id('params'), 'T'))));
    body.push(ifS(bin('>=', id('step_row'), id('steps')), [{ kind: 'return' }]));
    // Tensors over the same dims are computed in one loop over their points, their sums in one loop
    // (Lowerer.fuseSums): the input row this invocation reads (a per-invocation load) is read once for
    // all of them. (Several points per trip, 8 or 16 sums, measured slower: docs/seq-bench.md.)
    for (const { defs, dims } of this.prepassGroups()) {
      body.push(blank, ...defs.flatMap((k) => this.sourceComment(k, source)));
      overPoints(lw, dims, this.sizes, (point, _flat, depths) => {
        lw.fuseSums(defs.map((k) => ({ def: k.def, values: point, depths })));
        return defs.map((k) => {
          const r = this.p.scratch.regions.find((x) => x.key === k.target)!;
          return assign(index(id('scratch'), this.scratchAddress(r, point.map(indexExpr))), lw.evaluate(k.def, point, depths));
        });
      });
    }
    const prelude = mathPrelude(lw.helpers);
    mod.globals.push(...prelude.globals);
    mod.functions.push(...prelude.functions);
    this.addViews(mod);
    mod.entryPoints.push(W.workgroupEntry(PREPASS_WORKGROUP, body));
    return mod;
  }

  /** What the subgroup pre-pass (prepass-subgroup.ts) reads of this writer. */
  subgroupContext(): SubgroupPrepassContext {
    return {
      m: this.m,
      sizes: this.sizes,
      defs: this.p.program.parallel,
      lets: this.p.program.lets,
      perStep: this.p.scratch.perStep,
      scratch: (key) => this.p.scratch.regions.find((r) => r.key === key)!,
      region: (role, tensor) => {
        const r = this.region(role, tensor);
        return { offset: r.offset.elements, size: r.size, dims: r.dims };
      },
      counter: this.counter,
      loaded: this.loaded,
    };
  }

  /**
   * The pre-pass with the outputs across invocations: workgroup g computes the R step rows from g * R
   * (R = PREPASS_ROWS, fewer where their inputs would not fit in workgroup storage; the inputs are
   * copied there first), or, where they do not fit at all, the PREPASS_WORKGROUP rows from
   * g * PREPASS_WORKGROUP, R at a time; the R rows are the members of a tile; invocation `lid` owns
   * elements lid, lid + PREPASS_WORKGROUP, … of the tensors over the same dims, whose sums share one
   * loop. The weights an invocation reads differ per invocation (lavapipe gathers them per lane) and
   * serve every row of the block; the input row is the same in every invocation. Measured 1.5–2.5x
   * faster than one invocation per row for LSTM X = H = 256 (docs/seq-bench.md).
   */
  private rowsPrepass(mod: W.Module, source?: SourceFile): void {
    // The inputs the pre-pass reads, staged per workgroup: as many rows as fit in workgroup storage.
    const inputs = [...new Set(this.p.program.parallel.flatMap((k) => k.def.nodes.flatMap((n) => (n.op === 'load' && n.source === 'input' && !n.reversed ? [n.tensor] : []))))];
    const inputFloats = inputs.reduce((n, name) => n + this.region('inputs', name).size, 0);
    let R = PREPASS_ROWS;
    while (R > 1 && 4 * R * inputFloats > WORKGROUP_STORAGE_BYTES) R /= 2;
    const staging = inputs.length > 0 && 4 * R * inputFloats <= WORKGROUP_STORAGE_BYTES;
    this.prepassRows = R;
    this.prepassRowsPerWorkgroup = staging ? R : PREPASS_WORKGROUP;
    const steps = id('steps');
    const body: Stmt[] = [];
    body.push(letS('base', bin('*', flatWorkgroupIndex(), u(this.prepassRowsPerWorkgroup))));
    body.push(letS('steps', bin('*', member(id('params'), 'batch'), member(id('params'), 'T'))));
    body.push(ifS(bin('>=', id('base'), steps), [{ kind: 'return' }]));
    const block: Stmt[] = [];
    if (staging) {
      // Every invocation reads the rows' inputs at the same addresses: lavapipe reads a storage buffer
      // lane by lane even then, workgroup memory once (measured 2x on LSTM X = H = 256, docs/seq-bench.md).
      body.push(comment(`the inputs of this workgroup's ${R} step rows, read by every invocation`));
      for (const name of inputs) {
        const r = this.region('inputs', name);
        this.stagedInputs.add(name);
        mod.globals.push({ name: `staged_${name}`, space: 'workgroup', type: W.arrayOf(W.f32, R * r.size) });
        const row = call('min', addE(id('base'), bin('/', id('i'), u(r.size))), bin('-', steps, u(1)));
        const address = sumE([mulE(steps, r.offset.elements), mulE(row, r.size), bin('%', id('i'), u(r.size))]);
        body.push(forRange('i', id('lid'), u(R * r.size), [assign(index(id(`staged_${name}`), id('i')), index(id('inputs'), address))], u(PREPASS_WORKGROUP)));
      }
      this.loaded.add('inputs');
      body.push(callS('workgroupBarrier'));
    }
    for (const b of this.members) {
      const row = addE(staging ? id('base') : addE(id('base'), bin('*', id('rows'), u(R))), u(b));
      block.push(letS(`live_${b}`, bin('<', row, steps)));
      block.push(letS(this.rowName(b), call('min', row, bin('-', steps, u(1)))));
    }
    // One f32 accumulator per sum: 16 sums (4 rows x 4 tensors) as vec4s spill (measured, docs/seq-bench.md).
    const lw = new Lowerer({ lets: this.p.program.lets, resolve: (n, values) => this.load(n, values), sizes: this.sizes, prefix: 'v', stmts: block, scalarAccumulators: true, ...this.vectorOption });
    for (const { defs, dims } of this.prepassGroups()) {
      const count = dims.reduce((n, d) => n * this.sizes[d]!, 1);
      const st = strides(dims, this.sizes);
      block.push(blank, ...defs.flatMap((k) => this.sourceComment(k, source)));
      const inner = lw.open([]);
      const coords: Expr[] = dims.map((d, k) => {
        let e: Expr = id('e');
        if (st[k]! > 1) e = bin('/', e, u(st[k]!));
        if (k > 0) e = bin('%', e, u(this.sizes[d]!));
        return e;
      });
      const point = coords.map((c, k) => {
        if (dims.length === 1) return c;
        inner.push(letS(`e${k}`, c));
        return id(`e${k}`);
      });
      const depths = point.map(() => lw.depth);
      const copies = this.memberDefs(defs);
      lw.fuseSums(defs.flatMap((_, i) => copies.map((c) => ({ def: c[i]!.def, values: point, depths }))), MAX_PREPASS_SUMS);
      defs.forEach((k, i) => {
        const r = this.p.scratch.regions.find((x) => x.key === k.target)!;
        for (const b of this.members) {
          const value = lw.evaluate(copies[b]![i]!.def, point, depths);
          inner.push(ifS(id(`live_${b}`), [assign(index(id('scratch'), this.asMember(b, () => this.scratchAddress(r, point))), value)]));
        }
      });
      lw.close();
      block.push(count <= PREPASS_WORKGROUP ? ifS(bin('<', id('lid'), u(count)), [letS('e', id('lid')), ...inner]) : forRange('e', id('lid'), u(count), inner, u(PREPASS_WORKGROUP)));
    }
    if (staging) body.push({ kind: 'block', body: block });
    else body.push(forRange('rows', u(0), u(PREPASS_WORKGROUP / R), block));
    const prelude = mathPrelude(lw.helpers);
    mod.globals.push(...prelude.globals);
    mod.functions.push(...prelude.functions);
    this.addViews(mod);
    mod.entryPoints.push(W.workgroupEntry(PREPASS_WORKGROUP, body));
  }

  // ---- the step kernel ----

  /** A step kernel's module before its entry points: the header (`layout`: what a workgroup computes), params, buffers and the two state buffers that swap every step. */
  private stepFrame(layout: string, source?: SourceFile): W.Module {
    const mod = W.emptyModule();
    mod.header = [
      `${this.m.name}: one step of the sequential kernel, generated by rnnc${source ? ` from ${source.path}` : ''}; do not edit.`,
      `Dispatched once per step (\`init\` once before): ${layout}; dims ${Object.keys(this.sizes)
        .map((d) => `${d}=${this.sizes[d]}`)
        .join(', ')}.`,
      `The states swap between state_cur (read) and state_next (written) every step; their first float is the step index.`,
    ].join('\n');
    mod.structs.push({ name: 'Params', members: [{ name: 'batch', type: W.u32 }, { name: 'T', type: W.u32 }] });
    mod.globals.push({ name: 'params', space: 'uniform', type: W.named('Params'), group: 0, binding: 0 });
    this.declareBuffers(mod);
    const stateComment = `step index, then the states as state_in (${STEP_HEADER} floats on)`;
    mod.globals.push({ name: 'state_cur', space: 'storage', access: 'read_write', type: W.arrayOf(W.f32), group: 0, binding: this.stateBinding('cur'), comment: `the states before this step: ${stateComment}` });
    mod.globals.push({ name: 'state_next', space: 'storage', access: 'read_write', type: W.arrayOf(W.f32), group: 0, binding: this.stateBinding('next'), comment: `the states after it: ${stateComment}` });
    return mod;
  }

  /**
   * The step kernel (SeqStepKernel): workgroup `group` computes element `block * STEP_WORKGROUP + lid`
   * of the step's definitions (one run of them, every state updated in it: stepwiseForm checks) for
   * the `tile` sequences `tile_index * tile + b`; `init` copies the initial state into `state_next`
   * (and `state_out`, the final state of a run without steps).
   */
  stepModule(tile: number, blocks: number, source?: SourceFile): W.Module {
    this.loaded.clear();
    this.stepTile = tile;
    const { p } = this;
    const T = member(id('params'), 'T');
    const batch = member(id('params'), 'batch');
    const mod = this.stepFrame(`workgroup g computes elements (g % ${blocks}) * ${STEP_WORKGROUP} + lid of ${tile} sequence${tile > 1 ? 's, sharing each weight load' : ''}`, source);

    const body: Stmt[] = [];
    body.push(letS('group', flatWorkgroupIndex()));
    body.push(letS('tile_index', bin('/', id('group'), u(blocks))));
    body.push(ifS(bin('>=', bin('*', id('tile_index'), u(tile)), batch), [{ kind: 'return' }]));
    body.push(letS('e', addE(bin('*', bin('%', id('group'), u(blocks)), u(STEP_WORKGROUP)), id('lid'))));
    // The step index as a float's value (exact to 2^24 steps), not its bits: small integers' bits are denormals.
    body.push(letS('t', call('u32', index(id('state_cur'), u(0)))));
    body.push(letS('steps', bin('*', batch, T)));
    for (const b of this.members) {
      body.push(letS(tile > 1 ? `seq_${b}` : 'seq', addE(bin('*', id('tile_index'), u(tile)), u(b))));
      body.push(letS(this.lenName(b), call('select', u(0), call('min', index(id('lengths'), this.seqE(b)), T), bin('<', this.seqE(b), batch))));
      body.push(letS(this.rowName(b), stepRow(timeAxisOf(this.m), this.seqE(b), T, id('t'), id(this.lenName(b)))));
    }
    const defs = p.program.defs.filter((k) => !k.invariant);
    const across = this.statesReadAcross(defs);
    const stagedFloats = across.reduce((n, name) => n + tile * this.region('state_in', name).size, 0);
    if (across.length && 4 * stagedFloats <= WORKGROUP_STORAGE_BYTES) {
      body.push(comment(`the states this step's sums read, for its ${tile} sequence${tile > 1 ? 's' : ''}, into workgroup memory`));
      for (const name of across) {
        const r = this.region('state_in', name);
        this.staged.add(name);
        const quads = this.quadStaged(name);
        if (quads) this.stagedQuads.add(name);
        mod.globals.push({ name: `staged_${name}`, space: 'workgroup', type: quads ? W.arrayOf(W.vec(4, W.f32), (tile * r.size) / 4) : W.arrayOf(W.f32, tile * r.size) });
        const seq = call('min', addE(bin('*', id('tile_index'), u(tile)), bin('/', id('i'), u(r.size))), bin('-', batch, u(1)));
        const address = sumE([u(STEP_HEADER), mulE(batch, r.offset.elements), mulE(seq, r.size), bin('%', id('i'), u(r.size))]);
        const into = quads ? index(index(id(`staged_${name}`), bin('/', id('i'), u(4))), bin('%', id('i'), u(4))) : index(id(`staged_${name}`), id('i'));
        body.push(forRange('i', id('lid'), u(tile * r.size), [assign(into, index(id('state_cur'), address))], u(STEP_WORKGROUP)));
      }
      body.push(callS('workgroupBarrier'));
    }
    body.push(comment('the next step reads its index here'));
    body.push(ifS(bin('&&', bin('==', id('group'), u(0)), bin('==', id('lid'), u(0))), [assign(index(id('state_next'), u(0)), call('f32', bin('+', id('t'), u(1))))]));
    body.push(blank);
    body.push(...this.emitDefs(defs, source));
    const prelude = mathPrelude(this.helpers);
    mod.globals.push(...prelude.globals);
    mod.functions.push(...prelude.functions);
    this.addViews(mod);
    mod.entryPoints.push(W.workgroupEntry(STEP_WORKGROUP, body));
    this.pushStepInit(mod, STEP_WORKGROUP);
    return mod;
  }

  /** A step kernel's `init` entry point: the initial states into `state_next` (step index 0) and `state_out` (a run without steps). */
  private pushStepInit(mod: W.Module, workgroup: number): void {
    const batch = member(id('params'), 'batch');
    const init: Stmt[] = [
      letS('i', addE(bin('*', flatWorkgroupIndex(), u(workgroup)), id('lid'))),
      ifS(bin('==', id('i'), u(0)), [assign(index(id('state_next'), u(0)), lit.f32(0))]),
      ifS(bin('<', id('i'), bin('*', batch, u(this.stateFloatsPerSequence()))), [assign(index(id('state_next'), addE(u(STEP_HEADER), id('i'))), index(id('state_in'), id('i'))), assign(index(id('state_out'), id('i')), index(id('state_in'), id('i')))]),
    ];
    mod.entryPoints.push({ ...W.workgroupEntry(workgroup, init), name: 'init' });
  }

  /** In the lanes step kernel's second phase: a recurrent sum read from workgroup memory (laneStepModule). */
  private laneHook: NodeHook | undefined;

  /** A buffer region as the subgroup kernels take it (offsets in floats). */
  regionOf(role: 'inputs' | 'weights' | 'state_in', tensor: string): RegionOf {
    const r = this.region(role, tensor);
    return { offset: r.offset.elements, size: r.size, dims: r.dims };
  }

  /**
   * The step kernel with lanes over 8 sequences (step-subgroup.ts): workgroup `group` is sequences
   * `(group / blocks) * 8 + lane` and units `(group % blocks) * unitsPerBlock ..`; phase 1 writes the
   * recurrent sums into workgroup memory, phase 2 is the step's definitions at each unit, as the step
   * kernel writes them, for the lane's sequence. `init` as the step kernel's.
   */
  laneStepModule(ls: LaneSums, source?: SourceFile): W.Module {
    this.loaded.clear();
    this.stepTile = 1;
    const { p } = this;
    const T = member(id('params'), 'T');
    const batch = member(id('params'), 'batch');
    const L = SUBGROUP_ROWS;
    const mod = this.stepFrame(
      `workgroup g is one subgroup, lane i sequence (g / ${ls.blocks}) * ${L} + i, units (g % ${ls.blocks}) * ${ls.unitsPerBlock} ..; each recurrent weight vec4 is loaded by one lane and shared by subgroupBroadcast (backends/wgsl-seq/step-subgroup.ts)`,
      source,
    );
    mod.enables.push('subgroups');
    const body: Stmt[] = [];
    body.push(letS('group', flatWorkgroupIndex()));
    body.push(letS('tile_index', bin('/', id('group'), u(ls.blocks))));
    body.push(letS('blk', bin('%', id('group'), u(ls.blocks))));
    body.push(ifS(bin('>=', bin('*', id('tile_index'), u(L)), batch), [{ kind: 'return' }]));
    body.push(letS('t', call('u32', index(id('state_cur'), u(0)))));
    body.push(letS('steps', bin('*', batch, T)));
    body.push(comment('lane `lane` runs sequence seq; past the batch it computes on the last sequence (every lane takes part in the broadcasts) and writes nothing'));
    body.push(letS('seq', addE(bin('*', id('tile_index'), u(L)), id('lane'))));
    body.push(letS('seq_read', call('min', id('seq'), bin('-', batch, u(1)))));
    body.push(letS('len', call('select', u(0), call('min', index(id('lengths'), id('seq_read')), T), bin('<', id('seq'), batch))));
    body.push(letS('step_row', stepRow(timeAxisOf(this.m), id('seq_read'), T, id('t'), id('len'))));
    body.push(comment('the next step reads its index here'));
    body.push(ifS(bin('&&', bin('==', id('group'), u(0)), bin('==', id('lane'), u(0))), [assign(index(id('state_next'), u(0)), call('f32', bin('+', id('t'), u(1))))]));
    const stateQuad = (name: string, q: Expr): Expr => {
      const r = this.region('state_in', name);
      const base = sumE([u(STEP_HEADER), mulE(batch, r.offset.elements), mulE(id('seq_read'), r.size)]);
      const at = (k: number) => index(id('state_cur'), addE(base, k === 0 ? bin('*', q, u(4)) : bin('+', bin('*', q, u(4)), u(k))));
      return call('vec4<f32>', at(0), at(1), at(2), at(3));
    };
    const phase = laneSumsPhase(ls, this.sizes, (_, t) => this.regionOf('weights', t), stateQuad, this.counter, this.loaded as Set<string>);
    mod.globals.push(...phase.globals);
    body.push(...phase.stmts);
    const which = new Map(ls.sums.map((x, k) => [`${x.k.def.target}:${x.node}`, k]));
    this.laneHook = (def, node) => {
      const k = which.get(`${def.target}:${node}`);
      return k === undefined ? undefined : laneSumAt(k, ls.unitsPerBlock, id('ue'));
    };
    const defs = p.program.defs.filter((k) => !k.invariant);
    const rest = this.emitDefs(defs, source);
    this.laneHook = undefined;
    body.push(blank, comment(`the step's definitions at this workgroup's units for the lane's sequence, the recurrent sums from lane_sums`));
    body.push(forRange('ue', u(0), u(ls.unitsPerBlock), [letS('e', addE(bin('*', id('blk'), u(ls.unitsPerBlock)), id('ue'))), ifS(bin('<', id('e'), u(ls.units)), rest)]));
    const prelude = mathPrelude(this.helpers);
    mod.globals.push(...prelude.globals);
    mod.functions.push(...prelude.functions);
    this.addViews(mod);
    const entry = W.workgroupEntry(L, body);
    entry.params = [...entry.params.filter((x) => x.name !== 'lid'), { name: 'lane', type: W.u32, attributes: ['builtin(subgroup_invocation_id)'] }];
    mod.entryPoints.push(entry);
    this.pushStepInit(mod, L);
    return mod;
  }

  /** Floats of every state of one sequence (state_in's layout, per sequence). */
  stateFloatsPerSequence(): number {
    return this.region('state_in', tensorsOf(this.m, 'state')[0]!.name) ? this.buffers.get('state_in')!.regions.reduce((n, r) => n + r.size, 0) : 0;
  }

  /** Bindings of the step kernel's two state buffers, after the vec4 views. */
  stateBinding(which: 'cur' | 'next'): number {
    return this.scratchBinding + (which === 'cur' ? 3 : 4);
  }

  // ---- the kernel ----

  /**
   * The kernel's body with a batch tile: workgroup `group` runs sequences `group * tile + b` in
   * lockstep, every local tensor holding one copy per member (member b at `b * count`). The step loop
   * runs to T, uniform for its barriers; a member past its own length computes but writes nothing and
   * keeps its state, and a member past the batch writes nothing at all.
   */
  private tiledBody(mod: W.Module, source?: SourceFile): void {
    const { p } = this;
    const T = member(id('params'), 'T');
    const batch = member(id('params'), 'batch');
    const forMembers = (f: (b: number) => Stmt[]): Stmt[] => this.members.flatMap((b) => this.asMember(b, () => f(b)));
    const live = (b: number) => bin('<', this.seqE(b), batch);
    const body: Stmt[] = [];
    body.push(letS('group', flatWorkgroupIndex()));
    body.push(ifS(bin('>=', bin('*', id('group'), u(this.tile)), batch), [{ kind: 'return' }]));
    for (const b of this.members) body.push(letS(`seq_${b}`, addE(bin('*', id('group'), u(this.tile)), u(b))));
    body.push(letS('steps', bin('*', batch, T)));
    for (const b of this.members) body.push(letS(`len_${b}`, call('select', u(0), call('min', index(id('lengths'), this.seqE(b)), T), live(b))));

    body.push(blank, comment('the initial state'));
    for (const s of tensorsOf(this.m, 'state')) {
      const key = `state:${s.name}`;
      body.push(...this.forElements(key, (c) => forMembers(() => [assign(this.localRef(key, c), index(id('state_in'), this.stateAddress('state_in', s.name, c)))])));
    }
    body.push(...this.barrier());
    const invariant = p.program.defs.filter((k) => k.invariant);
    if (invariant.length) body.push(blank, comment('time-invariant: computed once'));
    body.push(...this.emitDefs(invariant, source));

    const step: Stmt[] = this.members.map((b) => letS(this.rowName(b), stepRow(timeAxisOf(this.m), this.seqE(b), T, id('t'), id(`len_${b}`))));
    // A member past its length keeps reading the half its last step wrote (its parity stops at its length).
    const halves = this.halfLets((b) => call('min', id('t'), id(`len_${b}`)));
    if (halves.length) step.push(comment('each updated state in two halves: the state before the step in half cur, its update in half nxt'), ...halves);
    step.push(...this.emitDefs(p.program.defs.filter((k) => !k.invariant), source));
    if (!this.swapsHalves) {
      if (p.program.updated.length) step.push(comment('commit the updated state (members still within their length)'));
      for (const s of p.program.updated) {
        step.push(...this.forElements(`state:${s}`, (c) => forMembers((b) => [ifS(bin('<', id('t'), id(`len_${b}`)), [assign(this.localRef(`state:${s}`, c), this.localRef(`next:${s}`, c))])])));
      }
      step.push(...this.barrier());
    }
    this.halves = undefined;
    body.push(blank, comment(`the steps of these ${this.tile} sequences, to the longest`), forRange('t', u(0), T, step));

    const outputs = tensorsOf(this.m, 'output');
    if (outputs.length) {
      body.push(blank, comment('past the end of each sequence: zero outputs'));
      for (const b of this.members) {
        const zero: Stmt[] = [letS(this.rowName(b), bin('+', bin('*', this.seqE(b), T), id('t')))];
        for (const o of outputs) {
          const key = `let:${o.name}`;
          zero.push(...this.asMember(b, () => this.forElements(key, (c) => this.ownerGuard(key, [assign(index(id('outputs'), this.stepAddress('outputs', o.name, c)), lit.f32(0))]))));
        }
        body.push(ifS(live(b), [forRange('t', id(`len_${b}`), T, zero)]));
      }
    }
    body.push(blank, comment('the final state'));
    body.push(...this.halfLets((b) => id(`len_${b}`), false));
    for (const s of tensorsOf(this.m, 'state')) {
      const key = `state:${s.name}`;
      body.push(...this.forElements(key, (c) => forMembers((b) => this.ownerGuard(key, [ifS(live(b), [assign(index(id('state_out'), this.stateAddress('state_out', s.name, c)), this.localRef(key, c))])]))));
    }
    this.halves = undefined;
    const prelude = mathPrelude(this.helpers);
    mod.globals.push(...prelude.globals);
    mod.functions.push(...prelude.functions);
    this.addViews(mod);
    mod.entryPoints.push(W.workgroupEntry(p.workgroupSize, body));
  }

  module(source?: SourceFile): W.Module {
    this.loaded.clear();
    const mod = W.emptyModule();
    const { p } = this;
    mod.header = [
      `${this.m.name}: sequential kernel generated by rnnc${source ? ` from ${source.path}` : ''}; do not edit.`,
      `One ${p.strategy === 'workgroup' ? 'workgroup' : 'invocation'} per ${p.tile > 1 ? `${p.tile} sequences (sharing each weight load)` : 'sequence'}${p.slicing.axes.length ? ` and ${p.slicing.axes.join(' x ')} slice` : ''}; dims ${Object.keys(this.sizes)
        .map((d) => `${d}=${this.sizes[d]}`)
        .join(', ')}.`,
    ].join('\n');
    mod.structs.push({ name: 'Params', members: [{ name: 'batch', type: W.u32 }, { name: 'T', type: W.u32 }] });
    mod.constants.push({ name: 'UNITS', value: u(p.unitsPerSequence), comment: 'kernel units per sequence (slices)' });
    mod.globals.push({ name: 'params', space: 'uniform', type: W.named('Params'), group: 0, binding: 0 });
    this.declareBuffers(mod);
    if (this.storageLocals) {
      const held = [...this.storageLocals.offsets].map(([key, at]) => `${localName(key)} @ ${at}`).join(', ');
      mod.globals.push({ name: 'locals', space: 'storage', access: 'read_write', type: W.arrayOf(W.f32), group: 0, binding: this.localsBinding, comment: `per invocation (${this.storageLocals.perUnit} floats): ${held}` });
    }
    // Local tensors: workgroup memory (shared by the unit's invocations) or function-scope arrays.
    const locals: { name: string; type: W.Type }[] = [];
    for (const [key, l] of p.local) {
      if (!keptLocal(p, this.registers, key) || this.storageLocals?.offsets.has(key)) continue;
      const swapped = this.swappedState(key);
      if (swapped !== undefined) {
        if (key.startsWith('state:')) locals.push({ name: localName(key), type: this.quadLets.has(key) ? W.arrayOf(W.vec(4, W.f32), (2 * l.count * this.tile) / 4) : W.arrayOf(W.f32, 2 * l.count * this.tile) }); // its two halves
        continue;
      }
      locals.push({ name: localName(key), type: this.quadLets.has(key) ? W.arrayOf(W.vec(4, W.f32), (l.count * this.tile) / 4) : l.count === 1 && this.tile === 1 ? W.f32 : W.arrayOf(W.f32, l.count * this.tile) });
    }
    if (this.wg) {
      for (const l of locals) mod.globals.push({ name: l.name, space: 'workgroup', type: l.type });
      if (this.tile === 1) mod.globals.push({ name: 'seq_len', space: 'workgroup', type: W.u32 });
    }
    if (this.tile > 1) {
      this.tiledBody(mod, source);
      return mod;
    }

    const body: Stmt[] = [];
    const wgSize = p.workgroupSize;
    body.push(letS('group', flatWorkgroupIndex()));
    body.push(letS('unit', this.wg ? id('group') : bin('+', bin('*', id('group'), u(wgSize)), id('lid'))));
    body.push(ifS(bin('>=', id('unit'), bin('*', member(id('params'), 'batch'), id('UNITS'))), [{ kind: 'return' }]));
    body.push(letS('seq', bin('/', id('unit'), id('UNITS'))));
    if (p.slicing.axes.length) body.push(letS('slice', bin('%', id('unit'), id('UNITS'))));
    const axisStrides = strides(p.slicing.axes, this.sizes);
    p.slicing.axes.forEach((d, a) => {
      let e: Expr = id('slice');
      if (axisStrides[a]! > 1) e = bin('/', e, u(axisStrides[a]!));
      if (a > 0) e = bin('%', e, u(this.sizes[d]!));
      body.push(letS(`slice_${a}`, e));
    });
    body.push(letS('steps', bin('*', member(id('params'), 'batch'), member(id('params'), 'T'))));
    const len = call('min', index(id('lengths'), id('seq')), member(id('params'), 'T'));
    if (this.wg) {
      // The loop bound must be uniform across the workgroup for the barriers inside it.
      body.push(ifS(bin('==', id('lid'), u(0)), [assign(id('seq_len'), len)]));
      body.push(letS('len', call('workgroupUniformLoad', un('&', id('seq_len')))));
    } else {
      body.push(letS('len', len));
      for (const l of locals) body.push(varS(l.name, l.type));
    }

    body.push(blank, comment('the initial state'));
    for (const s of tensorsOf(this.m, 'state')) {
      const key = `state:${s.name}`;
      body.push(...this.forElements(key, (c) => [assign(this.localRef(key, c), index(id('state_in'), this.stateAddress('state_in', s.name, c)))]));
    }
    body.push(...this.barrier());
    const invariant = p.program.defs.filter((k) => k.invariant);
    if (invariant.length) body.push(blank, comment('time-invariant: computed once'));
    body.push(...this.emitDefs(invariant, source));

    const step: Stmt[] = [letS('step_row', stepRow(timeAxisOf(this.m), id('seq'), member(id('params'), 'T'), id('t')))];
    if (isBidirectional(this.m)) step.push(letS(REVERSED_ROW, stepRow({ reversed: true }, id('seq'), member(id('params'), 'T'), id('t'))));
    const halves = this.halfLets(() => id('t'));
    if (halves.length) step.push(comment('each updated state in two halves: the state before the step in half cur, its update in half nxt'), ...halves);
    step.push(...this.emitDefs(p.program.defs.filter((k) => !k.invariant), source));
    if (!this.swapsHalves) {
      if (p.program.updated.length) step.push(comment('commit the updated state'));
      for (const s of p.program.updated) step.push(...this.forElements(`state:${s}`, (c) => [assign(this.localRef(`state:${s}`, c), this.localRef(`next:${s}`, c))]));
      step.push(...this.barrier());
    }
    this.halves = undefined;
    body.push(blank, comment('the steps of this sequence'), forRange('t', u(0), id('len'), step));

    const outputs = tensorsOf(this.m, 'output');
    if (outputs.length) {
      const zero: Stmt[] = [letS('step_row', bin('+', bin('*', id('seq'), member(id('params'), 'T')), id('t')))];
      for (const o of outputs) {
        const key = `let:${o.name}`;
        zero.push(...this.forElements(key, (c) => this.ownerGuard(key, [assign(index(id('outputs'), this.stepAddress('outputs', o.name, c)), lit.f32(0))])));
      }
      body.push(blank, comment('past the end of the sequence: zero outputs'), forRange('t', id('len'), member(id('params'), 'T'), zero));
    }
    body.push(blank, comment('the final state'));
    body.push(...this.halfLets(() => id('len'), false));
    for (const s of tensorsOf(this.m, 'state')) {
      const key = `state:${s.name}`;
      body.push(...this.forElements(key, (c) => this.ownerGuard(key, [assign(index(id('state_out'), this.stateAddress('state_out', s.name, c)), this.localRef(key, c))])));
    }
    this.halves = undefined;

    const prelude = mathPrelude(this.helpers);
    mod.globals.push(...prelude.globals);
    mod.functions.push(...prelude.functions);
    this.addViews(mod);
    mod.entryPoints.push(W.workgroupEntry(wgSize, body));
    return mod;
  }
}

/** The most sequences one workgroup runs (the batch tile). */
const MAX_TILE = 4;
/**
 * The most sums in one loop of the step (vec4 accumulators). LSTM X = H = 256, batch 8, tile 4: 16
 * (four gates x four sequences) ran faster than 8 or 4 per loop despite spills, the weight loads
 * shared across sequences and the state's loads across gates (docs/seq-bench.md).
 */
const MAX_FUSED_SUMS = 16;
/**
 * The fewest weight floats read in a step's sums for a batch tile: below this the loads are not what a
 * step costs, while the tile repeats the step's code once per sequence, which the driver compiles
 * (LSTM X = 4, H = 8, 512 floats: its backward kernel took 28 s of lavapipe CPU cold with a tile of 4,
 * 2 s without; its pre-pass 7.9 s with 4 rows per trip). The same bound decides the pre-pass's rows
 * per trip. 4096 is one 64 x 64 matrix; both were measured to pay at LSTM X = H = 256.
 */
const MIN_TILE_WEIGHTS = 4096;

/** The floats of the params that `defs` read inside sums: the weight loads a tile's members share. */
function paramFloatsInSums(m: Module, sizes: DimSizes, defs: KernelDef[]): number {
  const inSums = new Set<string>();
  for (const k of defs) {
    if (!k.def.nodes.some((n) => n.op === 'reduce')) continue;
    for (const n of k.def.nodes) if (n.op === 'load' && n.source === 'param') inSums.add(n.tensor);
  }
  return [...inSums].reduce((n, name) => n + tensorSize(m.tensors.find((t) => t.name === name)!, sizes), 0);
}

/**
 * Sequences per workgroup. In the workgroup strategy a step's products with the weights are the work,
 * and lavapipe pays for a weight load per invocation (it gathers per SIMD lane); a workgroup that runs
 * `tile` sequences in lockstep reads each weight once for all of them (measured, LSTM X = H = 256 at
 * batch 8: docs/seq-bench.md). As many as fit in WebGPU's guaranteed workgroup storage, at most
 * MAX_TILE (batch 8 then still fills two workgroups, one per core of the machine this was measured
 * on), and only where the step reads params inside a sum: elsewhere there is no load to share.
 */
function chooseTile(m: Module, sizes: DimSizes, p: Plan, registers: Set<LocalKey>): number {
  if (p.strategy !== 'workgroup' || p.slicing.axes.length > 0 || isBidirectional(m) || registers.size === 0) return 1;
  if (paramFloatsInSums(m, sizes, p.program.defs.filter((k) => !k.invariant)) < MIN_TILE_WEIGHTS) return 1;
  const perSequence = [...p.local].filter(([key]) => keptLocal(p, registers, key)).reduce((n, [, l]) => n + 4 * l.count, 0);
  let tile = MAX_TILE;
  while (tile > 1 && tile * perSequence > WORKGROUP_STORAGE_BYTES) tile /= 2;
  return tile;
}

/** The largest batch tile (a power of two) within `most` sequences. */
const tileAtMost = (most = MAX_TILE): number => 2 ** Math.floor(Math.log2(Math.max(1, Math.min(MAX_TILE, most))));

/** Compiles a module's step to a sequential WGSL kernel (sizes from `bindDims`). */
export function emitSeq(m: Module, sizes: DimSizes, options: SeqOptions = {}): SeqKernel {
  const p = plan(m, sizes, options);
  const layout = kernelLayout(m, sizes, p.program.weights);
  p.tile = Math.min(chooseTile(m, sizes, p, new KernelWriter(m, sizes, p, layout, options.parallel ?? false).registers), tileAtMost(options.maxTile));
  // The seq backend's kernels (parallel) also read aligned runs of inputs and params as vec4s.
  let writer = new KernelWriter(m, sizes, p, layout, options.parallel ?? false);
  // A vec4 load that differs per invocation costs lavapipe's compiler about four f32 loads (measured:
  // GRU at H = 128 took 16 s of CPU cold with the f32 budget): a quarter of the accesses may be unrolled.
  const budget = options.parallel ? VECTOR_UNROLLED_ACCESSES : MAX_UNROLLED_ACCESSES;
  const finish = (mod: W.Module) => printModule(options.half ? storeHalf(budgetUnrolling(mod, budget), HALF_GLOBALS) : budgetUnrolling(mod, budget));
  let wgsl = finish(writer.module(options.source));
  // Written once more with the lets and states its sums read four at a time as vec4 arrays (quadLocal).
  if (writer.quadWanted.size > 0) {
    writer = new KernelWriter(m, sizes, p, layout, options.parallel ?? false, writer.quadWanted);
    wgsl = finish(writer.module(options.source));
  }
  // The views are extra bindings: past WebGPU's guaranteed storage buffers per stage, go without them.
  const storageUsed = (w: KernelWriter) => layout.buffers.filter((b) => (b.role !== 'inputs' && b.role !== 'weights') || w.loaded.has(b.role)).length + (p.scratch.regions.length ? 1 : 0) + (w.storageLocals ? 1 : 0) + (w.loaded.has('weights4') ? 1 : 0) + (w.loaded.has('inputs4') ? 1 : 0);
  if (storageUsed(writer) > MAX_STORAGE_BUFFERS) {
    writer = new KernelWriter(m, sizes, p, layout, false);
    wgsl = finish(writer.module(options.source));
  }
  const viewsOf = (loaded: Set<string>) => (['weights4', 'inputs4'] as const).filter((v) => loaded.has(v)).map((v) => ({ binding: writer.viewBinding(v), buffer: v === 'weights4' ? ('weights' as const) : ('inputs' as const) }));
  const mainViews = viewsOf(writer.loaded);
  // The bindings `main` uses (a layout made from the shader, as 'auto' makes, has only these).
  const bindings = [
    0,
    ...layout.buffers.filter((b) => (b.role !== 'inputs' && b.role !== 'weights') || writer.loaded.has(b.role)).map((b) => b.binding),
    ...(p.scratch.regions.length ? [writer.scratchBinding] : []),
    ...mainViews.map((v) => v.binding),
    ...(writer.storageLocals ? [writer.localsBinding] : []),
  ];
  const staged = p.scratch.regions.length > 0;
  const preWriter = new KernelWriter(m, sizes, p, layout, options.parallel ?? false);
  const pre = staged ? finish(preWriter.prepassModule(options.source, options.subgroupPrepass ?? false)) : undefined;
  const preViews = viewsOf(preWriter.loaded);
  const prepassBindings = [0, ...layout.buffers.filter((b) => preWriter.loaded.has(b.role as 'inputs')).map((b) => b.binding), writer.scratchBinding, ...preViews.map((v) => v.binding)];
  const step = options.stepwise ? (options.stepwise.lanes ? laneStepKernel(m, sizes, p, layout, finish, options.source) : stepKernel(m, sizes, p, layout, options.stepwise.tile, finish, options.source)) : undefined;
  if (typeof step === 'string') throw new Error(`emitSeq: the plan asked for the step kernel, but ${step}`);
  const stepViews = step?.views ?? [];
  const views = [...mainViews, ...preViews, ...stepViews].filter((v, i, all) => all.findIndex((w) => w.binding === v.binding) === i).sort((a, b) => a.binding - b.binding);
  return {
    ...(step ? { step: step.kernel } : {}),
    name: m.name,
    wgsl,
    entryPoint: 'main',
    bindings,
    views,
    ...(writer.storageLocals ? { locals: { binding: writer.localsBinding, perUnit: writer.storageLocals.perUnit } } : {}),
    ...(pre !== undefined
      ? {
          prepass: { wgsl: pre, entryPoint: 'main' as const, workgroupSize: preWriter.prepassSubgroups ? SUBGROUP_ROWS : PREPASS_WORKGROUP, rowsPerWorkgroup: preWriter.prepassRowsPerWorkgroup, bindings: prepassBindings, ...(preWriter.prepassSubgroups ? { subgroups: true as const } : {}) },
          scratch: { binding: writer.scratchBinding, ...p.scratch },
        }
      : {}),
    strategy: p.strategy,
    workgroupSize: p.workgroupSize,
    sequencesPerWorkgroup: p.tile,
    sliceAxes: p.slicing.axes,
    unitsPerSequence: p.unitsPerSequence,
    dims: sizes,
    layout,
  };
}

/**
 * The fewest operations of a step (per sequence, ir/cost.ts) for the step kernel: below it a dispatch
 * per step costs more than the step. Measured on lavapipe (2 cores, load ~11; docs/seq-bench.md), LSTM
 * batch 8, T = 256, the loop kernel against the step kernel: X = H = 64 (34k operations) 40-81 ms
 * against 57-72 ms; X = H = 128 (134k) 137-464 ms against 118-216 ms. A dispatch cost ~0.2 ms.
 */
export const STEP_MIN_OPS = 2 ** 16;

/**
 * Whether the pre-pass runs over subgroups (prepass-subgroup.ts) at these sizes, and why: where the
 * rows pre-pass would run (weights read in its sums of at least MIN_TILE_WEIGHTS floats, no lets)
 * and every pre-pass definition is one sum of weights times a row's inputs (subgroupLoops). The
 * adapter must have subgroups of at least SUBGROUP_ROWS (the planner's target says so).
 */
export function subgroupPrepassForm(m: Module, sizes: DimSizes): { ok: true; why: string } | { ok: false; why: string } {
  const p = plan(m, sizes, { parallel: true });
  if (p.program.parallel.length === 0) return { ok: false, why: 'no pre-pass' };
  if (p.program.parallel.some((k) => k.def.nodes.some((n) => n.op === 'load' && n.source === 'let'))) return { ok: false, why: 'the pre-pass reads lets' };
  const weights = paramFloatsInSums(m, sizes, p.program.parallel);
  if (weights < MIN_TILE_WEIGHTS) return { ok: false, why: `its sums read ${weights} weight floats (the subgroup pre-pass from ${MIN_TILE_WEIGHTS})` };
  const loops = subgroupLoops(new KernelWriter(m, sizes, p, kernelLayout(m, sizes, p.program.weights), true).subgroupContext());
  if (typeof loops === 'string') return { ok: false, why: loops };
  return { ok: true, why: `its pre-pass runs ${SUBGROUP_ROWS} step rows per subgroup, each weight vec4 loaded once and shared by subgroupBroadcast` };
}

/** Whether the seq backend runs the step as a dispatch of its own (SeqStepKernel), with its tile, and why. */
export type StepForm = { ok: true; tile: number; why: string } | { ok: false; why: string };

/**
 * Decides the step kernel from the sizes (the planner records it: backends/wgsl-seq/backend.ts). It
 * takes a cell whose step is one run of definitions over the same elements (no barrier inside a step:
 * LSTM, GRU, every gated cell whose gates read the state through sums), at sizes where a step's work
 * outweighs a dispatch (STEP_MIN_OPS; on lavapipe a dispatch costs 0.1-0.3 ms).
 */
export function stepwiseForm(m: Module, sizes: DimSizes, options: { half?: boolean; ops: number }): StepForm {
  if (options.half) return { ok: false, why: 'f16 storage keeps the loop kernel' };
  if (options.ops < STEP_MIN_OPS) return { ok: false, why: `a step of ${options.ops} operations per sequence costs less than a dispatch (the step kernel from ${STEP_MIN_OPS})` };
  const p = plan(m, sizes, { parallel: true });
  const layout = kernelLayout(m, sizes, p.program.weights);
  const tile = paramFloatsInSums(m, sizes, p.program.defs.filter((k) => !k.invariant)) >= MIN_TILE_WEIGHTS ? MAX_TILE : 1;
  const made = stepKernel(m, sizes, p, layout, tile, (mod) => printModule(budgetUnrolling(mod, VECTOR_UNROLLED_ACCESSES)), undefined);
  if (typeof made === 'string') return { ok: false, why: made };
  return {
    ok: true,
    tile,
    why: `one dispatch per step (no barrier in a step: its sums stay in registers, and its ${made.kernel.blocks} workgroup${made.kernel.blocks > 1 ? 's' : ''} of ${STEP_WORKGROUP} elements per sequence spread over the cores at any batch)${tile > 1 ? `, ${tile} sequences per invocation sharing each weight load (fewer at a smaller batch)` : ''}`,
  };
}

/** The bindings a step kernel's `main` uses (its vec4 views among them), after it was written by `w`. */
function stepBindings(w: KernelWriter, layout: KernelLayout, p: Plan): { viewList: SeqKernel['views']; bindings: number[] } {
  const viewList = (['weights4', 'inputs4'] as const).filter((v) => w.loaded.has(v)).map((v) => ({ binding: w.viewBinding(v), buffer: v === 'weights4' ? ('weights' as const) : ('inputs' as const) }));
  const bindings = [
    0,
    ...layout.buffers.filter((b) => b.role !== 'state_in' && ((b.role !== 'inputs' && b.role !== 'weights') || w.loaded.has(b.role))).map((b) => b.binding),
    ...(p.scratch.regions.length ? [w.scratchBinding] : []),
    ...viewList.map((v) => v.binding),
    w.stateBinding('cur'),
    w.stateBinding('next'),
  ];
  return { viewList, bindings };
}

/** The step kernel, or why the cell does not take it. */
function stepKernel(m: Module, sizes: DimSizes, loopPlan: Plan, layout: KernelLayout, tile: number, finish: (mod: W.Module) => string, source: SourceFile | undefined): { kernel: SeqStepKernel; views: SeqKernel['views'] } | string {
  if (loopPlan.slicing.axes.length > 0) return 'its state is sliced';
  // The loop kernel keeps its lets and next states in workgroup memory, and takes one invocation per
  // sequence where they exceed it (LSTM at H = 512). The step kernel keeps them in registers (below:
  // it refuses any other) and stages at most the states its sums read, so it takes the workgroup
  // form's program at any state size.
  const p: Plan = loopPlan.strategy === 'workgroup' ? loopPlan : { ...loopPlan, strategy: 'workgroup', workgroupSize: STEP_WORKGROUP };
  const check = new KernelWriter(m, sizes, p, layout, true);
  if (isBidirectional(m) || m.monoid) return 'a bidirectional or monoid cell keeps the loop kernel';
  if (p.program.defs.some((k) => k.invariant)) return 'it has time-invariant definitions';
  const defs = p.program.defs.filter((k) => !k.invariant);
  const groups = check.stepGroups(defs);
  if (groups !== 1) return `a step needs ${groups} runs of definitions (a barrier between them)`;
  const states = tensorsOf(m, 'state').map((t) => t.name);
  if (!states.every((s) => p.program.updated.includes(s))) return 'a state is not updated every step';
  const stored = [...p.read].filter((key) => key !== '' && !key.startsWith('state:') && !key.startsWith('next:') && !check.registers.has(key) && !p.scratch.regions.some((r) => r.key === key));
  if (stored.length) return `${stored.join(', ')} would need workgroup memory`;
  const count = p.local.get(defs[0]!.target)!.count;
  const blocks = Math.ceil(count / STEP_WORKGROUP);
  for (const vectors of [true, false]) {
    const w = new KernelWriter(m, sizes, p, layout, vectors);
    const wgsl = finish(w.stepModule(tile, blocks, source));
    const { viewList, bindings } = stepBindings(w, layout, p);
    if (bindings.length - 1 > MAX_STORAGE_BUFFERS) continue;
    const perSequence = w.stateFloatsPerSequence();
    return {
      kernel: {
        wgsl,
        entryPoint: 'main',
        initEntryPoint: 'init',
        workgroupSize: STEP_WORKGROUP,
        tile,
        blocks,
        bindings,
        initBindings: [0, layout.buffers.find((b) => b.role === 'state_in')!.binding, layout.buffers.find((b) => b.role === 'state_out')!.binding, w.stateBinding('next')],
        stateCur: w.stateBinding('cur'),
        stateNext: w.stateBinding('next'),
        stateFloats: (batch) => STEP_HEADER + batch * perSequence,
      },
      views: viewList,
    };
  }
  return `it would bind more than ${MAX_STORAGE_BUFFERS} storage buffers`;
}

/**
 * Whether a cell that takes the step kernel (stepwiseForm) can run it with lanes over 8 sequences
 * (step-subgroup.ts), and why not: its recurrent sums' form (laneSums). Written, it binds what the
 * step kernel binds or less. Nothing is emitted here (the planner asks on every run).
 */
export function laneStepForm(m: Module, sizes: DimSizes): { ok: true } | { ok: false; why: string } {
  const loopPlan = plan(m, sizes, { parallel: true });
  const p: Plan = loopPlan.strategy === 'workgroup' ? loopPlan : { ...loopPlan, strategy: 'workgroup', workgroupSize: STEP_WORKGROUP };
  const w = new KernelWriter(m, sizes, p, kernelLayout(m, sizes, p.program.weights), true);
  const ls = laneSums(p.program.defs.filter((k) => !k.invariant), sizes, (role, t) => w.regionOf(role, t));
  return typeof ls === 'string' ? { ok: false, why: ls } : { ok: true };
}

/** The step kernel with lanes over 8 sequences (laneStepModule), or why the cell does not take it. */
function laneStepKernel(m: Module, sizes: DimSizes, loopPlan: Plan, layout: KernelLayout, finish: (mod: W.Module) => string, source: SourceFile | undefined): { kernel: SeqStepKernel; views: SeqKernel['views'] } | string {
  // The step kernel's conditions (and its init, state buffers and bindings), then its own.
  const base = stepKernel(m, sizes, loopPlan, layout, 1, (mod) => printModule(mod), undefined);
  if (typeof base === 'string') return base;
  const p: Plan = loopPlan.strategy === 'workgroup' ? loopPlan : { ...loopPlan, strategy: 'workgroup', workgroupSize: STEP_WORKGROUP };
  const defs = p.program.defs.filter((k) => !k.invariant);
  const w = new KernelWriter(m, sizes, p, layout, true);
  const ls = laneSums(defs, sizes, (role, t) => w.regionOf(role, t));
  if (typeof ls === 'string') return ls;
  const wgsl = finish(w.laneStepModule(ls, source));
  const { viewList, bindings } = stepBindings(w, layout, p);
  if (bindings.length - 1 > MAX_STORAGE_BUFFERS) return `it would bind more than ${MAX_STORAGE_BUFFERS} storage buffers`;
  return { kernel: { ...base.kernel, wgsl, workgroupSize: SUBGROUP_ROWS, tile: SUBGROUP_ROWS, blocks: ls.blocks, bindings, subgroups: true }, views: viewList };
}

/** Workgroups of a step of the step kernel, for `batch` sequences. */
export function stepDispatch(k: Pick<SeqStepKernel, 'blocks' | 'tile'>, batch: number): [number, number, number] {
  return gridDispatch(k.blocks * Math.ceil(batch / k.tile));
}

/** Workgroups of the step kernel's `init`: one invocation per float of the states. */
export function stepInitDispatch(k: Pick<SeqStepKernel, 'stateFloats' | 'workgroupSize'>, batch: number): [number, number, number] {
  return gridDispatch(Math.max(1, Math.ceil((k.stateFloats(batch) - STEP_HEADER) / k.workgroupSize)));
}

/** Workgroups of the pre-pass: one per `rowsPerWorkgroup` step rows. */
export function prepassDispatch(k: Pick<SeqKernel, 'prepass'>, batch: number, T: number): [number, number, number] {
  return gridDispatch(Math.ceil((batch * T) / (k.prepass?.rowsPerWorkgroup ?? PREPASS_WORKGROUP)));
}

/** Workgroups to dispatch, split over x and y to stay within 65,535 per dimension. */
export function seqDispatch(k: Pick<SeqKernel, 'strategy' | 'workgroupSize' | 'unitsPerSequence'> & { sequencesPerWorkgroup?: number }, batch: number): [number, number, number] {
  const units = batch * k.unitsPerSequence;
  const groups = k.strategy === 'workgroup' ? Math.ceil(units / (k.sequencesPerWorkgroup ?? 1)) : Math.ceil(units / k.workgroupSize);
  return gridDispatch(groups);
}
