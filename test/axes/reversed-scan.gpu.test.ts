// The scan kernels of a reversed cell under every schedule and split (a reversed step's position
// enters through stepBase, backends/wgsl-scan/kernel.ts; blocks, carries and aggregates stay in
// logical time): reduce-then-scan with tiny tiles (several levels of aggregates), the one-pass carry,
// the single pass with look-back, each split, the matrix layout, against the reference interpreter.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { compileScan, usesMatrix, type ScanCompileOptions, type ScheduleOptions } from '../../backends/wgsl-scan/index.js';
import { scanLayout } from '../../backends/wgsl-scan/layout.js';
import { expectClose, referenceRun, runData, runScan } from '../scan/helpers.js';
import { reversedText } from './helpers.js';

const compiled = (text: string) => {
  const r = frontEnd(text);
  return { module: r.module!, plan: r.analysis!.plan!, sizes: bindDims(r.module!) };
};
const cell = (name: string) => compiled(reversedText(readFileSync(`examples/${name}.rnn`, 'utf8')));
/** A diagonal (+, ×) recurrence, lanes of one float per step: what the stripe split and the single pass take. */
const affine = (dims: string) =>
  compiled(`rnn affine reversed {\n  dims D = ${dims}\n  input a[D], b[D]\n  state h[D] = 0\n  h[d] <- a[d] * h[d] + b[d]\n  output y[d] = h[d]\n}\n`);
const scalar = compiled('rnn affine reversed {\n  input a, b\n  state h = 0\n  h <- a * h + b\n  output y = h\n}\n');

let gpu: GpuSession;
beforeAll(async () => {
  gpu = await GpuSession.open();
});
afterAll(async () => {
  await gpu?.close();
});

const splits = [
  { name: 'tile split, subgroups', subgroups: true, tile: { split: 'tile', runs: 2, runLength: 2 } },
  { name: 'tile split, workgroup memory', subgroups: false, tile: { split: 'tile', runs: 2, runLength: 2 } },
  { name: 'thread split', subgroups: false, tile: { split: 'thread', runLength: 2, width: 4 } },
  { name: 'stripe split', subgroups: true, tile: { split: 'stripe', width: 4 } },
] as const;

describe.each(splits)('reversed diagonal cell, $name', ({ subgroups, tile }) => {
  const { module, plan, sizes } = tile.split === 'stripe' ? affine('4') : cell('mamba_s6');
  it.each([
    ['reduce-then-scan', 37],
    ['reduce-then-scan', 65],
    ['carry', 65],
  ] as const)('%s at T = %i, variable lengths and initial states', async (strategy, T) => {
    const d = runData(module, 3, T, T, true);
    const options: ScanCompileOptions & ScheduleOptions = { tile, subgroups, strategy, targetBlocks: 1000, topMax: 4 };
    const got = await runScan(gpu, module, plan, sizes, d, options);
    expect(got.strategy).toBe(strategy);
    expectClose(got, referenceRun(module, d), 1e-5, `T=${T}`);
  });
});

describe('reversed cells, other scan forms', () => {
  it.each([1, 37, 257])('single pass (look-back) for a reversed diagonal cell at T = %i', async (T) => {
    const { module, plan, sizes } = affine('4');
    const d = runData(module, 3, T, T, true);
    const got = await runScan(gpu, module, plan, sizes, d, { tile: { split: 'stripe', width: 4 }, subgroups: true, strategy: 'single-pass', targetBlocks: 16 });
    expect(got.strategy).toBe('single-pass');
    expectClose(got, referenceRun(module, d), 1e-5, `T=${T}`);
  });

  it('asks for the chained pass and does not get it: its vec4 loads assume forward positions', () => {
    const { module, plan, sizes } = scalar;
    const k = compileScan(module, plan, sizes, { tile: { split: 'stripe' }, chained: true });
    expect(Object.keys(k.kernels)).not.toContain('scan_chained');
    // The same cell forward gets it: the check above is about the direction.
    const forward = compiled('rnn affine {\n  input a, b\n  state h = 0\n  h <- a * h + b\n  output y = h\n}\n');
    expect(Object.keys(compileScan(forward.module, forward.plan, forward.sizes, { tile: { split: 'stripe' }, chained: true }).kernels)).toContain('scan_chained');
  });

  it.each([1, 37, 65])('the matrix layout (reversed deltanet) at T = %i', async (T) => {
    const { module, plan, sizes } = cell('deltanet');
    expect(usesMatrix(scanLayout(module, plan, sizes))).toBe(true);
    const d = runData(module, 2, T, T, true);
    expectClose(await runScan(gpu, module, plan, sizes, d), referenceRun(module, d), 1e-4, `T=${T}`);
  });

  it.each([37, 65])('a monoid (reversed aaren), reduce-then-scan with tiny tiles at T = %i', async (T) => {
    const { module, plan, sizes } = cell('aaren');
    const d = runData(module, 3, T, T, true);
    expectClose(await runScan(gpu, module, plan, sizes, d, { strategy: 'reduce-then-scan', targetBlocks: 1000, topMax: 4, tile: { split: 'tile', runs: 2, runLength: 2 } }), referenceRun(module, d), 1e-4, `T=${T}`);
  });
});
