// The generated host modules compute their passes at run time without rnnc: schedule<Name> is
// generated as code. Here it is transpiled, imported and held to the backends' own schedules for
// many (batch, T) pairs: scheduleScan's passes, uniforms, grids and scratch size for every split,
// and chunkDispatches' chunk count and grids; grids past 65,535 workgroups split over y.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileScan, scheduleScan, type ScanCompileOptions } from '../../backends/wgsl-scan/index.js';
import { chunkDispatches, chunksOf, compileChunk } from '../../backends/wgsl-chunk/index.js';
import { scanHostModule } from '../../backends/host/scan-host.js';
import { chunkHostModule } from '../../backends/host/chunk-host.js';
import { pascal } from '../../backends/host/host-parts.js';
import { moduleDir, transpile } from './dawn.js';
import { chunkCells, scanCells } from './cells.js';

const dir = moduleDir('rnnc-schedule-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let count = 0;
/** The generated module, imported as JavaScript. */
async function importModule(code: string): Promise<Record<string, unknown>> {
  const path = join(dir, `m${count++}.mjs`);
  writeFileSync(path, transpile(code));
  return import(pathToFileURL(path).href);
}

const BATCHES = [1, 2, 3, 7, 8, 9, 16, 33, 100, 1000, 70_000, 600_000];
const LENGTHS = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 63, 64, 65, 100, 127, 128, 129, 255, 256, 257, 1000, 1024, 4095, 4096, 5000, 65_536, 100_003, 2 ** 20, 3_000_001, 2 ** 24];
/** Pairs a run can have: at most 2^31 steps in all. */
const pairs = BATCHES.flatMap((batch) => LENGTHS.filter((T) => batch * T <= 2 ** 31).map((T) => [batch, T] as const));

type GeneratedPass = { kernel: string; uniforms: Uint32Array; dispatch: [number, number] };
type GeneratedScanSchedule = { strategy: string; passes: GeneratedPass[]; aggElements: number };

// Every split: the default ('stripe' for lanes, 'thread' for whole elements), 'thread' without
// subgroups, and the cooperative 'tile' (runs combined through workgroup memory); each distinct
// tile shape of a cell once.
const variants: [string, ScanCompileOptions][] = [
  ['default', {}],
  ['no subgroups', { subgroups: false }],
  ['tile split', { subgroups: false, tile: { split: 'tile' } }],
];
const scanCases = scanCells().flatMap((cell) => {
  const shapes = new Set<string>();
  return variants.flatMap(([variant, options]) => {
    const kernels = compileScan(cell.module, cell.plan, cell.sizes, options);
    const shape = JSON.stringify(kernels.tile);
    if (shapes.has(shape)) return [];
    shapes.add(shape);
    return [[`${cell.name}, ${variant} (the '${kernels.tile.split}' split)`, cell, kernels] as const];
  });
});

/** The kinds of schedule the comparisons met. */
const seen = new Set<string>();

const chunkCases = chunkCells().flatMap((cell) =>
  ([['the default chunk size', {}], ['chunks of 4', { chunk: 4 }], ['chunks of 7', { chunk: 7 }]] as const).map(
    ([label, options]) => [`${cell.name}, ${label}`, cell, compileChunk(cell.module, cell.sizes, options)] as const,
  ),
);

// Generating (prettier over the embedded WGSL) and importing every module takes most of the time: once, up front.
const modules = new Map<string, Record<string, unknown>>();
beforeAll(async () => {
  for (const [label, cell, kernels] of scanCases) modules.set(label, await importModule(await scanHostModule(cell.module, kernels, cell.path)));
  for (const [label, cell, kernels] of chunkCases) modules.set(label, await importModule(await chunkHostModule(cell.module, kernels, cell.path)));
}, 300_000);

describe('generated scan schedules', () => {
  it.each(scanCases)('%s: agrees with scheduleScan', (label, cell, kernels) => {
    const mod = modules.get(label)!;
    const schedule = mod[`schedule${pascal(cell.name)}`] as (batch: number, T: number, minLength?: number) => GeneratedScanSchedule;
    let compared = 0;
    for (const [batch, T] of pairs)
      for (const minLength of new Set([T, 0, 1, Math.ceil(T / 3)])) {
        const ref = scheduleScan(kernels.layout, kernels.tile, batch, T, {}, minLength);
        const gen = minLength === T ? schedule(batch, T) : schedule(batch, T, minLength);
        // Uniforms compared padded with zeros to the generated block (a multiple of 16 bytes).
        const words = gen.passes[0]!.uniforms.length;
        const want = { strategy: ref.strategy, aggElements: ref.aggElements, passes: ref.passes.map((p) => ({ kernel: p.kernel, uniforms: [...p.uniforms, ...Array(words - p.uniforms.length).fill(0)], dispatch: p.dispatch })) };
        const got = { strategy: gen.strategy, aggElements: gen.aggElements, passes: gen.passes.map((p) => ({ kernel: p.kernel, uniforms: Array.from(p.uniforms), dispatch: p.dispatch })) };
        if (JSON.stringify(got) !== JSON.stringify(want)) expect(got, `batch ${batch}, T ${T}, shortest ${minLength}`).toEqual(want);
        expect(words % 4).toBe(0);
        seen.add(got.strategy === 'carry' ? 'carry' : got.passes.length > 3 ? 'reduce-then-scan, several levels' : 'reduce-then-scan');
        compared++;
      }
    expect(compared).toBeGreaterThan(pairs.length);
  });
});

it('the comparisons above cover every shape of schedule', () => {
  // Lanes that fill 16 invocations always carry; the default targets give one level of aggregates
  // with the 'thread' and 'stripe' splits, and 'tile' splits of short trips give more.
  expect([...seen].sort()).toEqual(['carry', 'reduce-then-scan', 'reduce-then-scan, several levels']);
});

describe('generated chunk schedules', () => {
  it.each(chunkCases)('%s: agrees with chunkDispatches', (label, cell, kernels) => {
    const mod = modules.get(label)!;
    const schedule = mod[`schedule${pascal(cell.name)}`] as (batch: number, T: number) => { chunks: number; dispatch: Record<string, [number, number]> };
    let split = false;
    for (const [batch, T] of pairs) {
      const got = schedule(batch, T);
      const what = `batch ${batch}, T ${T}`;
      expect(got.chunks, what).toBe(chunksOf(kernels, T));
      const want = chunkDispatches(kernels, batch, T);
      expect(Object.keys(got.dispatch).sort(), what).toEqual(Object.keys(want).sort());
      for (const [pass, grid] of Object.entries(want)) expect([...got.dispatch[pass]!, 1], `${what}, ${pass}`).toEqual(grid);
      // The per-chunk pass (aggregate; steps in the dense form) is the one whose grid grows with T.
      split ||= Object.values(got.dispatch).some((grid) => grid[1] > 1);
    }
    expect(split, 'some grid splits over y').toBe(true);
  });
});

it('a grid past 65,535 × 65,535 workgroups is an error, not a wrong dispatch', () => {
  const schedule = modules.get('deltanet, chunks of 4')!.scheduleDeltanet as (batch: number, T: number) => unknown;
  expect(() => schedule(65536, 4 * 65536)).toThrow('4294967296 workgroups exceed 65535 x 65535');
});
