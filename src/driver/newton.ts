// `--mode newton` (issue 16): a nonlinear cell run over the whole sequence at once by Newton's method
// on the equations s_t = f(s_{t-1}, x_t), as ParaRNN does. Two modules, each planned and run like any
// cell, and a loop on the host:
// - the linearisation (src/compiler/newton/linearise.ts), a cell without state that reads the guess
//   before each step as an input: f, J and b per step (and the cell's outputs). Without state, the
//   time axis may be cut anywhere: the sequential kernel runs it as batch · T / C sequences of C
//   steps, all at once;
// - the linear system z_t = J_t z_{t-1} + b_t (src/compiler/newton/affine.ts), an associative
//   recurrence the scan kernel runs; its solution is the next guess.
// Per iteration: linearise at the guess, measure the residual max |s*_t − f(s*_{t-1}, x_t)| (scaled
// by max(1, |f|), so a large state is measured relatively), stop below `tol`, else solve and repeat.
// The result is f at the last guess: the states after each step, the final states and the outputs.
// A sequence past its length keeps its state and outputs zeros, as every backend does.
import { affineSystem, type AffineSystem } from '../compiler/newton/affine.js';
import { linearise, NewtonError, type Linearisation } from '../compiler/newton/linearise.js';
import { analyse } from '../compiler/analyse/analyse.js';
import type { Analysis } from '../compiler/analyse/types.js';
import { tensorSize, type DimSizes } from '../compiler/ir/dims.js';
import { tensorsOf, type Module } from '../compiler/ir/ir.js';
import { defaultTarget, type Compilation, type Target } from '../compiler/plan/plan.js';
import { makePlan, PlanOverBudget, PlanRefused } from '../compiler/plan/planner.js';
import { backendList } from '../../backends/index.js';
import type { RunArrays, RunResult } from '../../backends/backend.js';
import { interpret } from '../runtime/reference/interpreter.js';
import type { Device } from '../runtime/device.js';
import { plan as planCell, sizesOf } from './compile.js';
import { RnncError } from './errors.js';
import { hostStepPosition } from '../../backends/lower/time.js';
import { splitDirections } from '../compiler/ir/split-directions.js';
import { partData } from './directions.js';
import { frontEnd } from './front-end.js';
import { checkHostMemory, fitRun, runSegmented } from './segments.js';
import { targetOf } from './run.js';

export interface NewtonOptions {
  /** Stop when the residual is at most this (default 1e-5). */
  tol?: number;
  /** At most this many linear solves (default 32). */
  maxIter?: number;
  /** Steps of the linearisation per workgroup, at most (default 64): fewer is more parallel, more has less overhead per workgroup. */
  stepsPerGroup?: number;
  /**
   * The first guess: zeros at every step (default), or every step at the initial state. Zeros is the
   * safer start: a random initial state held for thousands of steps gave some gru_diag steps |J| > 1,
   * and the linear system's product of them overflowed float32 (docs/newton.md).
   */
  guess?: 'initial' | 'zeros';
}

export const newtonDefaults = { tol: 1e-5, maxIter: 32, stepsPerGroup: 64 } as const;

export interface NewtonResult extends RunResult {
  /** Linear solves taken. */
  iterations: number;
  /** The residual at the returned states (at most tol). */
  residual: number;
}

/** A cell ready for newton: its linearisation and linear system, each analysed, at one size binding. */
export interface NewtonCell {
  module: Module;
  sizes: DimSizes;
  linearisation: Linearisation;
  linearAnalysis: Analysis;
  system: AffineSystem;
  systemModule: Module;
  systemAnalysis: Analysis;
  /**
   * A bidirectional cell: its forward part's and its reversed part's own cells (split-directions.ts),
   * each solved on its own in its own direction, their results joined; the fields above are then the
   * forward part's (and `module` the whole cell).
   */
  parts?: NewtonCell[];
}

