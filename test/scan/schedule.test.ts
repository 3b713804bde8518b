// The scan's pass schedule: which kernels run, how many levels of aggregates, and grids that stay
// within 65,535 workgroups per dimension.
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { readFileSync } from 'node:fs';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { chooseLayout, compileScan, subgroupsUsable } from '../../backends/wgsl-scan/index.js';
import { prepareRun } from '../../src/driver/compile.js';
import { targetOf } from '../../src/driver/run.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { AdapterSummary } from '../../backends/job.js';

const fakeAdapter: AdapterSummary = {
  description: 'test',
  vendor: '',
  architecture: '',
  device: '',
  features: [],
  isSoftware: true,
  limits: {
    maxStorageBufferBindingSize: 2 ** 27,
    maxBufferSize: 2 ** 28,
    maxComputeWorkgroupsPerDimension: 65535,
    maxComputeInvocationsPerWorkgroup: 256,
    maxComputeWorkgroupSizeX: 256,
    maxComputeWorkgroupStorageSize: 16384,
    maxStorageBuffersPerShaderStage: 8,
    maxUniformBufferBindingSize: 65536,
  },
};
import { chooseTile, scanLayout } from '../../backends/wgsl-scan/layout.js';
import { scheduleScan } from '../../backends/wgsl-scan/schedule.js';
import { diagonalSource, diagonalSumProdPlan } from './hand-plans.js';

const module = frontEnd(diagonalSource).module!;
const layout = scanLayout(module, diagonalSumProdPlan(), bindDims(module));

