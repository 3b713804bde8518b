// The precision of a compiled cell, chosen once by the planner and recorded in the plan (issue 17).
//
//   f32          every buffer float32 (the default; `auto` is f32 unless f16 is asked for).
//   f16-storage  inputs, params and outputs live in f16 buffers (half the traffic); kernels widen
//                what they load to f32 and narrow what they store, so state and every sum stay f32.
//   f16          asks for f16 arithmetic where it is safe. It is exact only where every operation of
//                the step is max, min, a comparison or a select over stored values (the result is
//                then one of the f16 operands in any precision); there f32 arithmetic on f16 loads
//                already gives the f16 result bit for bit, so the kernels are the f16-storage ones.
//                Anything else (a sum, a product, a nonlinearity) needs f32 to accumulate: also
//                f16-storage. `rnnc check --precision f16` says which, and why.
//
// f16 needs the adapter's `shader-f16` feature (Target.f16); an explicit f16 request without it is a
// user error (RNN0802), and `auto` stays f32.
import type { Def, Module } from '../ir/ir.js';

export const precisionRequests = ['auto', 'f32', 'f16-storage', 'f16'] as const;
export type PrecisionRequest = (typeof precisionRequests)[number];
export const isPrecisionRequest = (s: string): s is PrecisionRequest => (precisionRequests as readonly string[]).includes(s);

/** What the planner chose: the element type of the inputs, params and outputs buffers, and of the arithmetic. */
export interface PrecisionDecision {
  requested: PrecisionRequest;
  /** Inputs, params and outputs in memory. States (initial and final) are always f32. */
  storage: 'f32' | 'f16';
  /** What kernels compute in: always f32 today (see the header). */
  arithmetic: 'f32';
  /** Whether f16 arithmetic would give the same results as f32 arithmetic on f16 values (max/min algebras). */
  exactInHalf: boolean;
  why: string;
}

/** The f32 decision (what a plan without a precision request gets). */
export const f32Precision: PrecisionDecision = { requested: 'auto', storage: 'f32', arithmetic: 'f32', exactInHalf: false, why: 'float32 throughout (the default; --precision f16-storage or f16 halves the traffic of inputs, params and outputs)' };

/** An f16 request the target cannot run: why, as a sentence (the planner's PrecisionRefused; the driver reports it as RNN0802). */
export interface PrecisionUnavailable {
  unavailable: string;
}

/** Operations whose result is one of their operands (or a boolean): exact in any float format. */
const EXACT_FNS = new Set(['max', 'min', 'relu', 'abs', 'neg', 'lt', 'le', 'gt', 'ge', 'eq', 'ne']);

/** The first operation of the step that rounds (so f16 arithmetic would not be exact), or undefined. */
export function firstRounding(m: Module): string | undefined {
  const defs: Def[] = [...m.step, ...(m.monoid ? [...m.monoid.element, ...m.monoid.combine] : [])];
  for (const def of defs)
    for (const n of def.nodes) {
      if (n.op === 'load' || n.op === 'select') continue;
      if (n.op === 'const') {
        // A constant is exact in f16 only if it is an f16 value.
        if (n.type === 'f32' && !exactHalfConstant(n.value)) return `the constant ${n.value} in \`${def.target}\` is not an f16 value`;
        continue;
      }
      if (EXACT_FNS.has(n.fn)) continue;
      return `\`${def.target}\` uses ${n.op === 'reduce' ? `a ${n.fn} reduction` : `\`${n.fn}\``}, which rounds`;
    }
  return undefined;
}

function exactHalfConstant(v: number): boolean {
  if (!Number.isFinite(v)) return true;
  if (Math.abs(v) > 65504) return false;
  // An f16 has 11 significant bits: v * 2^k is an integer below 2^11 for the right k.
  if (v === 0) return true;
  const e = Math.floor(Math.log2(Math.abs(v)));
  const scaled = Math.abs(v) * 2 ** (10 - Math.max(e, -14));
  return Number.isInteger(scaled);
}

/** The planner's precision choice for a cell on a target, or why the request cannot be met. */
export function choosePrecision(m: Module, request: PrecisionRequest, hasF16: boolean): PrecisionDecision | PrecisionUnavailable {
  if (request === 'auto') return { ...f32Precision, requested: 'auto', why: `float32 throughout: auto stays f32 unless f16 is asked for (--precision f16-storage or f16)${hasF16 ? '' : "; this adapter lacks 'shader-f16' anyway"}` };
  if (request === 'f32') return { ...f32Precision, requested: 'f32', why: 'float32 throughout (--precision f32)' };
  if (!hasF16) return { unavailable: `the adapter lacks the 'shader-f16' feature, which f16 buffers need` };
  const rounding = firstRounding(m);
  const storage = 'inputs, params and outputs are f16 in memory, widened to f32 on load and narrowed on store; states and every accumulation stay f32';
  if (request === 'f16-storage') return { requested: request, storage: 'f16', arithmetic: 'f32', exactInHalf: rounding === undefined, why: `f16 storage (--precision f16-storage): ${storage}` };
  const arithmetic =
    rounding === undefined
      ? 'every operation of the step is max, min, a comparison or a select, exact in any precision, so f32 arithmetic on the f16 values already gives the f16 result bit for bit'
      : `f16 arithmetic is not safe here: ${rounding}, and sums need f32 accumulators`;
  return { requested: request, storage: 'f16', arithmetic: 'f32', exactInHalf: rounding === undefined, why: `f16 storage (--precision f16): ${storage}; ${arithmetic}` };
}
