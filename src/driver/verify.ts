// Comparing a GPU run with the reference interpreter. Per tensor it reports the largest absolute
// error, the largest relative error (against max(|ref|, REL_FLOOR), so exact zeros, e.g. outputs past
// a sequence's length, do not divide by zero) and the checked error |gpu - ref| / (1 + |ref|): a run
// passes when that is at most the tolerance everywhere, i.e. numpy.allclose(gpu, ref, rtol=tol,
// atol=tol) — absolute near zero, relative for large values.
//
// Non-finite values: the GPU and the reference must agree on where they are (a NaN or an infinity on
// one side only is an infinite error). Where both are non-finite they agree, but a result that is NaN
// or infinite says little about the kernel; `rnnc run --verify` therefore fails on non-finite reference
// values unless --allow-nonfinite is given (`rejectNonFinite`), and always reports how many there are.
import type { RunResult as ReferenceResult } from '../runtime/reference/interpreter.js';
import type { RunResult } from '../../backends/wgsl-seq/pack.js';

export const REL_FLOOR = 1e-6;

export interface TensorError {
  name: string;
  kind: 'output' | 'state' | 'grad';
  maxAbs: number;
  maxRel: number;
  /** max |gpu - ref| / (1 + |ref|), the value held against the tolerance. */
  maxErr: number;
  /** Flat index of the element with the largest checked error, and its two values. */
  worst: { index: number; gpu: number; ref: number } | null;
  /** How many elements are NaN or infinite, on each side. */
  nonFinite: { gpu: number; ref: number };
  ok: boolean;
  /** Why the tensor fails although its error is within the tolerance. */
  note?: string;
}

export interface VerifyOptions {
  /** Fail a tensor whose reference holds NaN or infinite values (the CLI's default). */
  rejectNonFinite?: boolean;
  /**
   * Hold |gpu - ref| against 1 + max |ref| of the whole tensor instead of 1 + |ref| (gradients: a
   * param's gradient sums T · batch terms, and where they cancel to near 0 its float32 rounding is
   * that of the terms, not of the sum).
   */
  normwise?: boolean;
}

export interface Verification {
  tolerance: number;
  ok: boolean;
  tensors: TensorError[];
}

/** Errors of one tensor; equal non-finite values (inf = inf, NaN and NaN) count as exact. */
export function tensorError(name: string, kind: TensorError['kind'], gpu: ArrayLike<number>, ref: ArrayLike<number>, tolerance: number, options: VerifyOptions = {}): TensorError {
  if (gpu.length !== ref.length) throw new Error(`verify: ${name} has ${gpu.length} elements on the GPU and ${ref.length} in the reference`);
  let [maxAbs, maxRel, maxErr] = [0, 0, 0];
  let worst: TensorError['worst'] = null;
  const nonFinite = { gpu: 0, ref: 0 };
  let scale = 0;
  if (options.normwise) for (let i = 0; i < ref.length; i++) if (Number.isFinite(ref[i]!)) scale = Math.max(scale, Math.abs(ref[i]!));
  for (let i = 0; i < ref.length; i++) {
    const g = gpu[i]!;
    const r = ref[i]!;
    if (!Number.isFinite(g)) nonFinite.gpu++;
    if (!Number.isFinite(r)) nonFinite.ref++;
    if (g === r || (Number.isNaN(g) && Number.isNaN(r))) continue;
    // A NaN on one side only, or an infinity against a finite value, is an infinite error.
    const finite = Number.isFinite(g) && Number.isFinite(r);
    const abs = finite ? Math.abs(g - r) : Infinity;
    const err = finite ? abs / (1 + (options.normwise ? scale : Math.abs(r))) : Infinity;
    maxAbs = Math.max(maxAbs, abs);
    maxRel = Math.max(maxRel, finite ? abs / Math.max(Math.abs(r), REL_FLOOR) : Infinity);
    if (worst === null || err > maxErr) [maxErr, worst] = [err, { index: i, gpu: g, ref: r }];
  }
  const rejected = options.rejectNonFinite === true && nonFinite.ref > 0;
  return {
    name,
    kind,
    maxAbs,
    maxRel,
    maxErr,
    worst,
    nonFinite,
    ok: maxErr <= tolerance && !rejected,
    ...(rejected ? { note: `the reference itself has ${nonFinite.ref} non-finite value${nonFinite.ref === 1 ? '' : 's'} (NaN or ±inf); --allow-nonfinite accepts them where the GPU agrees` } : {}),
  };
}

/** Every output and final state of a GPU run against the reference's. */
export function verifyRun(gpu: RunResult, ref: ReferenceResult, tolerance: number, options: VerifyOptions = {}): Verification {
  const tensors = [
    ...Object.keys(ref.outputs).map((n) => tensorError(n, 'output', gpu.outputs[n]!, ref.outputs[n]!, tolerance, options)),
    ...Object.keys(ref.final).map((n) => tensorError(n, 'state', gpu.finalState[n]!, ref.final[n]!, tolerance, options)),
  ];
  return { tolerance, ok: tensors.every((t) => t.ok), tensors };
}