/** Builds the two modules; a cell newton cannot take is a user error that says why. */
export function newtonCell(module: Module, dims: Record<string, number> = {}): NewtonCell {
  const sizes = sizesOf(module, dims);
  if (!tensorsOf(module, 'state').length) throw new RnncError(`rnnc: ${module.name} has no state: --mode newton solves a recurrence`, 'usage');
  // A grid cell's neighbour loads are no time step's state: the Newton iterations do not apply.
  if (module.grid) throw new RnncError(`rnnc: RNN0512: ${module.name} is a grid cell: Newton iterations run over one time axis, so --mode newton cannot run it; --mode seq (the wavefront kernel), scan (a separable cell along its axis) or reference does (rnnc run FILE --grid H,W)`, 'usage');
  // A reversed cell runs in logical time (runNewton puts its steps in that order); a bidirectional one as its two parts, each in its own.
  const split = splitDirections(module);
  if (split) {
    const parts = split.map(({ direction, module: part }) => {
      try {
        return newtonCell(part, dims);
      } catch (e) {
        if (!(e instanceof RnncError)) throw e;
        const what = direction === 'reversed' ? 'its `reversed { ... }` block' : 'its forward statements';
        throw new RnncError(`rnnc: ${module.name} runs under --mode newton as two parts, one direction of time each, and ${what} (${part.name}): ${e.message.replace(/^rnnc: /, '')}`, e.kind);
      }
    });
    return { ...parts[0]!, module, parts };
  }
  let linearisation: Linearisation;
  try {
    linearisation = linearise(module);
  } catch (e) {
    if (e instanceof NewtonError) throw new RnncError(`rnnc: ${module.name} cannot take --mode newton: ${e.message}`, 'usage');
    throw e;
  }
  const linearAnalysis = analyse(linearisation.module).analysis;
  const system = affineSystem(linearisation, sizes, `${module.name}_newton_system`);
  const parsed = frontEnd(system.text);
  if (!parsed.module || !parsed.analysis) throw new Error(`the newton system of ${module.name} does not compile:\n${parsed.diagnostics.map((d) => d.message).join('\n')}\n${system.text}`);
  return { module, sizes, linearisation, linearAnalysis, system, systemModule: parsed.module, systemAnalysis: parsed.analysis };
}

/** The two compilations newton runs: the linearisation as a sequential (hoisted) kernel, the system as a scan. */
export interface NewtonPlan {
  linearisation: Compilation;
  system: Compilation;
  /** Why newton runs the cell this way, for the plan's reason. */
  why: string;
  /** A bidirectional cell: each part's plan (NewtonCell.parts); the fields above are the forward part's, but `why`. */
  parts?: NewtonPlan[];
}

export function planNewton(cell: NewtonCell, target: Target = defaultTarget): NewtonPlan {
  if (cell.parts) {
    const parts = cell.parts.map((part) => planNewton(part, target));
    const why = `two parts, one direction of time each: forward ${parts[0]!.why}; reversed ${parts[1]!.why}`;
    return { ...parts[0]!, why, parts };
  }
  let linearisation: Compilation;
  try {
    linearisation = planCell(cell.linearisation.module, cell.linearAnalysis, { dims: cell.sizes, mode: 'seq', target });
  } catch (e) {
    // Over the cost limit: the Jacobian of a step costs (state size)² and more; say so of the cell the user wrote.
    if (e instanceof RnncError) throw new RnncError(`rnnc: ${cell.module.name} cannot take --mode newton at these sizes: its linearisation (f, J ${cell.linearisation.structure} and b of every step) ${e.message.replace(/^[\s\S]*rnnc: \S+ is /, 'is ')}. Run it with --mode seq`, 'input');
    throw e;
  }
  const sizes = sizesOf(cell.systemModule);
  const subject = { module: cell.systemModule, analysis: cell.systemAnalysis, sizes, target, request: { mode: 'scan' as const } };
  const planned = makePlan(subject, backendList);
  const what = `its linearised system (J ${cell.linearisation.structure}${cell.system.form === 'stacked' ? `, ${cell.system.width} stacked state elements per sequence` : ''})`;
  if (planned instanceof PlanRefused) throw new RnncError(`rnnc: ${cell.module.name} cannot take --mode newton at these sizes: ${what} does not run as a scan: ${planned.why}. Run it with --mode seq`, 'input');
  if (planned instanceof PlanOverBudget) throw new RnncError(`rnnc: ${cell.module.name} cannot take --mode newton at these sizes: ${what} costs too much per step. Run it with --mode seq`, 'input');
  const system: Compilation = { module: cell.systemModule, analysis: cell.systemAnalysis, sizes, target, plan: planned };
  const why = `newton: ${cell.linearisation.why}; per iteration a time-parallel kernel linearises every step at the guess and a scan (${planned.why}) solves the linear recurrence`;
  return { linearisation, system, why };
}

