// Evaluating IR at every point of an index space (every float of a dense scan element, every state
// or output element a thread holds): at or below UNROLL_MAX points one copy of the code per point,
// above it a nest of loops, one per dim, so that a kernel's size does not grow with the space's size.
import { strides, type DimSizes } from '../../src/compiler/ir/dims.js';
import { id, lit, type Stmt } from '../wgsl/ast.js';
import { countedLoop } from '../wgsl/unroll-budget.js';
import { offsetExpr, type IndexValue, type Lowerer } from './expr.js';
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
/** One loop of a nest overPoints writes: `for (var <name> = 0u; <name> < <count>; ...)` over one dim. */
export interface PointLoop {
  /** 0 for the outermost loop. */
  level: number;
  name: string;
  count: number;
}

/** Told when overPoints enters and leaves each loop of a nest (hoisting mirrors the nest elsewhere). */
export interface LoopObserver {
  enter(loop: PointLoop): void;
  exit(loop: PointLoop): void;
}

/**
 * Writes `body(point, flat, depths)` for every point of `dims` into the lowering's current
 * statements. `flat` is the point's row-major index. At or below UNROLL_MAX points the body is
 * repeated with numeric points; above, it sits in one loop per dim, outermost first, and
 * `depths[k]` is the scope depth of coordinate k, to pass to `lw.evaluate`: a value that depends on
 * the outer coordinates only is then computed once per outer iteration.
 */
export function overPoints(
  lw: Lowerer,
  dims: string[],
  sizes: DimSizes,
  body: (point: IndexValue[], flat: IndexValue, depths: number[]) => Stmt[],
  observer?: LoopObserver,
): void {
  const count = pointCount(dims, sizes);
  if (unrolls(count)) {
    for (let flat = 0; flat < count; flat++) lw.current.push(...body(pointAt(dims, sizes, flat), flat, dims.map(() => 0)));
    return;
  }
  const base = lw.depth;
  const loops: PointLoop[] = dims.map((d, level) => ({ level, name: lw.name('p'), count: sizes[d]! }));
  const bodies = loops.map((loop) => {
    const into = lw.open([]);
    observer?.enter(loop);
    return into;
  });
  const point = loops.map((l) => id(l.name));
  const stmts = body(point, offsetExpr(point, strides(dims, sizes)), loops.map((_, k) => base + k + 1));
  bodies[bodies.length - 1]!.push(...stmts);
  for (const loop of [...loops].reverse()) {
    observer?.exit(loop);
    const into = bodies[loop.level]!;
    lw.close();
    lw.current.push(countedLoop(loop.name, lit.u32(0), loop.count, into));
  }
}
