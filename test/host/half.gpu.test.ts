// Host modules of kernels with f16 storage (`--precision f16-storage`): what `rnnc compile` writes for
// a seq (GRU), a scan (LRU) and a chunk (DeltaNet) kernel packs inputs and params as f16 through
// rnnc/runtime and widens its f16 outputs. Run on Dawn as a user's program runs them, each matches
// the float64 reference on the same f16-rounded data (inputs and params rounded as the module rounds
// them), and its outputs are f16 values; given f16 bits (Uint16Array) instead of float32, the same
// module gives the same results.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { compileFiles, plan } from '../../src/driver/compile.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { verifyRun } from '../../src/driver/verify.js';
import { packHalf, roundToHalf } from '../../src/compiler/plan/half.js';
import { pascal } from '../../backends/host/host-parts.js';
import type { ModeRequest } from '../../src/compiler/plan/plan.js';
import { load, type Cell } from './cells.js';
import { runHostModules, type HostCall, type HostResult, type HostRun } from './dawn.js';

interface Case {
  cell: Cell;
  mode: ModeRequest;
  batch: number;
  T: number;
}
const cases: Case[] = [
  { cell: load('examples/gru.rnn'), mode: 'seq', batch: 3, T: 37 },
  { cell: load('examples/lru.rnn'), mode: 'scan', batch: 2, T: 300 },
  { cell: load('examples/deltanet.rnn'), mode: 'chunk', batch: 2, T: 77 },
];

const f16 = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, roundToHalf(Float32Array.from(v))]));
const bits = (r: Record<string, Float32Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, packHalf(v)]));

const prepared = cases.map((c, k) => {
  const shape = { batch: c.batch, T: c.T, sizes: c.cell.sizes };
  const data = randomRunData(c.cell.module, shape, 40 + k, { initial: true });
  const lengths = randomLengths(c.batch, c.T, 40 + k);
  // The data as the kernel holds it: inputs and params rounded to f16; states stay f32.
  const rounded = { inputs: f16(data.inputs), params: f16(data.params), initial: data.initial! };
  const run: HostRun = { batch: c.batch, T: c.T, inputs: data.inputs as Record<string, Float32Array>, params: data.params as Record<string, Float32Array>, initialState: data.initial as Record<string, Float32Array>, lengths };
  return { run, reference: interpret(c.cell.module, { ...shape, lengths }, rounded) };
});

let code: string[] = [];
let results: HostResult[] = [];
beforeAll(async () => {
  code = await Promise.all(
    cases.map(async (c) => {
      const { module, analysis } = frontEnd(readFileSync(c.cell.path, 'utf8'));
      const files = await compileFiles(plan(module!, analysis!, { mode: c.mode, precision: 'f16-storage' }));
      return files.find((f) => f.name.endsWith('.ts'))!.text;
    }),
  );
  const calls: HostCall[] = cases.map((c, k) => ({ code: code[k]!, entry: `run${pascal(c.cell.name)}`, run: prepared[k]!.run }));
  // The same calls with f16 bits for inputs and params.
  const asBits: HostCall[] = calls.map((call) => ({ ...call, run: { ...call.run, inputs: bits(call.run.inputs), params: bits(call.run.params) } as unknown as HostRun }));
  results = await runHostModules([...calls, ...asBits]);
}, 300_000);

describe('host modules with f16 storage on Dawn', () => {
  it.each(cases.map((c, k) => [`${c.cell.name} (${c.mode})`, k] as const))('%s: f16 buffers, = the reference on f16-rounded data, outputs f16-valued', (_, k) => {
    expect(code[k]).toContain("from 'rnnc/runtime'");
    expect(code[k]).toContain('halfBits(run.');
    const r = results[k]!;
    // f32 state and accumulation; the outputs are rounded to f16 once, when stored (2^-11 relative).
    const v = verifyRun(r, prepared[k]!.reference, 2e-3);
    expect(v.tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: error ${t.maxErr}`)).toEqual([]);
    for (const y of Object.values(r.outputs)) expect(Array.from(roundToHalf(y))).toEqual(Array.from(y));
  });

  it('f16 bits given as Uint16Array give the same results as float32 rounded by the module', () => {
    for (let k = 0; k < cases.length; k++) {
      const { made: _, ...fromFloats } = results[k]!;
      const { made: __, ...fromBits } = results[cases.length + k]!;
      expect(fromBits).toEqual(fromFloats);
    }
  });
});