/**
 * Throws a RnncError unless newton's arrays at this size fit in host memory: the linearisation's
 * inputs and outputs (the guess before each step, f, J, b and the outputs) and the system's, each
 * [batch, T, ...] in float32. Before any data exists, as checkHostMemory for the other modes.
 */
export function checkNewtonMemory(cell: NewtonCell, size: { batch: number; T: number }): void {
  for (const part of cell.parts ?? []) checkNewtonMemory(part, size);
  checkHostMemory(cell.linearisation.module, cell.sizes, size);
  checkHostMemory(cell.systemModule, sizesOf(cell.systemModule), size);
}

/** How newton runs its two modules: on a device, or on the reference interpreter. */
export interface ModuleRunner {
  run(which: 'linearisation' | 'system', data: RunArrays): Promise<RunResult>;
  /** A bidirectional cell's part k's runner (NewtonCell.parts). */
  part?(k: number): ModuleRunner;
}

/** Runs the two compilations on a device, cut to its limits (compiled once each). */
export function deviceRunner(device: Device, p: NewtonPlan): ModuleRunner {
  const fitted = new Map<string, ReturnType<typeof fitRun>>();
  const parts = p.parts?.map((q) => deviceRunner(device, q));
  return {
    ...(parts ? { part: (k: number) => parts[k]! } : {}),
    async run(which, data) {
      const c = which === 'linearisation' ? p.linearisation : p.system;
      const key = `${which} ${data.batch}x${data.T}`;
      if (!fitted.has(key)) fitted.set(key, fitRun(c, device.adapter.limits, { batch: data.batch, T: data.T }));
      const { prepare, segments } = fitted.get(key)!;
      return runSegmented(device, c.module, prepare, data, c.sizes, segments);
    },
  };
}

/** Runs the two modules on the float64 reference interpreter (results rounded to float32, as a device gives them). */
export function referenceRunner(cell: NewtonCell): ModuleRunner {
  const sizesOfSystem = sizesOf(cell.systemModule);
  const parts = cell.parts?.map(referenceRunner);
  return {
    ...(parts ? { part: (k: number) => parts[k]! } : {}),
    async run(which, data) {
      const [m, sizes] = which === 'linearisation' ? [cell.linearisation.module, cell.sizes] : [cell.systemModule, sizesOfSystem];
      const r = interpret(m, { batch: data.batch, T: data.T, sizes, ...(data.lengths ? { lengths: data.lengths } : {}) }, { inputs: data.inputs, params: data.params, ...(data.initialState ? { initial: data.initialState } : {}) });
      const f32 = (rec: Record<string, Float64Array>) => Object.fromEntries(Object.entries(rec).map(([k, v]) => [k, Float32Array.from(v)]));
      return { outputs: f32(r.outputs), finalState: f32(r.final) };
    },
  };
}

/** Where the worst residual is: the sequence, the step and the state element. */
interface Worst {
  value: number;
  b: number;
  t: number;
  state: string;
  i: number;
}

/**
 * A [batch, T, ...] array with each sequence's steps moved by the time map of backends/lower/time.ts:
 * row t of the result is row hostStepPosition(t) of `a` (logical step t of a reversed cell, over the
 * sequence's own length; steps past it stay put). The map is its own inverse, so the same call puts
 * logical rows back at their positions.
 */
function inLogicalOrder(a: Float32Array, batch: number, T: number, lengthOf: (b: number) => number): Float32Array {
  const width = a.length / (batch * T);
  const out = new Float32Array(a.length);
  for (let b = 0; b < batch; b++) {
    const len = lengthOf(b);
    for (let t = 0; t < T; t++) {
      const at = (b * T + hostStepPosition(true, t, len)) * width;
      out.set(a.subarray(at, at + width), (b * T + t) * width);
    }
  }
  return out;
}

