// The workgroup grid: WebGPU allows 65,535 workgroups per dimension, so a launch of more is spread
// over x and y, and every kernel numbers its workgroups back into one flat index. One place for both
// halves, so that the host's dispatch and the kernel's numbering cannot disagree.
import { bin, member, id, type Expr } from '../wgsl/ast.js';

/** WebGPU's guaranteed maxComputeWorkgroupsPerDimension. */
export const MAX_WORKGROUPS_PER_DIMENSION = 65535;

/** Workgroup counts for `groups` workgroups: x as wide as allowed, y the rest (at least one workgroup). */
export function gridDispatch(groups: number, maxPerDimension = MAX_WORKGROUPS_PER_DIMENSION): [number, number, number] {
  const x = Math.max(1, Math.min(groups, maxPerDimension));
  return [x, Math.ceil(groups / x), 1];
}

/** The flat workgroup index `wid.x + wid.y * nwg.x` of a grid made by gridDispatch (`wid`, `nwg` the builtins). */
export const flatWorkgroupIndex = (): Expr => bin('+', member(id('wid'), 'x'), bin('*', member(id('wid'), 'y'), member(id('nwg'), 'x')));
