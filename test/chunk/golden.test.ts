// Snapshots of the generated chunk passes for every matrix-affine example, and the cells the chunk
// backend refuses, with the reason it gives.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { ChunkUnsupported, chunkPasses, compileChunk, DEFAULT_CHUNK } from '../../backends/wgsl-chunk/index.js';
import { useWgslValidator } from '../helpers/validate.js';

const expectValidWgsl = useWgslValidator();
const load = (path: string) => frontEnd(readFileSync(path, 'utf8')).module!;
const cells = ['examples/deltanet.rnn', 'examples/deltaproduct2.rnn', 'examples/deltaproduct3.rnn', 'examples/rwkv7.rnn', 'examples/modcount.rnn', 'test/chunk/fixtures/dense.rnn'];

describe.each(cells)('%s', (path) => {
  const module = load(path);
  const k = compileChunk(module, bindDims(module));
  it.each(chunkPasses)('%s pass', async (pass) => {
    await expectValidWgsl({ [`${module.name}.${pass}.wgsl`]: k.passes[pass].code });
    await expect(k.passes[pass].code).toMatchFileSnapshot(`../golden/chunk/${module.name}.${pass}.wgsl`);
  });
});

it('shares one transition across the rows and picks the default chunk size', () => {
  const deltanet = compileChunk(load('examples/deltanet.rnn'), { K: 8, V: 8 });
  expect(deltanet.shape).toMatchObject({ K: 8, R: 8, rowDims: ['V'], position: 1, kind: 'lowrank', rank: 1 });
  expect(deltanet.geometry).toEqual({ C: DEFAULT_CHUNK, workgroupSize: 64 });
  // K = 32: C·K² + R·K floats must fit in 16 KiB of workgroup memory.
  expect(compileChunk(load('examples/deltanet.rnn'), { K: 32, V: 8 }).geometry).toEqual({ C: 3, workgroupSize: 64 });
  expect(compileChunk(load('test/chunk/fixtures/dense.rnn'), { N: 4 }).shape).toMatchObject({ K: 4, R: 1, rowDims: [], kind: 'dense' });
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