/**
 * Solves the cell over `data` by Newton iterations; non-convergence is a user error naming where the
 * residual is worst. A reversed cell is solved in logical time: its inputs are read, and its outputs
 * written, at the position of each logical step (backends/lower/time.ts), as every kernel does; the
 * linearisation and the system then run forward over the logical steps.
 */
export async function runNewton(cell: NewtonCell, data: RunArrays, runner: ModuleRunner, options: NewtonOptions = {}): Promise<NewtonResult> {
  if (cell.parts) {
    // Each part on its own inputs, params and initial states; outputs and states keep their names.
    const result: NewtonResult = { outputs: {}, finalState: {}, iterations: 0, residual: 0 };
    for (const [k, part] of cell.parts.entries()) {
      const partRunner = runner.part?.(k);
      if (!partRunner) throw new Error(`internal error: newton's runner for ${cell.module.name} does not run its parts`);
      const got = await runNewton(part, partData(part.module, data), partRunner, options);
      Object.assign(result.outputs, got.outputs);
      Object.assign(result.finalState, got.finalState);
      result.iterations = Math.max(result.iterations, got.iterations);
      result.residual = Math.max(result.residual, got.residual);
    }
    return result;
  }
  if (!cell.module.reversed) return solve(cell, data, runner, options);
  const lengthOf = (b: number) => (data.lengths ? Math.max(0, Math.min(data.T, data.lengths[b]!)) : data.T);
  const order = (a: Float32Array) => inLogicalOrder(a, data.batch, data.T, lengthOf);
  const inputs = Object.fromEntries(Object.entries(data.inputs).map(([name, a]) => [name, order(a)]));
  const got = await solve(cell, { ...data, inputs }, runner, options, (b, t) => hostStepPosition(true, t, lengthOf(b)));
  return { ...got, outputs: Object.fromEntries(Object.entries(got.outputs).map(([name, a]) => [name, order(a)])) };
}

