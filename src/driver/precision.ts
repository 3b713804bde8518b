// What the driver does for a plan's precision (src/compiler/plan/precision.ts): with f16 storage the
// run's inputs and params are rounded to f16 on the host first, so that the GPU (which stores them as
// f16) and the float64 reference read the same values and `--verify` measures the kernel, not the
// rounding of the data; and outputs, stored as f16, are held against the tolerance plus f16's unit
// roundoff (2^-11: one rounding of the f32 result). Final states stay f32, held against the tolerance.
import { F16_UNIT_ROUNDOFF, roundToHalf } from '../compiler/plan/half.js';
import { halfStorage, type ExecutionPlan } from '../compiler/plan/plan.js';
import type { RunArrays, RunResult } from '../../backends/run-data.js';
import type { RunResult as ReferenceResult } from '../runtime/reference/interpreter.js';
import { tensorError, type Verification, type VerifyOptions } from './verify.js';

const rounded = (arrays: Record<string, Float32Array>) => Object.fromEntries(Object.entries(arrays).map(([name, a]) => [name, roundToHalf(a)]));

/** The run's data as a plan's kernels read it: with f16 storage, inputs and params rounded to f16 (initial states stay f32). */
export function storedData(plan: Pick<ExecutionPlan, 'precision'>, data: RunArrays): RunArrays {
  return halfStorage(plan) ? { ...data, inputs: rounded(data.inputs), params: rounded(data.params) } : data;
}

/** The tolerance outputs are held against: `tolerance`, plus 2^-11 where they are stored as f16. */
export const outputTolerance = (plan: Pick<ExecutionPlan, 'precision'>, tolerance: number): number => (halfStorage(plan) ? tolerance + F16_UNIT_ROUNDOFF : tolerance);

/** verifyRun for a plan's precision: outputs against outputTolerance, final states against `tolerance`. */
export function verifyAtPrecision(plan: Pick<ExecutionPlan, 'precision'>, gpu: RunResult, ref: ReferenceResult, tolerance: number, options: VerifyOptions = {}): Verification & { outputTolerance: number } {
  const forOutputs = outputTolerance(plan, tolerance);
  const tensors = [
    ...Object.keys(ref.outputs).map((n) => tensorError(n, 'output', gpu.outputs[n]!, ref.outputs[n]!, forOutputs, options)),
    ...Object.keys(ref.final).map((n) => tensorError(n, 'state', gpu.finalState[n]!, ref.final[n]!, tolerance, options)),
  ];
  return { tolerance, outputTolerance: forOutputs, ok: tensors.every((t) => t.ok), tensors };
}
