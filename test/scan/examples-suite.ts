// The scan examples suite, split over two test files (examples-*.gpu.test.ts) so that vitest's two
// workers share its cold compiles.
// Every associative example runs as a scan on Dawn and matches the reference interpreter and the
// sequential kernel: lengths 1, 2, 3, a prime, a power of two, a power of two plus one, and one
// needing three levels of aggregates (4-step tiles); both splits (threads sharing tiles, a thread per
// block) and both ways of combining runs; variable lengths and given initial states.
import { readdirSync, readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { scanSupport, usesMatrix } from '../../backends/wgsl-scan/index.js';
import { scanLayout } from '../../backends/wgsl-scan/layout.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import type { ScanRunData, ScanRunResult } from '../../backends/wgsl-scan/index.js';
import { expectClose, runScan, runSeq } from './helpers.js';
import { FULL_MATRIX } from '../helpers/matrix.js';

const allExamples = readdirSync('examples')
  .filter((f) => f.endsWith('.rnn'))
  .sort()
  .map((file) => {
    const module = frontEnd(readFileSync(`examples/${file}`, 'utf8')).module!;
    return { file, module, plan: analyse(module).analysis.plan };
  })
  // Elements a workgroup holds (the 'matrix' layout) have their own tests: matrix.gpu.test.ts. A grid
  // cell (issue 18) scans along an axis, not over time: test/axes/grid-examples.gpu.test.ts runs those.
  .filter((e) => !e.module.grid)
  .filter((e) => e.plan !== undefined && scanSupport(e.module, e.plan, bindDims(e.module)).ok && !usesMatrix(scanLayout(e.module, e.plan, bindDims(e.module))));

/** Reference results as float32 arrays with the scan's names. */
function reference(e: (typeof allExamples)[number], d: ScanRunData): ScanRunResult {
  const r = interpret(e.module, { batch: d.batch, T: d.T, sizes: bindDims(e.module), ...(d.lengths ? { lengths: d.lengths } : {}) }, { inputs: d.inputs, params: d.params, ...(d.initialState ? { initial: d.initialState } : {}) });
  const f32 = (x: Record<string, Float64Array>) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, Float32Array.from(v)]));
  return { outputs: f32(r.outputs), finalState: f32(r.final) };
}

function runData(e: (typeof allExamples)[number], batch: number, T: number, seed: number, variable: boolean): ScanRunData {
  const sizes = bindDims(e.module);
  const lengths = variable ? randomLengths(batch, T, seed) : undefined;
  const d = randomRunData(e.module, { batch, T, sizes, ...(lengths ? { lengths } : {}) }, seed, { initial: variable });
  return { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, ...(d.initial ? { initialState: d.initial as Record<string, Float32Array> } : {}), ...(lengths ? { lengths } : {}) };
}

// (max, min) and (max, +) results are exact selections; sums accumulate f32 rounding over T steps.
const tolerance = (T: number) => 2e-5 * Math.max(1, Math.sqrt(T));

/**
 * The tile split (threads sharing a tile through subgroups or workgroup memory) is never what `auto`
 * picks for these cells, and a cold lavapipe compiles its kernels in 5-40 s each (docs/compile-bench.md),
 * so CI runs it for a declared monoid (aaren) and the default split for all; diagonal (+, ×) cells take
 * the tile split in scan/property.gpu (random cells) and host/run.gpu. RNNC_TEST_MATRIX=full (npm run
 * test:scan-full) runs the tile split for every cell.
 */
const TILE_SPLIT_CELLS: 'all' | string[] = FULL_MATRIX ? 'all' : ['aaren.rnn'];

/**
 * Which part of the suite a cell belongs to. GLA's and Mamba's whole-element kernels are the slowest to
 * compile (about 25 s of CPU each, cold), so they go to different parts.
 */
const PART_OF = (file: string): 'sum-prod' | 'other' => (['gla.rnn', 'lru.rnn', 'mingru.rnn'].includes(file) ? 'sum-prod' : 'other');

export function scanExamplesSuite(part: 'sum-prod' | 'other'): void {
  const examples = allExamples.filter((e) => PART_OF(e.file) === part);
  let gpu: GpuSession;
  beforeAll(async () => {
    gpu = await GpuSession.open();
  });
  afterAll(async () => {
    await gpu?.close();
  });

  it('finds the associative examples, each in one part of the suite', () => {
    expect(allExamples.map((e) => e.file)).toEqual(expect.arrayContaining(['aaren.rnn', 'gla.rnn', 'lru.rnn', 'mamba_s6.rnn', 'maxplus.rnn', 'mingru.rnn', 'minmax.rnn', 'parity.rnn']));
    expect(examples.length).toBeGreaterThan(0);
    expect(allExamples.filter((e) => PART_OF(e.file) === part).map((e) => e.file)).toEqual(examples.map((e) => e.file));
  });

  describe.each(examples)('$file as a scan', (e) => {
    const sizes = bindDims(e.module);
    const tiny = { tile: { split: 'tile' as const, runs: 2, runLength: 2 }, targetBlocks: 1000, topMax: 4, strategy: 'reduce-then-scan' as const };
    // The default layout and split ('thread', with the lanes gathered into one element where outputs
    // reduce over lanes), with 2-step blocks, 4 to a workgroup.
    const tileSplit = [
      { name: 'tile split, subgroups', options: { ...tiny, subgroups: true } },
      { name: 'tile split, workgroup memory', options: { ...tiny, subgroups: false } },
    ];
    const variants = [...(TILE_SPLIT_CELLS === 'all' || TILE_SPLIT_CELLS.includes(e.file) ? tileSplit : []), { name: 'default split', options: { ...tiny, tile: { runLength: 2, width: 4 } } }];

    it.each(variants)('matches the reference and the sequential kernel at T = 1, 2, 3, 31, 64, 65 ($name)', async ({ options }) => {
      for (const T of [1, 2, 3, 31, 64, 65]) {
        const d = runData(e, 2, T, T, true);
        const got = await runScan(gpu, e.module, e.plan!, sizes, d, options);
        expectClose(got, reference(e, d), tolerance(T), `${e.file} T=${T} vs reference`);
        expectClose(got, await runSeq(gpu, e.module, sizes, d), tolerance(T), `${e.file} T=${T} vs seq`);
      }
      // The first test of a cell compiles its kernels: cold, the slowest took 22 s on 2 loaded cores
      // (GLA's took over 120 s before the unroll budget); a regression in compile time fails here.
    }, 60_000);

    it.each(variants)('matches with three levels of aggregates (T = 300, $name)', async ({ options }) => {
      const d = runData(e, 2, 300, 5, false);
      const got = await runScan(gpu, e.module, e.plan!, sizes, d, options);
      expect(got.levels.length).toBeGreaterThanOrEqual(3);
      expectClose(got, reference(e, d), tolerance(300), `${e.file} three levels`);
    });

    it('matches with the default tiles and the carry schedule over many sequences', async () => {
      const d = runData(e, 24, 200, 9, true);
      const got = await runScan(gpu, e.module, e.plan!, sizes, d, { strategy: 'carry' });
      expectClose(got, reference(e, d), tolerance(200), `${e.file} carry`);
    });
  });
}