/** runNewton in logical time; `position` names a step's position in messages (the identity for a forward cell). */
async function solve(cell: NewtonCell, data: RunArrays, runner: ModuleRunner, options: NewtonOptions, position: (b: number, t: number) => number = (_, t) => t): Promise<NewtonResult> {
  const tol = options.tol ?? newtonDefaults.tol;
  const maxIter = options.maxIter ?? newtonDefaults.maxIter;
  const { batch, T } = data;
  const L = cell.linearisation;
  const states = tensorsOf(cell.module, 'state');
  const widths = states.map((s) => tensorSize(s, cell.sizes));
  const lengthOf = (b: number) => (data.lengths ? Math.max(0, Math.min(T, data.lengths[b]!)) : T);

  // Initial states [batch, n]: given, else the spec's value (a constant or a param).
  const initial = states.map((s, p) => {
    const given = data.initialState?.[s.name];
    if (given) return given;
    const n = widths[p]!;
    const out = new Float32Array(batch * n);
    if (s.init?.kind === 'param') for (let b = 0; b < batch; b++) out.set(data.params[s.init.name]!, b * n);
    else out.fill(s.init?.kind === 'const' ? s.init.value : 0);
    return out;
  });
  // The guess: per state [batch, T, n], the state after each step.
  const guess = states.map((_, p) => {
    const n = widths[p]!;
    const g = new Float32Array(batch * T * n);
    if (options.guess === 'initial') for (let b = 0; b < batch; b++) for (let t = 0; t < T; t++) g.set(initial[p]!.subarray(b * n, (b + 1) * n), (b * T + t) * n);
    return g;
  });

  const eyes = Object.fromEntries(
    L.eyes.map((e) => {
      const n = widths[states.findIndex((s) => s.name === e.state)]!;
      const eye = new Float32Array(n * n);
      for (let i = 0; i < n; i++) eye[i * n + i] = 1;
      return [e.param, eye];
    }),
  );
  const params = { ...data.params, ...eyes };
  // Without state, the linearisation may cut the time axis anywhere: [batch, T, ...] read as
  // [batch · T / C, C, ...] (the same bytes) is batch · T / C sequences of C steps, each a workgroup,
  // all at once. C divides T (the largest power of two that does, at most stepsPerGroup); past a
  // sequence's length the pieces' lengths stop, so their outputs are 0 as a backend writes them.
  const C = Math.min(options.stepsPerGroup ?? newtonDefaults.stepsPerGroup, T & -T);
  const pieces = (batch * T) / C;
  const pieceLengths = new Int32Array(pieces);
  for (let g = 0; g < pieces; g++) {
    const b = Math.floor((g * C) / T);
    pieceLengths[g] = Math.max(0, Math.min(C, lengthOf(b) - ((g * C) % T)));
  }

  for (let iteration = 0; ; iteration++) {
    // The guess before each step: the initial state, then the guess after the step before.
    const before = Object.fromEntries(
      states.map((s, p) => {
        const n = widths[p]!;
        const g = guess[p]!;
        const out = new Float32Array(batch * T * n);
        for (let b = 0; b < batch; b++) {
          out.set(initial[p]!.subarray(b * n, (b + 1) * n), b * T * n);
          if (T > 1) out.set(g.subarray(b * T * n, (b * T + T - 1) * n), (b * T + 1) * n);
        }
        return [s.name, out];
      }),
    );
    const lin = await runner.run('linearisation', { batch: pieces, T: C, inputs: { ...data.inputs, ...before }, params, lengths: pieceLengths });
    const worst = residual(states, widths, guess, L, lin, batch, T, lengthOf);
    if (worst.value <= tol) return finish(cell, lin, initial, worst.value, iteration, batch, T, lengthOf);
    if (iteration >= maxIter || !Number.isFinite(worst.value)) {
      const value = Number.isFinite(worst.value) ? `${worst.value.toExponential(2)}` : String(worst.value);
      throw new RnncError(
        `rnnc: newton did not converge for ${cell.module.name}: after ${iteration} iteration${iteration === 1 ? '' : 's'} the residual is ${value}, above the tolerance ${tol} (--newton-tol); it is worst at step ${position(worst.b, worst.t)} (from 0) of sequence ${worst.b}, state \`${worst.state}\` element ${worst.i}. Raise --newton-max-iter (${maxIter}) or run it with --mode seq`,
        'input',
      );
    }
    const solved = await runner.run('system', systemRun(cell, lin, initial, data));
    unpack(cell, solved, guess, widths, batch, T);
  }
}

/** max over valid steps of |guess − f| / max(1, |f|), and where. */
function residual(states: { name: string }[], widths: number[], guess: Float32Array[], L: Linearisation, lin: RunResult, batch: number, T: number, lengthOf: (b: number) => number): Worst {
  const worst: Worst = { value: 0, b: 0, t: 0, state: states[0]!.name, i: 0 };
  states.forEach((s, p) => {
    const n = widths[p]!;
    const f = lin.outputs[L.states[p]!.value]!;
    const g = guess[p]!;
    for (let b = 0; b < batch; b++)
      for (let t = 0; t < lengthOf(b); t++)
        for (let i = 0, k = (b * T + t) * n; i < n; i++, k++) {
          const r = Math.abs(g[k]! - f[k]!) / Math.max(1, Math.abs(f[k]!));
          // NaN is worse than anything.
          if (r > worst.value || (Number.isNaN(r) && !Number.isNaN(worst.value))) Object.assign(worst, { value: r, b, t, state: s.name, i });
        }
  });
  return worst;
}

