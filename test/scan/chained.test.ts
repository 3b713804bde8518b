// The chained single pass without a GPU: which cells it fits, which adapters may run it (the
// planner's Target.lookBack), the plan's decision and reason, and the schedule's choice and grid.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { plan } from '../../src/driver/compile.js';
import { targetOf } from '../../src/driver/run.js';
import { CHAIN_MAX_STEPS, CHAIN_MIN_STEPS, CHAIN_WORKGROUP, chainedRuns, chainSteps, compileScan, lookBackSafe, scheduleScan } from '../../backends/wgsl-scan/index.js';

const load = (text: string) => {
  const module = frontEnd(text).module!;
  const analysis = analyse(module).analysis;
  return { module, analysis, plan: analysis.plan!, sizes: bindDims(module) };
};
const affine = load(readFileSync('bench/cells/affine.rnn', 'utf8'));
const chained = { tile: { split: 'stripe' as const, chained: true }, subgroups: true };

describe('which adapters may look back', () => {
  it.each([
    [{ vendor: 'mesa', architecture: 'software', device: 'llvmpipe-llvm-15-0-6-256-bits-', description: 'llvmpipe: Mesa 25.0.7', isSoftware: true }, true],
    [{ vendor: 'google', architecture: 'swiftshader', device: '', description: 'SwiftShader Device (Subzero)', isSoftware: true }, true],
    [{ vendor: 'nvidia', architecture: 'ampere', device: '', description: 'NVIDIA GeForce RTX 3080', isSoftware: false }, true],
    [{ vendor: 'amd', architecture: 'rdna-2', device: '', description: '', isSoftware: false }, true],
    [{ vendor: 'intel', architecture: 'gen-12lp', device: '', description: '', isSoftware: false }, true],
    [{ vendor: 'apple', architecture: 'metal-3', device: '', description: 'Apple M2', isSoftware: false }, false],
    [{ vendor: 'arm', architecture: 'valhall', device: '', description: 'Mali-G710', isSoftware: false }, false],
    [{ vendor: 'qualcomm', architecture: '', device: '', description: 'Adreno 740', isSoftware: false }, false],
    [{ vendor: 'microsoft', architecture: '', device: '', description: 'Microsoft Basic Render Driver', isSoftware: true }, false],
  ])('%o: %s', (adapter, safe) => {
    expect(lookBackSafe(adapter)).toBe(safe);
    expect(targetOf({ ...adapter, features: ['subgroups'], subgroupMinSize: 8 }).lookBack).toBe(safe);
  });
});

describe('the plan', () => {
  it('asks for the chained pass where the adapter may look back, and says so', () => {
    const c = plan(affine.module, affine.analysis, { mode: 'auto', target: { subgroups: true, lookBack: true } });
    expect(c.plan.decision).toMatchObject({ mode: 'scan', tile: { split: 'stripe', chained: true } });
    expect(c.plan.why).toMatch(/one chained pass, reading each input once/);
  });

  it('does not where it may not, or before an adapter is known', () => {
    for (const target of [{ subgroups: true, lookBack: false }, { subgroups: true }]) {
      const c = plan(affine.module, affine.analysis, { mode: 'auto', target });
      expect(c.plan.decision).toMatchObject({ mode: 'scan', tile: { split: 'stripe' } });
      expect(c.plan.decision.mode === 'scan' && c.plan.decision.tile.chained).toBeFalsy();
      expect(c.plan.why).not.toMatch(/chained/);
    }
  });

  it('does not when the request asks for the same bits on every run (--deterministic)', () => {
    const c = plan(affine.module, affine.analysis, { mode: 'auto', target: { subgroups: true, lookBack: true }, deterministic: true });
    expect(c.plan.decision).toMatchObject({ mode: 'scan', tile: { split: 'stripe' } });
    expect(c.plan.decision.mode === 'scan' && c.plan.decision.tile.chained).toBeFalsy();
    expect(c.plan.why).not.toMatch(/chained/);
  });

  it('does not for cells it does not fit: lanes, or tensors of several floats per step', () => {
    for (const text of [readFileSync('bench/cells/affine.rnn', 'utf8').replace('dims C = 1', 'dims C = 4'), readFileSync('examples/mingru.rnn', 'utf8')]) {
      const c = load(text);
      const p = plan(c.module, c.analysis, { mode: 'scan', target: { subgroups: true, lookBack: true } });
      expect(p.plan.decision.mode === 'scan' && p.plan.decision.tile.chained).toBeFalsy();
      expect(compileScan(c.module, c.plan, c.sizes, chained).kernels.scan_chained).toBeUndefined();
    }
  });

  it('compiles it only when asked', () => {
    expect(compileScan(affine.module, affine.plan, affine.sizes, chained).kernels.scan_chained).toBeDefined();
    expect(compileScan(affine.module, affine.plan, affine.sizes, { tile: { split: 'stripe' }, subgroups: true }).kernels.scan_chained).toBeUndefined();
  });
});

