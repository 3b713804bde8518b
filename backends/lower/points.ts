// Evaluating IR at every point of an index space (every float of a dense scan element, every state
// or output element a thread holds): at or below UNROLL_MAX points one copy of the code per point,
// above it a loop over the flat index with the point decoded, so that a kernel's size does not grow
// with the space's size.
import { strides, type DimSizes } from '../../src/compiler/ir/dims.js';
import { bin, forRange, id, letS, lit, type Expr, type Stmt } from '../wgsl/ast.js';
import type { IndexValue, Lowerer } from './expr.js';
import { unrolls } from './reduce.js';

export const pointCount = (dims: string[], sizes: DimSizes): number => dims.reduce((n, d) => n * sizes[d]!, 1);

/** The point at row-major flat index `flat`. */
export function pointAt(dims: string[], sizes: DimSizes, flat: number): number[] {
  const st = strides(dims, sizes);
  return dims.map((d, k) => Math.floor(flat / st[k]!) % sizes[d]!);
}

/**
 * Writes `body(point, flat)` for every point of `dims` into the lowering's current statements. `flat`
 * is the point's row-major index (a number when unrolled, the loop variable otherwise); the values
 * `body` evaluates through `lw` and the statements it returns go where they belong (inside the loop,
 * or hoisted out of it when they do not depend on the point).
 */
/** A loop over the points of a space, as overPoints writes it: `for (var <name> ...) { <decode> ... }`. */
export interface PointLoop {
  name: string;
  count: number;
  /** The point's coordinates (decoded from the flat index `name`). */
  point: Expr[];
  decode: Stmt[];
}

/** Told when overPoints enters and leaves a loop (hoisting mirrors the loop elsewhere). */
export interface LoopObserver {
  enter(loop: PointLoop): void;
  exit(loop: PointLoop): void;
}

export function overPoints(lw: Lowerer, dims: string[], sizes: DimSizes, body: (point: IndexValue[], flat: IndexValue) => Stmt[], observer?: LoopObserver): void {
  const count = pointCount(dims, sizes);
  if (unrolls(count)) {
    for (let flat = 0; flat < count; flat++) {
      const stmts = body(pointAt(dims, sizes, flat), flat);
      lw.current.push(...stmts);
    }
    return;
  }
  const k = lw.name('p');
  const st = strides(dims, sizes);
  const decode: Stmt[] = [];
  const point = dims.map((d, j): Expr => {
    if (dims.length === 1) return id(k);
    let e: Expr = id(k);
    if (st[j]! > 1) e = bin('/', e, lit.u32(st[j]!));
    if (j > 0) e = bin('%', e, lit.u32(sizes[d]!));
    decode.push(letS(`${k}_${j}`, e));
    return id(`${k}_${j}`);
  });
  const info: PointLoop = { name: k, count, point, decode };
  const loop = lw.open([...decode]);
  observer?.enter(info);
  const stmts = body(point, id(k));
  observer?.exit(info);
  lw.close();
  loop.push(...stmts);
  lw.current.push(forRange(k, lit.u32(0), lit.u32(count), loop));
}