/** The system's run: in lanes form the linearisation's outputs as they are; stacked, packed into J [S, S] and b [S]. */
function systemRun(cell: NewtonCell, lin: RunResult, initial: Float32Array[], data: { batch: number; T: number; lengths?: Int32Array }): RunArrays {
  const { system: sys, linearisation: L } = cell;
  const { batch, T } = data;
  const lengths = data.lengths ? { lengths: data.lengths } : {};
  const index = new Map(L.states.map((s, p) => [s.name, p]));
  if (sys.form === 'lanes') {
    const inputs: Record<string, Float32Array> = {};
    for (const b of L.blocks) if (b.kind === 'output') inputs[`J${index.get(b.row)}_${index.get(b.col)}`] = lin.outputs[b.output]!;
    L.states.forEach((s, p) => (inputs[`b${p}`] = lin.outputs[s.affine]!));
    return { batch, T, inputs, params: {}, initialState: Object.fromEntries(initial.map((a, p) => [`z${p}`, a])), ...lengths };
  }
  const widths = L.states.map((s) => s.dims.reduce((n, d) => n * cell.sizes[d]!, 1));
  const S = sys.width;
  const steps = batch * T;
  const J = new Float32Array(steps * S * S);
  const bias = new Float32Array(steps * S);
  const z0 = new Float32Array(batch * S);
  for (const block of L.blocks) {
    const p = index.get(block.row)!;
    const q = index.get(block.col)!;
    const [n, m] = [widths[p]!, widths[q]!];
    const src = block.kind === 'output' ? lin.outputs[block.output]! : undefined;
    for (let s = 0; s < steps; s++)
      for (let i = 0; i < n; i++) {
        const row = s * S * S + sys.position(p, i) * S;
        if (src) for (let j = 0; j < m; j++) J[row + sys.position(q, j)] = src[(s * n + i) * m + j]!;
        else J[row + sys.position(q, i)] = 1;
      }
  }
  L.states.forEach((st, p) => {
    const n = widths[p]!;
    const b = lin.outputs[st.affine]!;
    for (let s = 0; s < steps; s++) bias.set(b.subarray(s * n, (s + 1) * n), s * S + sys.position(p, 0));
    for (let k = 0; k < batch; k++) z0.set(initial[p]!.subarray(k * n, (k + 1) * n), k * S + sys.position(p, 0));
  });
  return { batch, T, inputs: { J, b: bias }, params: {}, initialState: { z: z0 }, ...lengths };
}

/** The system's solution back into the per-state guesses. */
function unpack(cell: NewtonCell, solved: RunResult, guess: Float32Array[], widths: number[], batch: number, T: number): void {
  const sys = cell.system;
  if (sys.form === 'lanes') {
    guess.forEach((g, p) => g.set(solved.outputs[`y${p}`]!));
    return;
  }
  const y = solved.outputs['y']!;
  guess.forEach((g, p) => {
    const n = widths[p]!;
    for (let s = 0; s < batch * T; s++) g.set(y.subarray(s * sys.width + sys.position(p, 0), s * sys.width + sys.position(p, 0) + n), s * n);
  });
}

/** The result at the converged guess: f's values are the states; the final state is the one after each sequence's last valid step. */
function finish(cell: NewtonCell, lin: RunResult, initial: Float32Array[], residual: number, iterations: number, batch: number, T: number, lengthOf: (b: number) => number): NewtonResult {
  const L = cell.linearisation;
  const finalState: Record<string, Float32Array> = {};
  L.states.forEach((s, p) => {
    const f = lin.outputs[s.value]!;
    const n = initial[p]!.length / batch;
    const out = new Float32Array(batch * n);
    for (let b = 0; b < batch; b++) {
      const len = lengthOf(b);
      out.set(len === 0 ? initial[p]!.subarray(b * n, (b + 1) * n) : f.subarray((b * T + len - 1) * n, (b * T + len) * n), b * n);
    }
    finalState[s.name] = out;
  });
  const outputs = Object.fromEntries(L.outputs.map((o) => [o, lin.outputs[o]!]));
  return { outputs, finalState, iterations, residual };
}

/** Plans and runs newton on a device (what `rnnc run --mode newton` and the library do). */
export async function runNewtonOnDevice(device: Device, module: Module, data: RunArrays, options: NewtonOptions & { dims?: Record<string, number>; target?: Target } = {}): Promise<NewtonResult & { plan: NewtonPlan }> {
  const cell = newtonCell(module, options.dims);
  const p = planNewton(cell, options.target ?? targetOf(device.adapter));
  const result = await runNewton(cell, data, deviceRunner(device, p), options);
  return { ...result, plan: p };
}
