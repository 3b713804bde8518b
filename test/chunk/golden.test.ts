// Snapshots of the generated chunk passes for every matrix-affine example, and the cells the chunk
// backend refuses, with the reason it gives.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { ChunkUnsupported, compileChunk, DEFAULT_CHUNK, passesOf } from '../../backends/wgsl-chunk/index.js';
import { useWgslValidator } from '../helpers/validate.js';

const expectValidWgsl = useWgslValidator();
const load = (path: string) => frontEnd(readFileSync(path, 'utf8')).module!;
const cells = ['examples/deltanet.rnn', 'examples/gated_deltanet.rnn', 'examples/deltaproduct2.rnn', 'examples/deltaproduct3.rnn', 'examples/rwkv7.rnn', 'examples/modcount.rnn', 'test/chunk/fixtures/dense.rnn'];

describe.each(cells)('%s', (path) => {
  const module = load(path);
  const k = compileChunk(module, bindDims(module));
  it.each(passesOf(k))('%s pass', async (pass) => {
    await expectValidWgsl({ [`${module.name}.${pass}.wgsl`]: k.passes[pass]!.code });
    await expect(k.passes[pass]!.code).toMatchFileSnapshot(`../golden/chunk/${module.name}.${pass}.wgsl`);
  });
});

describe('the WY form with a parallel steps pass (ChunkOptions.replay)', () => {
  const module = load('examples/rwkv7.rnn');
  const k = compileChunk(module, bindDims(module), { replay: 'parallel' });
  it.each(passesOf(k))('%s pass', async (pass) => {
    expect(passesOf(k)).toEqual(['aggregate', 'carry', 'steps']);
    await expectValidWgsl({ [`${module.name}.parallel.${pass}.wgsl`]: k.passes[pass]!.code });
    await expect(k.passes[pass]!.code).toMatchFileSnapshot(`../golden/chunk/${module.name}.parallel.${pass}.wgsl`);
  });
});

it('shares one transition across the rows: WY form for the low-rank cells, dense for the others', () => {
  const deltanet = compileChunk(load('examples/deltanet.rnn'), { K: 8, V: 8 });
  expect(deltanet.shape).toMatchObject({ K: 8, R: 8, rowDims: ['V'], position: 1, kind: 'lowrank', rank: 1, form: 'wy' });
  // A workgroup per block of rows of one sequence: 8 rows at V = 8, 32 (the most) at V = 128.
  expect(deltanet.geometry).toEqual({ C: DEFAULT_CHUNK, workgroupSize: 8 });
  // WY form: nothing per row in workgroup memory, so K = V = 128 keeps the chunk size.
  expect(compileChunk(load('examples/deltanet.rnn'), { K: 128, V: 128 }).geometry).toEqual({ C: DEFAULT_CHUNK, workgroupSize: 32 });
  expect(compileChunk(load('examples/deltanet.rnn'), { K: 8, V: 8 }, { chunk: 1000 }).geometry.C).toBe(128);
  // The factors the analysis exposes: rank parts (u, w) and offset parts (z over j, p over the rows).
  const dp3 = compileChunk(load('examples/deltaproduct3.rnn'), { K: 8, V: 8 }).shape.wy!;
  expect([dp3.plan.u.length, dp3.plan.w.length, dp3.plan.offset.z.length, dp3.plan.offset.p.length, dp3.dConst]).toEqual([3, 3, 3, 3, 1]);
  expect(compileChunk(load('examples/rwkv7.rnn'), { K: 8, V: 8 }).shape.wy!.dConst).toBeUndefined();
  // Dense form: C·K² + R·K floats must fit in 16 KiB of workgroup memory.
  const dense = load('test/chunk/fixtures/dense.rnn');
  expect(compileChunk(dense, { N: 4 }).shape).toMatchObject({ K: 4, R: 1, rowDims: [], kind: 'dense', form: 'dense' });
  expect(compileChunk(dense, { N: 32 }).geometry).toEqual({ C: 3, workgroupSize: 64 });
  expect(() => compileChunk(dense, { N: 64 })).toThrow('one 64×64 transition and 1×64 state do not fit in 4096 floats of workgroup memory (the WY form does not apply: the transition of `h` has no low-rank factors shared by every row)');
});

it('falls back to the dense form when an output reads other rows, and says why', () => {
  const text = readFileSync('examples/deltanet.rnn', 'utf8').replace('output o[i] = sum(j: S[i, j] * q[j])', 'output o[i] = sum(j: S[i, j] * q[j])\n  output col[j] = sum(i: S[i, j])');
  const module = frontEnd(text).module!;
  const k = compileChunk(module, { K: 4, V: 4 });
  expect(k.shape).toMatchObject({ form: 'dense', whyNotWy: 'output `col` reads rows of `S` other than its own' });
  expect(() => compileChunk(module, { K: 64, V: 64 })).toThrow(ChunkUnsupported);
});

it.each([
  ['examples/mamba_s6.rnn', 'is not a dense or low-rank (+, ×) transition'],
  ['examples/lstm.rnn', 'the chunked kernels handle one state; lstm has 2'],
  ['examples/gru.rnn', 'is not a dense or low-rank (+, ×) transition'],
  ['examples/minmax.rnn', 'is not a dense or low-rank (+, ×) transition'],
])('refuses %s', (path, reason) => {
  const module = load(path);
  expect(() => compileChunk(module, bindDims(module))).toThrow(ChunkUnsupported);
  expect(() => compileChunk(module, bindDims(module))).toThrow(reason);
});
