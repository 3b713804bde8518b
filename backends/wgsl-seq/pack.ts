// Packing a run's typed arrays into a sequential kernel's buffers, and unpacking its results: the
// same layout as the generated host module (backends/wgsl-seq/layout.ts), as data for a GPU job.
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { bufferElements, type BufferLayout } from './layout.js';
import { prepassDispatch, seqDispatch, stepDispatch, stepInitDispatch, type SeqKernel, type SeqStepKernel } from './emit.js';

import { bytesView, type BufferPart } from '../job.js';
import type { RunArrays, RunResult } from '../run-data.js';

export type { RunArrays, RunResult } from '../run-data.js';

export interface PackedBuffer {
  name: string;
  usage: 'uniform' | 'storage-read' | 'storage';
  bytes: number;
  data?: ArrayBuffer;
  /** A read-only buffer's tensors where they lie in it (views of the run's arrays, no copy). */
  parts?: BufferPart[];
  read?: boolean;
}

export interface PackedRun {
  buffers: PackedBuffer[];
  bindings: { binding: number; buffer: string }[];
  dispatch: [number, number, number];
}

/** The initial state of every sequence: given, or the spec's initial value (a constant or a param). */
export function initialStates(m: Module, run: RunArrays, sizes: Record<string, number>): Record<string, Float32Array> {
  const given = nonzeroStates(m, run, sizes);
  return Object.fromEntries(tensorsOf(m, 'state').map((s) => [s.name, given[s.name] ?? new Float32Array(run.batch * s.dims.reduce((k, d) => k * sizes[d]!, 1))]));
}

/**
 * initialStates without the states that start at zero (no initial state given, a constant 0 in the
 * spec): a buffer is zero where no part covers it, so those are never made (the staged backward's
 * rest starts a sum's state at 0 for every step, hundreds of MB at published sizes).
 */
function nonzeroStates(m: Module, run: RunArrays, sizes: Record<string, number>): Record<string, Float32Array | undefined> {
  const out: Record<string, Float32Array | undefined> = {};
  for (const s of tensorsOf(m, 'state')) {
    const n = s.dims.reduce((k, d) => k * sizes[d]!, 1);
    const given = run.initialState?.[s.name];
    if (given) out[s.name] = given;
    else if (s.init?.kind === 'param') {
      const p = run.params[s.init.name]!;
      const a = new Float32Array(run.batch * n);
      for (let b = 0; b < run.batch; b++) a.set(p, b * n);
      out[s.name] = a;
    } else if (s.init?.kind === 'const' && s.init.value !== 0) out[s.name] = new Float32Array(run.batch * n).fill(s.init.value);
  }
  return out;
}

/** A read-only buffer's contents for a run: its tensors at their regions (the wavefront kernel's too, with T = H * W). */
export function fillBuffer(b: BufferLayout, run: RunArrays, states: Record<string, Float32Array | undefined>): ArrayBuffer {
  const a = new Uint8Array(4 * bufferElements(b, run.batch, run.T));
  for (const p of bufferParts(b, run, states)) a.set(bytesView(p.data), p.offset);
  return a.buffer;
}

/** fillBuffer's contents as parts: each tensor's array at its region as it is, in order; a state without an array (zero) is left out. */
export function bufferParts(b: BufferLayout, run: RunArrays, states: Record<string, Float32Array | undefined>): BufferPart[] {
  if (b.role === 'lengths') {
    const a = new Uint32Array(bufferElements(b, run.batch, run.T));
    for (let i = 0; i < run.batch; i++) a[i] = Math.max(0, Math.min(run.lengths ? run.lengths[i]! : run.T, run.T));
    return [{ offset: 0, data: a }];
  }
  const scale = b.scale === '1' ? 1 : b.scale === 'batch' ? run.batch : run.batch * run.T;
  const source = b.role === 'inputs' ? run.inputs : b.role === 'weights' ? run.params : states;
  const parts: BufferPart[] = [];
  for (const r of [...b.regions].sort((x, y) => x.offset.elements - y.offset.elements)) {
    const src = source[r.tensor];
    if (!src && b.role === 'state_in') continue;
    if (!src || src.length !== r.size * scale) throw new Error(`pack: ${r.tensor} has ${src?.length ?? 'no'} elements, expected ${r.size * scale}`);
    parts.push({ offset: 4 * r.offset.elements * scale, data: src });
  }
  return parts;
}

export function packRun(m: Module, k: SeqKernel, run: RunArrays): PackedRun {
  const states = nonzeroStates(m, run, k.dims);
  const buffers: PackedBuffer[] = [{ name: 'params', usage: 'uniform', bytes: 16, data: new Uint32Array([run.batch, run.T, 0, 0]).buffer }];
  for (const b of k.layout.buffers) {
    const bytes = 4 * bufferElements(b, run.batch, run.T);
    buffers.push(b.usage === 'storage' ? { name: b.role, usage: 'storage', bytes, read: true } : { name: b.role, usage: 'storage-read', bytes, parts: bufferParts(b, run, states) });
  }
  return {
    buffers,
    bindings: [{ binding: 0, buffer: 'params' }, ...k.layout.buffers.map((b) => ({ binding: b.binding, buffer: b.role }))],
    dispatch: seqDispatch(k, run.batch),
  };
}

/**
 * The whole run of a kernel as GPU passes: packRun's buffers, plus `scratch` and the pre-pass before
 * the kernel when it has one (`shaders` names the job's shader of each).
 */
