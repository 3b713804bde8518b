// Scans whose lanes do not fit one workgroup (issue 13): the 'tile' split spreads a sequence's lanes
// over workgroups in blocks along the lane dims its outputs do not reduce over (layout.ts, LaneBlocks).
// GLA at K = V = 64 (4,096 lanes, outputs reducing over K) and Mamba S6 at D = 1024, N = 16 (16,384
// lanes, outputs reducing over N) run on Dawn with the planner's choice and match the reference
// interpreter; so do blocks that pad a dim (V = 25 in blocks of 9), blocks with several runs per lane
// (combined through subgroups and through workgroup memory) and reduce-then-scan with levels of
// aggregates, on variable lengths and given initial states.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { bindDims, type DimSizes } from '../../src/compiler/ir/dims.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { compileScan, type ScanCompileOptions, type ScanRunData, type ScanRunResult, type ScheduleOptions } from '../../backends/wgsl-scan/index.js';
import { blocksOf } from '../../backends/wgsl-scan/layout.js';
import { expectClose, runScan } from './helpers.js';

const load = (file: string, dims: DimSizes) => {
  const module = frontEnd(readFileSync(`examples/${file}`, 'utf8')).module!;
  return { module, plan: analyse(module).analysis.plan!, sizes: bindDims(module, dims) };
};
type Cell = ReturnType<typeof load>;

function runData(cell: Cell, batch: number, T: number, seed: number): ScanRunData {
  // Lengths of different sizes per sequence (one of them T), and initial states.
  const lengths = randomLengths(batch, T, seed);
  lengths[0] = T;
  const d = randomRunData(cell.module, { batch, T, sizes: cell.sizes, lengths }, seed, { initial: true });
  return { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, initialState: d.initial as Record<string, Float32Array>, lengths };
}

function reference(cell: Cell, d: ScanRunData): ScanRunResult {
  const r = interpret(cell.module, { batch: d.batch, T: d.T, sizes: cell.sizes, lengths: d.lengths! }, { inputs: d.inputs, params: d.params, initial: d.initialState! });
  const f32 = (x: Record<string, Float64Array>) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, Float32Array.from(v)]));
  return { outputs: f32(r.outputs), finalState: f32(r.final) };
}

const tolerance = (T: number) => 2e-5 * Math.max(1, Math.sqrt(T));

let gpu: GpuSession;
beforeAll(async () => {
  gpu = await GpuSession.open();
});
afterAll(async () => {
  await gpu?.close();
});

const cases: { name: string; file: string; dims: DimSizes; options: ScanCompileOptions & ScheduleOptions; batch: number; T: number; blocks: number; lanes: number; strategy: string }[] = [
  // The planner's choice (what `--mode scan` and `--mode auto` compile): blocks of 64 K x 4 V, carried.
  { name: 'GLA at K = V = 64', file: 'gla.rnn', dims: { K: 64, V: 64 }, options: {}, batch: 2, T: 70, blocks: 16, lanes: 256, strategy: 'carry' },
  // 16 D x 16 N per block; 64 blocks.
  { name: 'Mamba S6 at D = 1024, N = 16', file: 'mamba_s6.rnn', dims: { D: 1024, N: 16 }, options: {}, batch: 2, T: 64, blocks: 64, lanes: 256, strategy: 'carry' },
  // V = 25 in 3 blocks of 9 (2 lanes past V in the last), with levels of aggregates.
  {
    name: 'GLA at K = 24, V = 25 (a padded dim), reduce-then-scan with levels',
    file: 'gla.rnn',
    dims: { K: 24, V: 25 },
    options: { tile: { split: 'tile' }, strategy: 'reduce-then-scan', targetBlocks: 4, topMax: 2 },
    batch: 3,
    T: 150,
    blocks: 3,
    lanes: 216,
    strategy: 'reduce-then-scan',
  },
  // Small blocks with 2 runs per lane: the runs combined through workgroup memory, D = 8 in blocks of 3.
  {
    name: 'Mamba S6 at D = 8, N = 4 in blocks of 3 D, 2 runs per lane, workgroup memory',
    file: 'mamba_s6.rnn',
    dims: {},
    options: { subgroups: false, tile: { split: 'tile', runs: 2, runLength: 2, maxThreads: 24 }, strategy: 'reduce-then-scan', targetBlocks: 8, topMax: 4 },
    batch: 2,
    T: 97,
    blocks: 3,
    lanes: 12,
    strategy: 'reduce-then-scan',
  },
  {
    name: 'the same with subgroup shuffles, carried',
    file: 'mamba_s6.rnn',
    dims: {},
    options: { subgroups: true, tile: { split: 'tile', runs: 2, runLength: 2, maxThreads: 24 }, strategy: 'carry' },
    batch: 3,
    T: 64,
    blocks: 3,
    lanes: 12,
    strategy: 'carry',
  },
  // Two sequences per workgroup (the second group half past the batch), D = 8 in blocks of 3.
  {
    name: 'Mamba S6 at D = 8, N = 4 in blocks of 3 D, 2 sequences per workgroup',
    file: 'mamba_s6.rnn',
    dims: {},
    options: { subgroups: false, tile: { split: 'tile', runs: 1, groups: 2, maxThreads: 24 }, strategy: 'reduce-then-scan', targetBlocks: 8, topMax: 4 },
    batch: 3,
    T: 130,
    blocks: 3,
    lanes: 12,
    strategy: 'reduce-then-scan',
  },
  // Outputs each thread writes itself (the store phase walks the states), with the 'tile' split asked for: H = 600 in 3 blocks of 200.
  {
    name: 'minGRU at H = 600 with the tile split (outputs written by the thread that holds the state)',
    file: 'mingru.rnn',
    dims: { H: 600 },
    options: { tile: { split: 'tile' }, strategy: 'carry' },
    batch: 2,
    T: 40,
    blocks: 3,
    lanes: 200,
    strategy: 'carry',
  },
];

describe('lanes spread over workgroups match the reference interpreter', () => {
  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_, c) => {
    const cell = load(c.file, c.dims);
    const kernels = compileScan(cell.module, cell.plan, cell.sizes, c.options);
    const blocks = blocksOf(kernels.tile, kernels.layout);
    expect([blocks.blocks, blocks.lanes]).toEqual([c.blocks, c.lanes]);
    const d = runData(cell, c.batch, c.T, 7);
    const got = await runScan(gpu, cell.module, cell.plan, cell.sizes, d, c.options);
    expect(got.strategy).toBe(c.strategy);
    if (c.strategy === 'reduce-then-scan') expect(got.levels.length).toBeGreaterThan(1);
    expectClose(got, reference(cell, d), tolerance(c.T), c.name);
  });
});