describe('scan layout', () => {
  it('gives a diagonal cell one lane per state element with an (a, b) element', () => {
    expect(layout.mode).toBe('lanes');
    expect(layout.laneDims).toEqual(['D']);
    expect(layout.lanes).toBe(4);
    expect(layout.members.map((m) => m.name)).toEqual(['h_a', 'h_b']);
  });
  it("with the 'tile' split picks enough runs to fill 8 SIMD lanes, 8 steps each, by default and honours overrides", () => {
    expect(chooseTile(layout)).toEqual({ split: 'tile', groups: 1, runs: 2, runLength: 8 });
    expect(chooseTile(layout, { runs: 2, runLength: 2 })).toEqual({ split: 'tile', groups: 1, runs: 2, runLength: 2 });
    expect(chooseTile(layout, { runs: 1, runLength: 4 })).toEqual({ split: 'tile', groups: 2, runs: 1, runLength: 4 });
  });
  it("takes the 'stripe' split (subgroups) or the 'thread' split when each thread can write its outputs, and only then", () => {
    expect(chooseTile(layout, {}, true, true)).toEqual({ split: 'stripe', groups: 1, runs: 1, runLength: 1, width: 8 });
    expect(chooseTile(layout, {}, true)).toEqual({ split: 'thread', groups: 1, runs: 1, runLength: 64, width: 8 });
    expect(() => chooseTile(layout, { split: 'thread' }, false)).toThrow(/thread' split needs outputs/);
  });
});

describe('layout choice', () => {
  const mamba = frontEnd(readFileSync('examples/mamba_s6.rnn', 'utf8')).module!;
  const plan = analyse(mamba).analysis.plan!;
  it("gathers mamba's lanes into one element per thread, since y[d] sums over n, unless the 'tile' split is asked for", () => {
    const gathered = chooseLayout(mamba, plan, bindDims(mamba));
    expect([gathered.mode, gathered.members.length]).toEqual(['whole', 64]); // a and b at 8 × 4 points
    expect(compileScan(mamba, plan, bindDims(mamba)).tile.split).toBe('thread');
    const lanes = chooseLayout(mamba, plan, bindDims(mamba), { tile: { split: 'tile' } });
    expect([lanes.mode, lanes.lanes]).toEqual(['lanes', 32]);
  });
  it("fits the kernels to the adapter: the stripe split only where its smallest subgroup holds a team", () => {
    const affine = frontEnd(readFileSync('bench/cells/affine.rnn', 'utf8')) as { module: Module; analysis: Analysis };
    const adapter = (features: string[], subgroupMinSize?: number) => ({ ...fakeAdapter, features, ...(subgroupMinSize ? { subgroupMinSize, subgroupMaxSize: 64 } : {}) });
    expect([subgroupsUsable(adapter(['subgroups'], 8)), subgroupsUsable(adapter(['subgroups'], 4)), subgroupsUsable(adapter([], 32))]).toEqual([true, false, false]);
    const run = (a: ReturnType<typeof adapter>) => prepareRun(affine, { mode: 'scan', target: targetOf(a) }, { batch: 1, T: 4096 });
    const stripe = run(adapter(['subgroups'], 8));
    expect(Object.values(stripe.shaders).some((code) => code.includes('enable subgroups;'))).toBe(true);
    const plain = run(adapter(['subgroups'], 4));
    expect(Object.values(plain.shaders).some((code) => code.includes('subgroup'))).toBe(false);
    expect(plain.job({ batch: 1, T: 4096, inputs: { a: new Float32Array(4096), b: new Float32Array(4096) }, params: {} }).requiredFeatures).toBeUndefined();
  });
  it('keeps lanes when every output reads its own lane', () => {
    expect(chooseLayout(module, diagonalSumProdPlan(), bindDims(module)).mode).toBe('lanes');
  });
});

describe('scan schedule', () => {
  const tile = { split: 'tile', groups: 1, runs: 2, runLength: 2 } as const; // 4 steps per tile
  const kernels = (s: ReturnType<typeof scheduleScan>) => s.passes.map((p) => p.kernel);

  it('carries across tiles in one pass when there are many sequence groups', () => {
    const s = scheduleScan(layout, tile, 100, 1000);
    expect(s.strategy).toBe('carry');
    expect(kernels(s)).toEqual(['scan_steps']);
    expect(s.passes[0]!.dispatch).toEqual([100, 1]);
  });

  it('reduces, scans and rescans three levels of aggregates for a long sequence', () => {
    const s = scheduleScan(layout, tile, 1, 1000, { targetBlocks: 1000, topMax: 8 });
    expect(s.strategy).toBe('reduce-then-scan');
    expect(s.levels).toEqual([250, 63, 16, 4]);
    expect(kernels(s)).toEqual(['reduce_steps', 'reduce_aggs', 'reduce_aggs', 'reduce_aggs', 'scan_aggs', 'scan_aggs', 'scan_aggs', 'scan_aggs', 'scan_steps']);
    // Aggregate regions follow each other: 250, 63, 16 and 4 elements per lane, 4 lanes.
    expect(s.aggElements).toBe((250 + 63 + 16 + 4) * 4);
  });

  it('keeps the number of dispatches constant in T once blocks grow', () => {
    const counts = [2 ** 16, 2 ** 20, 2 ** 22].map((T) => scheduleScan(layout, { split: 'tile', groups: 1, runs: 16, runLength: 8 }, 1, T, { topMax: 1024 }).passes.length);
    expect(counts).toEqual([3, 3, 3]);
  });

  describe("with the 'thread' split", () => {
    const perThread = { split: 'thread', groups: 1, runs: 1, runLength: 4, width: 8 } as const;
    it('cuts a long sequence into about targetThreads blocks, one invocation each, and scans their aggregates in one level', () => {
      // 4 lanes, 64 target invocations: 16 blocks per lane of 63 steps rounded up to 64 (whole loop trips).
      const s = scheduleScan(layout, perThread, 1, 1000, { targetThreads: 64 });
      expect(s.strategy).toBe('reduce-then-scan');
      expect(kernels(s)).toEqual(['reduce_steps', 'scan_aggs', 'scan_steps']);
      expect(s.levels).toEqual([16]);
      expect(s.passes[0]!.uniforms[4]).toBe(64); // block_len
      expect(s.passes.map((p) => p.dispatch)).toEqual([[8, 1], [1, 1], [8, 1]]); // 4 lanes × 16 blocks / 8 per workgroup
    });
    it("with the 'stripe' split: one workgroup (team) per block over the steps, the thread split's grids over the aggregates", () => {
      const stripe = { split: 'stripe', groups: 1, runs: 1, runLength: 1, width: 8 } as const;
      // 4 lanes × 8 invocations for 256: 8 blocks per lane of 125 steps, rounded up to whole stripes (128).
      const s = scheduleScan(layout, stripe, 1, 1000, { targetThreads: 256, minCarryThreads: 64 });
      expect(kernels(s)).toEqual(['reduce_steps', 'scan_aggs', 'scan_steps']);
      expect(s.passes[0]!.uniforms[4]).toBe(128);
      expect(s.passes.map((p) => p.dispatch)).toEqual([[32, 1], [1, 1], [32, 1]]);
      expect(scheduleScan(layout, stripe, 2, 1000, { targetThreads: 256, minCarryThreads: 64 }).strategy).toBe('carry'); // 8 lanes × 8 invocations
    });
    it('single pass: one dispatch of a team per block of every lane, and a status word per record half plus the ticket counter', () => {
      const stripe = { split: 'stripe', groups: 1, runs: 1, runLength: 1, width: 8 } as const;
      const s = scheduleScan(layout, stripe, 2, 1000, { strategy: 'single-pass', targetBlocks: 4, spinLimit: 7 });
      expect(kernels(s)).toEqual(['scan_single']);
      expect(s.passes[0]!.dispatch).toEqual([32, 1]); // 2 sequences × 4 lanes × 4 blocks
      expect(s.passes[0]!.uniforms[10]).toBe(7); // spin_limit
      expect(s.statusWords).toBe(1 + 2 * 4 * 4 * 4); // (a, b): 4 words a record
      expect(() => scheduleScan(layout, perThread, 1, 1000, { strategy: 'single-pass' })).toThrow(/single pass needs the 'stripe' split/);
    });
    it('carries in one pass when the lanes alone fill minCarryThreads (16 by default)', () => {
      const s = scheduleScan(layout, perThread, 4, 1000, {});
      expect(scheduleScan(layout, perThread, 3, 1000).strategy).toBe('reduce-then-scan'); // 12 lanes
      expect(kernels(s)).toEqual(['scan_steps']);
      expect(s.passes[0]!.dispatch).toEqual([2, 1]);
    });
  });

  it('spreads more than 65,535 workgroups over a second grid dimension', () => {
    const s = scheduleScan(layout, tile, 200_000, 16);
    expect(s.passes[0]!.dispatch).toEqual([65535, 4]);
  });
});
