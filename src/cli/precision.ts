// `--precision` for run, compile, check and bench: which buffers are f16 (src/compiler/plan/precision.ts).
import { Option } from 'commander';
import { isPrecisionRequest, precisionRequests, type PrecisionRequest } from '../compiler/plan/precision.js';
import { EXIT_INTERNAL, UserError } from './io.js';

export const precisionOption = () =>
  new Option(
    '--precision <p>',
    "f32; f16-storage (inputs, params and outputs in f16 buffers, state and sums in f32: half the traffic); f16 (f16 arithmetic where it is exact, else as f16-storage; rnnc check --precision f16 says which); or auto (f32). f16 needs the adapter's shader-f16 feature",
  ).default('auto');

/** The flag's value, checked (a usage error, exit 2). */
export function parsePrecision(value: string): PrecisionRequest {
  if (!isPrecisionRequest(value)) throw new UserError(`rnnc: --precision must be one of ${precisionRequests.join(', ')}, got '${value}'`, EXIT_INTERNAL);
  return value;
}
