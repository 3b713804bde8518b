// The generated scan host module of the 'matrix' layout (backends/host/scan-host.ts) runs as a
// user's program runs it (test/host/dawn-child.mjs: npm `webgpu`, a device, import, run<Name>) and
// matches the float64 reference: minmax at N = 16 (bit-exact, elements in workgroup memory, several
// blocks) and at N = 64 (elements in storage, one block), ragged lengths and given initial states.
import { beforeAll, describe, expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { verifyRun } from '../../src/driver/verify.js';
import { compileScan } from '../../backends/wgsl-scan/index.js';
import { scanHostModule } from '../../backends/host/scan-host.js';
import { load } from '../host/cells.js';
import { runHostModules, type HostCall, type HostResult, type HostRun } from '../host/dawn.js';

const minmax = load('examples/minmax.rnn');
const cases = [
  { N: 16, batch: 3, T: 130, place: 'workgroup' },
  { N: 64, batch: 2, T: 9, place: 'storage' },
].map((c) => {
  const sizes = bindDims(minmax.module, { N: c.N });
  const kernels = compileScan(minmax.module, analyse(minmax.module).analysis.plan!, sizes);
  const data = randomRunData(minmax.module, { batch: c.batch, T: c.T, sizes }, c.N, { initial: true });
  const lengths = randomLengths(c.batch, c.T, c.N);
  const run: HostRun = { batch: c.batch, T: c.T, inputs: data.inputs as Record<string, Float32Array>, params: {}, initialState: data.initial as Record<string, Float32Array>, lengths };
  return { ...c, kernels, run, reference: interpret(minmax.module, { batch: c.batch, T: c.T, sizes, lengths }, data) };
});

let results: HostResult[] = [];
beforeAll(async () => {
  const calls: HostCall[] = [];
  for (const c of cases) calls.push({ code: await scanHostModule(minmax.module, c.kernels, minmax.path), entry: 'runMinmax', run: c.run });
  results = await runHostModules(calls);
}, 300_000);

describe('generated host module of the matrix layout on Dawn', () => {
  it.each(cases.map((c, k) => [c.N, c.place, k] as const))('minmax at N = %i (elements in %s): matches the reference bit for bit', (_N, place, k) => {
    expect(cases[k]!.kernels.matrix?.place).toBe(place);
    const v = verifyRun(results[k]!, cases[k]!.reference, 0);
    expect(v.tensors.map((t) => t.name).sort()).toEqual(['h', 'y']);
    expect(v.tensors.filter((t) => !t.ok).map((t) => `${t.kind} ${t.name}: error ${t.maxErr} at ${t.worst?.index}`)).toEqual([]);
  });
});