describe('the schedule', () => {
  const k = compileScan(affine.module, affine.plan, affine.sizes, chained);

  it('takes one pass for few long sequences whose length is a multiple of 4', () => {
    const T = 2 ** 22;
    const s = scheduleScan(k.layout, k.tile, 1, T, { chained: true });
    expect(s.strategy).toBe('chained');
    expect(s.passes.map((p) => p.kernel)).toEqual(['scan_chained']);
    const x = T / (CHAIN_MAX_STEPS * CHAIN_WORKGROUP);
    expect(s.passes[0]!.dispatch).toEqual([x, 1]);
    // block_len (uniform 4): the steps each invocation walks.
    expect(s.passes[0]!.uniforms[4]).toBe(CHAIN_MAX_STEPS);
    // A counter per sequence lane, then 2 words per float of a record per group of 8 tiles.
    expect(s.statusWords).toBe(1 + (x * CHAIN_WORKGROUP) / 8 * 4);
  });

  it('keeps the other strategies where it does not apply', () => {
    expect(scheduleScan(k.layout, k.tile, 1, 2 ** 16 + 2, { chained: true }).strategy).toBe('reduce-then-scan');
    expect(scheduleScan(k.layout, k.tile, 16, 2 ** 16, { chained: true }).strategy).toBe('carry');
    expect(scheduleScan(k.layout, k.tile, 1, 2 ** 16).strategy).toBe('reduce-then-scan');
    expect(() => scheduleScan(k.layout, k.tile, 1, 2 ** 16 + 2, { chained: true, strategy: 'chained' })).toThrow(/multiple of 4/);
    expect(() => scheduleScan(k.layout, k.tile, 1, 2 ** 16, { strategy: 'chained' })).toThrow(/kernels compiled with it/);
  });

  it('fits the grid (at most 65,535 sequence lanes) and step indices within a u32', () => {
    // 2^31 steps (16,384 workgroups of 512-step ranges) is the most: past it, a step index could wrap a u32.
    expect(chainedRuns(1, 2 ** 31)).toBe(true);
    expect(chainedRuns(1, 2 ** 31 + 4)).toBe(false);
    expect(chainedRuns(65_535, 2 ** 20)).toBe(true);
    expect(chainedRuns(65_536, 2 ** 20)).toBe(false);
    expect(chainedRuns(1, 2)).toBe(false);
    expect(() => scheduleScan(k.layout, k.tile, 1, 1024, { chained: true, strategy: 'chained', chainSteps: 6 })).toThrow(/multiple of 4/);
  });

  it('gives each invocation the longest range that still keeps 8 workgroups busy', () => {
    expect(chainSteps(2 ** 22, 1)).toBe(512);
    expect(chainSteps(2 ** 20, 1)).toBe(512);
    expect(chainSteps(2 ** 19, 1)).toBe(256);
    expect(chainSteps(2 ** 19, 2)).toBe(512);
    expect(chainSteps(40_000, 1)).toBe(16);
    expect(chainSteps(8, 1)).toBe(CHAIN_MIN_STEPS);
    const s = scheduleScan(k.layout, k.tile, 1, 2 ** 19, { chained: true });
    expect(s.passes[0]!.dispatch).toEqual([8, 1]);
    expect(s.passes[0]!.uniforms[4]).toBe(256);
  });
});
