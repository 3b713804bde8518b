// What a generated host module refuses before it touches the GPU: a batch or length that is not a
// positive integer, arrays of the wrong length (named), negative sequence lengths, and a device
// that cannot run the kernels (no subgroups, or subgroups smaller than a stripe's team). The module
// is imported as JavaScript and handed a stand-in device that has only what these checks read.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { compileScan } from '../../backends/wgsl-scan/index.js';
import { compileChunk } from '../../backends/wgsl-chunk/index.js';
import { scanHostModule } from '../../backends/host/scan-host.js';
import { chunkHostModule } from '../../backends/host/chunk-host.js';
import { moduleDir, transpile } from './dawn.js';
import { load } from './cells.js';

type Run = (device: unknown, run: Record<string, unknown>) => Promise<unknown>;
const dir = moduleDir('rnnc-checks-');
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const runs: Record<string, Run> = {};

beforeAll(async () => {
  // affine: the 'stripe' split (subgroups); deltanet: the chunk kernels.
  const affine = load('bench/cells/affine.rnn');
  const deltanet = load('examples/deltanet.rnn');
  const texts = {
    affine: await scanHostModule(affine.module, compileScan(affine.module, analyse(affine.module).analysis.plan!, affine.sizes), affine.path),
    deltanet: await chunkHostModule(deltanet.module, compileChunk(deltanet.module, deltanet.sizes), deltanet.path),
  };
  for (const [name, text] of Object.entries(texts)) {
    writeFileSync(join(dir, `${name}.mjs`), transpile(text));
    const mod = await import(pathToFileURL(join(dir, `${name}.mjs`)).href);
    runs[name] = mod[`run${name[0]!.toUpperCase()}${name.slice(1)}`] as Run;
  }
}, 120_000);

/** A device with the given features and smallest subgroup size; anything else it is asked for fails the test. */
const device = (features: string[], subgroupMinSize?: number) =>
  new Proxy(
    { features: new Set(features), adapterInfo: subgroupMinSize === undefined ? {} : { subgroupMinSize } },
    { get: (target, key) => (key in target ? target[key as keyof typeof target] : expect.fail(`the module used device.${String(key)} before its checks were done`)) },
  );
const capable = device(['subgroups'], 8);

const affineRun = (batch: number, T: number) => ({ batch, T, inputs: { a: new Float32Array(batch * T), b: new Float32Array(batch * T) }, params: {} });

describe('a generated scan module (affine) refuses', () => {
  it.each([
    [0, 4, 'affine: batch must be a positive integer, not 0'],
    [2, 0, 'affine: T must be a positive integer, not 0'],
    [1.5, 4, 'affine: batch must be a positive integer, not 1.5'],
  ])('batch %s, T %s', async (batch, T, message) => {
    await expect(runs.affine!(capable, affineRun(batch, T))).rejects.toThrow(message);
  });

  it('an input of the wrong length, by name', async () => {
    const run = affineRun(2, 5);
    (run.inputs as Record<string, Float32Array>).b = new Float32Array(9);
    await expect(runs.affine!(capable, run)).rejects.toThrow('affine: inputs.b has 9 elements, expected 10');
  });

  it('a negative sequence length, and a lengths array of the wrong size', async () => {
    await expect(runs.affine!(capable, { ...affineRun(2, 5), lengths: Int32Array.from([5, -1]) })).rejects.toThrow('affine: lengths[1] is negative');
    await expect(runs.affine!(capable, { ...affineRun(2, 5), lengths: Int32Array.from([5]) })).rejects.toThrow('affine: lengths has 1 elements, expected 2');
  });

  it('an initial state of the wrong length', async () => {
    await expect(runs.affine!(capable, { ...affineRun(2, 5), initialState: { h: new Float32Array(3) } })).rejects.toThrow('affine: initialState.h has 3 elements, expected 2');
  });

  it('a device without subgroups, or with subgroups smaller than a team of 8', async () => {
    await expect(runs.affine!(device([]), affineRun(1, 4))).rejects.toThrow("affine: these kernels use subgroup operations: open the device with the 'subgroups' feature, or compile with --no-subgroups");
    await expect(runs.affine!(device(['subgroups'], 4), affineRun(1, 4))).rejects.toThrow("a team of 8 invocations must fit in one subgroup; this device's subgroups may have 4");
  });
});

describe('a generated chunk module (deltanet) refuses', () => {
  it('an input of the wrong length, by name', async () => {
    const [batch, T] = [2, 3];
    const inputs = { q: new Float32Array(batch * T * 8), k: new Float32Array(batch * T * 8), v: new Float32Array(batch * T * 8 + 1), b: new Float32Array(batch * T) };
    await expect(runs.deltanet!(device([]), { batch, T, inputs, params: {} })).rejects.toThrow('deltanet: inputs.v has 49 elements, expected 48');
  });
});
