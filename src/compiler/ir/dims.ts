// Binding dim sizes: the spec's defaults, overridden by `--dim NAME=SIZE`.
import type { Module, Tensor } from './ir.js';
import { MAX_DIM_SIZE } from '../check/checker.js';

export type DimSizes = Record<string, number>;

export class DimError extends Error {}

export function bindDims(m: Module, overrides: DimSizes = {}): DimSizes {
  // No prototype, and own keys only: a dim may be called `__proto__` or `constructor`.
  const sizes: DimSizes = Object.create(null);
  for (const name of Object.keys(overrides)) {
    if (!m.dims.some((d) => d.name === name)) {
      throw new DimError(`unknown dim \`${name}\`; ${m.name} has ${m.dims.map((d) => d.name).join(', ') || 'no dims'}`);
    }
  }
  for (const d of m.dims) {
    const size = Object.hasOwn(overrides, d.name) ? overrides[d.name] : d.size;
    if (size === undefined) throw new DimError(`dim \`${d.name}\` has no size: give one with --dim ${d.name}=SIZE or in the spec (\`dims ${d.name} = 16\`)`);
    if (!Number.isInteger(size) || size < 1) throw new DimError(`dim \`${d.name}\` must be a positive integer, got ${size}`);
    if (size > MAX_DIM_SIZE) throw new DimError(`dim \`${d.name}\` is ${size}, more than the largest size a kernel can index (${MAX_DIM_SIZE})`);
    sizes[d.name] = size;
  }
  return sizes;
}

/** Number of elements of a tensor (one time step, one sequence). */
export const tensorSize = (t: Tensor, sizes: DimSizes): number => t.dims.reduce((n, d) => n * sizes[d]!, 1);

/** Row-major strides of a tensor's dims. */
export function strides(dims: string[], sizes: DimSizes): number[] {
  const out = new Array<number>(dims.length);
  let s = 1;
  for (let k = dims.length - 1; k >= 0; k--) {
    out[k] = s;
    s *= sizes[dims[k]!]!;
  }
  return out;
}
