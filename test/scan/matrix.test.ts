// The scan's 'matrix' layout without a GPU: which cells and sizes take it, what `auto` makes of it,
// refusals past its limit, and kernels whose size does not grow with the element's.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { emit, plan } from '../../src/driver/compile.js';
import { RnncError } from '../../src/driver/errors.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { compileScan, scheduleScan, usesMatrix } from '../../backends/wgsl-scan/index.js';
import { scanLayout } from '../../backends/wgsl-scan/layout.js';
import { MATRIX_MIN_BLOCK, MATRIX_TARGET_BLOCKS } from '../../backends/wgsl-scan/matrix.js';

const load = (path: string) => frontEnd(readFileSync(path, 'utf8'));
const minmax = load('examples/minmax.rnn');
const gla = load('examples/gla.rnn');

describe('the matrix layout', () => {
  it('takes dense elements over 64 floats, not smaller ones, nor lanes gathered into one element', () => {
    const layout = (n: number) => scanLayout(minmax.module!, minmax.analysis!.plan!, bindDims(minmax.module!, { N: n }));
    expect(usesMatrix(layout(7))).toBe(false); // 57 floats: one thread
    expect(usesMatrix(layout(8))).toBe(true); // 73 floats
    const g = gla.module!;
    const gathered = scanLayout(g, gla.analysis!.plan!, bindDims(g), 'whole');
    expect(gathered.members.length).toBeGreaterThan(64);
    expect(usesMatrix(gathered)).toBe(false);
  });

  it('auto keeps the cell sequential and says why; --mode scan plans the matrix layout', () => {
    const auto = plan(minmax.module!, minmax.analysis!, { mode: 'auto', dims: { N: 32 }, target: { subgroups: true } });
    expect(auto.plan.mode).toBe('seq');
    expect(auto.plan.why).toMatch(/^not scan: it takes the cell, but only with a workgroup combining each 1057-float element \(the 'matrix' layout\)/);
    const scan = plan(minmax.module!, minmax.analysis!, { mode: 'scan', dims: { N: 32 }, target: { subgroups: true } });
    expect(scan.plan.decision).toMatchObject({ mode: 'scan', layout: 'matrix', floats: 1057 });
    expect(scan.plan.why).toContain('workgroup memory');
    const big = plan(minmax.module!, minmax.analysis!, { mode: 'scan', dims: { N: 64 }, target: { subgroups: true } });
    expect(big.plan.why).toContain('in storage');
  });

  it('refuses with a user error past its limit and for a split asked of it', () => {
    const refused = (dims: Record<string, number>, split?: 'tile') => {
      try {
        plan(minmax.module!, minmax.analysis!, { mode: 'scan', dims, target: { subgroups: true }, ...(split ? { split } : {}) });
      } catch (e) {
        expect(e).toBeInstanceOf(RnncError);
        return (e as Error).message;
      }
      return undefined;
    };
    expect(refused({ N: 2000 })).toMatch(/^rnnc: .*its scan element has 4002001 floats \(a dense transition\), over the scan backend's 1048576/);
    expect(refused({ N: 16 }, 'tile')).toMatch(/^rnnc: .*a workgroup holds each \(the 'matrix' layout\), which has no 'tile' split/);
  });

  it("writes kernels whose size does not grow with N (the points are spread over a workgroup's invocations)", () => {
    const sizeAt = (n: number) => {
      const k = compileScan(minmax.module!, minmax.analysis!.plan!, bindDims(minmax.module!, { N: n }));
      return Object.values(k.kernels).reduce((s, x) => s + x.code.length, 0);
    };
    // N = 64 keeps its elements in storage (a few more address terms), N = 16 in workgroup memory.
    expect(sizeAt(200)).toBeLessThan(1.2 * sizeAt(48));
  });

  it('schedules one pass for a sequence of one block, three otherwise, with room for every region', () => {
    const k = compileScan(minmax.module!, minmax.analysis!.plan!, bindDims(minmax.module!, { N: 16 }));
    expect(scheduleScan(k.layout, k.tile, 2, MATRIX_MIN_BLOCK).passes.map((p) => p.kernel)).toEqual(['scan_steps']);
    expect(scheduleScan(k.layout, k.tile, 2, MATRIX_MIN_BLOCK + 1).passes).toHaveLength(3);
    const s = scheduleScan(k.layout, k.tile, 3, 100_000);
    expect(s.passes.map((p) => p.kernel)).toEqual(['reduce_steps', 'scan_aggs', 'scan_steps']);
    const blocks = s.levels[0]!;
    expect(blocks).toBeLessThanOrEqual(MATRIX_TARGET_BLOCKS);
    expect(s.aggElements * k.layout.members.length).toBeGreaterThanOrEqual(3 * blocks * (k.layout.members.length + k.layout.stateWidth));
    expect(s.passes[0]!.dispatch[0] * s.passes[0]!.dispatch[1]).toBeGreaterThanOrEqual(3 * blocks);
  });

  it('prepares a run through the backend at every size up to its limit', () => {
    for (const n of [8, 17, 37, 64]) {
      const c = plan(minmax.module!, minmax.analysis!, { mode: 'scan', dims: { N: n }, target: { subgroups: false } });
      const run = emit(c).prepare({ batch: 2, T: 500 });
      expect(run.dispatches.map((d) => d.label)).toEqual(['minmax.reduce_steps', 'minmax.scan_aggs', 'minmax.scan_steps']);
    }
  });
});
