// A bidirectional cell run as its two parts (src/compiler/ir/split-directions.ts, src/driver/directions.ts):
// in chunk mode, a DeltaNet both ways (each part its own chunked kernels, results joined) = the
// reference over odd T, variable lengths and given initial states; in pieces of time (--segment),
// bimamba in seq, each part's pieces in its own direction (the reversed one's last first).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import type { Analysis } from '../../src/compiler/analyse/types.js';
import { interpret, type RunResult as RefResult } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { emit, plan } from '../../src/driver/compile.js';
import { run as runApi } from '../../src/driver/api.js';
import { verifyRun } from '../../src/driver/verify.js';
import type { RunArrays, RunResult } from '../../backends/backend.js';
import type { Mode } from '../../src/compiler/plan/plan.js';
import { BIDELTA } from './bidirectional-cells.js';

type Cell = { module: Module; analysis: Analysis };
const load = (text: string): Cell => {
  const r = frontEnd(text);
  if (!r.module || !r.analysis) throw new Error(r.diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  return r as Cell;
};

const gpu = fileGpu();

/** Seeded data, and the reference's results on it. */
function caseOf(cell: Cell, batch: number, T: number, variable: boolean, initial: boolean): { arrays: RunArrays; ref: RefResult } {
  const sizes = bindDims(cell.module);
  const lengths = variable ? randomLengths(batch, T, T) : undefined;
  const d = randomRunData(cell.module, { batch, T, sizes }, T + 1, { initial });
  const arrays: RunArrays = {
    batch,
    T,
    inputs: d.inputs as Record<string, Float32Array>,
    params: d.params as Record<string, Float32Array>,
    ...(d.initial ? { initialState: d.initial as Record<string, Float32Array> } : {}),
    ...(lengths ? { lengths } : {}),
  };
  return { arrays, ref: interpret(cell.module, { batch, T, sizes, ...(lengths ? { lengths } : {}) }, d) };
}

function expectMatches(got: RunResult, ref: RefResult): void {
  const failing = verifyRun(got, ref, 1e-5)
    .tensors.filter((t) => !t.ok)
    .map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index} (gpu ${t.worst?.gpu}, ref ${t.worst?.ref})`);
  expect(failing).toEqual([]);
}

describe('bidelta in chunk mode: two parts', () => {
  const cell = load(BIDELTA);
  const sizes = bindDims(cell.module);

  it('is planned as two parts, each chunk; one set of kernels cannot hold both', () => {
    const c = plan(cell.module, cell.analysis, { mode: 'chunk', dims: sizes });
    expect(c.parts?.map((p) => [p.module.name, p.module.reversed === true, p.plan.mode])).toEqual([
      ['bidelta_forward', false, 'chunk'],
      ['bidelta_reversed', true, 'chunk'],
    ]);
    expect(c.plan.why).toMatch(/^two parts, one direction of time each \(one kernel for both: the chunked kernels run one direction of time/);
    expect(() => emit(c)).toThrow(/runs as two parts in --mode chunk/);
    // seq and scan keep the fused kernel.
    expect(plan(cell.module, cell.analysis, { mode: 'seq', dims: sizes }).parts).toBeUndefined();
  });

  it.each([
    [3, 37, true, true],
    [2, 65, true, false],
  ] as const)('= reference (batch %i, T %i, variable %s, initial %s), chunks of 8', async (batch, T, variable, initial) => {
    const { arrays, ref } = caseOf(cell, batch, T, variable, initial);
    expectMatches(await runApi(plan(cell.module, cell.analysis, { mode: 'chunk', chunk: 8, dims: sizes }), arrays, { device: gpu }), ref);
  });
});

// seq here; scan in pieces is test/axes/cli.gpu.test.ts's (each compiles cold in CI: one mode per file).
describe('bimamba in pieces of 16 steps (--segment)', () => {
  const cell = load(readFileSync('examples/bimamba.rnn', 'utf8'));
  it.each(['seq'] as Mode[])('%s = reference, T = 37, variable lengths, given initial states', async (mode) => {
    const { arrays, ref } = caseOf(cell, 3, 37, true, true);
    expectMatches(await runApi(plan(cell.module, cell.analysis, { mode, dims: bindDims(cell.module) }), arrays, { device: gpu, segment: 16 }), ref);
  });
});