export function seqPasses(m: Module, k: SeqKernel, run: RunArrays, shaders: { prepass: string; main: string; step?: string; init?: string }): { buffers: PackedBuffer[]; passes: { shader: string; bindings: { binding: number; buffer: string }[]; dispatch: [number, number, number] }[] } {
  const packed = packRun(m, k, run);
  // The vec4 views bind the same buffer again.
  const views = (used: number[]) => k.views.filter((v) => used.includes(v.binding)).map((v) => ({ binding: v.binding, buffer: v.buffer }));
  if (k.step && shaders.step && shaders.init) return stepPasses(k, k.step, run, packed, views, { ...shaders, step: shaders.step, init: shaders.init });
  // Only what each kernel uses is bound (the layout's buffers a kernel does not read are left out).
  // A kernel whose lets and states live in a storage buffer (SeqKernel.locals) gets a region of it per unit.
  const locals = k.locals ? [{ name: 'locals', usage: 'storage' as const, bytes: localsBytes(k, run.batch) }] : [];
  const main = { shader: shaders.main, bindings: [...packed.bindings.filter((b) => k.bindings.includes(b.binding)), ...views(k.bindings), ...(k.locals ? [{ binding: k.locals.binding, buffer: 'locals' }] : [])], dispatch: packed.dispatch };
  if (!k.prepass || !k.scratch) return { buffers: [...packed.buffers, ...locals], passes: [main] };
  const scratch = { binding: k.scratch.binding, buffer: 'scratch' };
  const pre = k.prepass;
  return {
    buffers: [...packed.buffers, ...locals, { name: 'scratch', usage: 'storage', bytes: 4 * Math.max(1, k.scratch.perStep * run.batch * run.T) }],
    passes: [
      { shader: shaders.prepass, bindings: [...packed.bindings.filter((b) => pre.bindings.includes(b.binding)), scratch, ...views(pre.bindings)], dispatch: prepassDispatch(k, run.batch, run.T) },
      { ...main, bindings: [...main.bindings, scratch] },
    ],
  };
}

/**
 * The step kernel's passes (SeqStepKernel): the pre-pass, `init`, then one pass per step, the two
 * state buffers swapping roles every step (`init` writes the one step 0 reads).
 */
function stepPasses(
  k: SeqKernel,
  step: SeqStepKernel,
  run: RunArrays,
  packed: PackedRun,
  views: (used: number[]) => { binding: number; buffer: string }[],
  shaders: { prepass: string; step: string; init: string },
): ReturnType<typeof seqPasses> {
  const scratch = k.prepass && k.scratch ? { binding: k.scratch.binding, buffer: 'scratch' } : undefined;
  const states = ['states_a', 'states_b'];
  const buffers: PackedBuffer[] = [...packed.buffers, ...states.map((name) => ({ name, usage: 'storage' as const, bytes: 4 * step.stateFloats(run.batch) }))];
  const passes: ReturnType<typeof seqPasses>['passes'] = [];
  if (k.prepass && scratch) {
    buffers.push({ name: 'scratch', usage: 'storage', bytes: 4 * Math.max(1, k.scratch!.perStep * run.batch * run.T) });
    passes.push({ shader: shaders.prepass, bindings: [...packed.bindings.filter((b) => k.prepass!.bindings.includes(b.binding)), scratch, ...views(k.prepass.bindings)], dispatch: prepassDispatch(k, run.batch, run.T) });
  }
  passes.push({ shader: shaders.init, bindings: [...packed.bindings.filter((b) => step.initBindings.includes(b.binding)), { binding: step.stateNext, buffer: states[0]! }], dispatch: stepInitDispatch(step, run.batch) });
  const fixed = [...packed.bindings.filter((b) => step.bindings.includes(b.binding)), ...(scratch && step.bindings.includes(scratch.binding) ? [scratch] : []), ...views(step.bindings)];
  const dispatch = stepDispatch(step, run.batch);
  for (let t = 0; t < run.T; t++) {
    passes.push({ shader: shaders.step, bindings: [...fixed, { binding: step.stateCur, buffer: states[t % 2]! }, { binding: step.stateNext, buffer: states[(t + 1) % 2]! }], dispatch });
  }
  return { buffers, passes };
}

/** Bytes of the `locals` buffer (SeqKernel.locals) for a batch: a region for every unit. */
export const localsBytes = (k: SeqKernel, batch: number): number => 4 * Math.max(1, (k.locals?.perUnit ?? 0) * batch * k.unitsPerSequence);

/** Splits the read-back outputs and final-state buffers into one array per tensor. */
export function unpackRun(k: SeqKernel, batch: number, T: number, read: Record<string, ArrayBuffer>): RunResult {
  const split = (role: 'outputs' | 'state_out') => {
    const b = k.layout.buffers.find((x) => x.role === role);
    const out: Record<string, Float32Array> = {};
    if (!b) return out;
    const all = new Float32Array(read[role]!);
    const scale = role === 'outputs' ? batch * T : batch;
    // Views of the read-back buffer, which is the result's own: no copy into fresh memory.
    for (const r of b.regions) out[r.tensor] = all.subarray(r.offset.elements * scale, (r.offset.elements + r.size) * scale);
    return out;
  };
  return { outputs: split('outputs'), finalState: split('state_out') };
}
