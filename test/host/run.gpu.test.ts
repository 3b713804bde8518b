// Generated host modules run as a user's program runs them (dawn-child.mjs: npm `webgpu`, a
// device, import, run<Name>) and match the float64 reference interpreter: scan modules over both
// strategies (reduce-then-scan for few long sequences, one carrying pass for many) and the
// 'thread' and 'stripe' splits, a chunk module over lengths that are not whole chunks, and a
// committed sequential module (test/golden/seq). Variable lengths and given initial states
// throughout; params and a -inf initial value where the cells have them.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { verifyRun } from '../../src/driver/verify.js';
import { compileScan, scheduleScan, type ScanCompileOptions, type ScanKernels } from '../../backends/wgsl-scan/index.js';
import { compileChunk } from '../../backends/wgsl-chunk/index.js';
import { scanHostModule } from '../../backends/host/scan-host.js';
import { chunkHostModule } from '../../backends/host/chunk-host.js';
import { pascal } from '../../backends/host/host-parts.js';
import { load, type Cell } from './cells.js';
import { runHostModules, type HostCall, type HostResult, type HostRun } from './dawn.js';

interface Case {
  label: string;
  cell: Cell;
  module: () => Promise<string>;
  batch: number;
  T: number;
  /** Largest allowed |gpu - ref| / (1 + |ref|). */
  tolerance: number;
  /** Scan cases: the kernels, and the strategy this size must take (checked against scheduleScan, so the case covers it). */
  kernels?: ScanKernels;
  strategy?: string;
}

const scanModule = (cell: Cell, options: ScanCompileOptions = {}) => {
  const kernels = compileScan(cell.module, analyse(cell.module).analysis.plan!, cell.sizes, options);
  return { kernels, text: () => scanHostModule(cell.module, kernels, cell.path) };
};

// Cells with small scan elements: Tint and lavapipe take minutes over the kernels of 64-float ones (gla, mamba_s6).
const [lru, mingru, affine, aaren, deltanet, lstm] = ['examples/lru.rnn', 'examples/mingru.rnn', 'bench/cells/affine.rnn', 'examples/aaren.rnn', 'examples/deltanet.rnn', 'examples/lstm.rnn'].map(load) as [Cell, Cell, Cell, Cell, Cell, Cell];
// The cooperative 'tile' split (runs combined through workgroup memory) is no example's default: asked for here.
const scan = {
  lru: scanModule(lru),
  mingru: scanModule(mingru),
  affine: scanModule(affine),
  affineTile: scanModule(affine, { subgroups: false, tile: { split: 'tile' } }),
  aaren: scanModule(aaren),
};
const scanCase = (label: string, cell: Cell, m: ReturnType<typeof scanModule>, batch: number, T: number, strategy: string): Case => ({
  label,
  cell,
  kernels: m.kernels,
  module: m.text,
  batch,
  T,
  tolerance: 1e-4,
  strategy,
});

const cases: Case[] = [
  scanCase("lru (params), 'thread' split, reduce-then-scan", lru, scan.lru, 2, 300, 'reduce-then-scan'),
  scanCase("lru, 'thread' split, carry", lru, scan.lru, 17, 40, 'carry'),
  scanCase("mingru (params), 'stripe' split (subgroups), carry", mingru, scan.mingru, 2, 100, 'carry'),
  scanCase("affine, 'stripe' split (subgroups), reduce-then-scan", affine, scan.affine, 1, 1000, 'reduce-then-scan'),
  scanCase("affine, 'tile' split (workgroup memory), reduce-then-scan", affine, scan.affineTile, 2, 700, 'reduce-then-scan'),
  scanCase("aaren (-inf initial value), 'stripe' split, carry", aaren, scan.aaren, 3, 61, 'carry'),
  { label: 'deltanet, chunks of 32 over T = 77', cell: deltanet, module: () => chunkHostModule(deltanet.module, compileChunk(deltanet.module, deltanet.sizes), deltanet.path), batch: 3, T: 77, tolerance: 1e-5 },
  { label: 'deltanet, chunks of 4 over T = 2', cell: deltanet, module: () => chunkHostModule(deltanet.module, compileChunk(deltanet.module, deltanet.sizes, { chunk: 4 }), deltanet.path), batch: 5, T: 2, tolerance: 1e-5 },
  { label: 'lstm (params, two states), the committed seq module', cell: lstm, module: async () => readFileSync('test/golden/seq/lstm/lstm.ts', 'utf8'), batch: 4, T: 33, tolerance: 1e-4 },
];

/** Random data of a case, with variable lengths and (every other case) given initial states. */
function dataOf(c: Case, k: number) {
  const shape = { batch: c.batch, T: c.T, sizes: c.cell.sizes };
  const data = randomRunData(c.cell.module, shape, 100 + k, { initial: k % 2 === 0 });
  const lengths = randomLengths(c.batch, c.T, 100 + k);
  const run: HostRun = {
    batch: c.batch,
    T: c.T,
    inputs: data.inputs as Record<string, Float32Array>,
    params: data.params as Record<string, Float32Array>,
    ...(data.initial ? { initialState: data.initial as Record<string, Float32Array> } : {}),
    lengths,
  };
  return { run, reference: interpret(c.cell.module, { ...shape, lengths }, data) };
}

let results: HostResult[] = [];
const prepared = cases.map(dataOf);
beforeAll(async () => {
  const calls: HostCall[] = [];
  for (const [k, c] of cases.entries()) calls.push({ code: await c.module(), entry: `run${pascal(c.cell.name)}`, run: prepared[k]!.run });
  // Every call again, on the same device: the runtime's pipelines and pooled buffers serve them.
  results = await runHostModules([...calls, ...calls]);
}, 300_000);

describe('generated host modules on Dawn', () => {
  it('a second round of the same calls compiles no pipeline and allocates no buffer, and gives the same results', () => {
    const n = cases.length;
    expect(results).toHaveLength(2 * n);
    expect(results[n - 1]!.made.pipelines).toBeGreaterThan(0);
    expect(results[2 * n - 1]!.made).toEqual(results[n - 1]!.made);
    for (let k = 0; k < n; k++) {
      const { made: _, ...first } = results[k]!;
      const { made: __, ...again } = results[n + k]!;
      expect(again).toEqual(first);
    }
  });

  it.each(cases.map((c, k) => [c.label, k] as const))('%s: matches the reference', (_, k) => {
    const c = cases[k]!;
    if (c.kernels) {
      const minLength = Math.min(...prepared[k]!.run.lengths!);
      expect(scheduleScan(c.kernels.layout, c.kernels.tile, c.batch, c.T, {}, minLength).strategy).toBe(c.strategy);
    }
    const v = verifyRun(results[k]!, prepared[k]!.reference, c.tolerance);
    expect(v.tensors.map((t) => t.name).sort()).toEqual([...Object.keys(prepared[k]!.reference.outputs), ...Object.keys(prepared[k]!.reference.final)].sort());
    expect(v.tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index}`)).toEqual([]);
  });
});
