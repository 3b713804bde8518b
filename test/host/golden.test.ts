// The host modules of one scan cell (GLA) and one chunk cell (DeltaNet), and the chunk manifest,
// pinned (test/golden/host/): a change to what a user's program imports shows up as a diff. The
// WGSL inside comes from the emitters, and goes through Dawn (Tint and pipeline creation) before it
// is pinned; regenerate with `npx vitest run test/host/golden.test.ts -u` when the emitters change.
import { expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { compileScan } from '../../backends/wgsl-scan/index.js';
import { compileChunk } from '../../backends/wgsl-chunk/index.js';
import { scanHostModule } from '../../backends/host/scan-host.js';
import { chunkHostModule, chunkManifest } from '../../backends/host/chunk-host.js';
import { load } from './cells.js';
import { useWgslValidator } from '../helpers/validate.js';

const expectValidWgsl = useWgslValidator();

it('gla: the scan host module', async () => {
  const gla = load('examples/gla.rnn');
  const kernels = compileScan(gla.module, analyse(gla.module).analysis.plan!, gla.sizes);
  await expectValidWgsl(Object.fromEntries(Object.values(kernels.kernels).map((k) => [`gla.${k.name}`, k.code])));
  const text = await scanHostModule(gla.module, kernels, gla.path);
  expect(await scanHostModule(gla.module, kernels, gla.path)).toBe(text); // deterministic
  await expect(text).toMatchFileSnapshot('../golden/host/gla.scan.ts');
});

it('deltanet: the chunk host module and manifest', async () => {
  const deltanet = load('examples/deltanet.rnn');
  const kernels = compileChunk(deltanet.module, deltanet.sizes);
  await expectValidWgsl(Object.fromEntries(Object.entries(kernels.passes).map(([pass, k]) => [`deltanet.chunk.${pass}`, k.code])));
  await expect(await chunkHostModule(deltanet.module, kernels, deltanet.path)).toMatchFileSnapshot('../golden/host/deltanet.chunk.ts');
  await expect(JSON.stringify(chunkManifest(deltanet.module, kernels), null, 2) + '\n').toMatchFileSnapshot('../golden/host/deltanet.chunk.json');
});
