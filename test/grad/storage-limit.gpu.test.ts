// A device with fewer storage buffers per shader stage than the staged backward's time-sum rest binds
// (src/driver/grad.ts, retargetGrad): the one-cell backward runs instead, whose kernels keep to
// WebGPU's guaranteed 8, and its gradients still match the float64 tape. gla's recomputing rest binds
// 14 (lengths, params, partial sums, 7 inputs, 4 outputs).
import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { gpuAgainstTape, withLimits } from './gpu-tape.js';
import { fileGpu } from '../helpers/file-gpu.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { plan } from '../../src/driver/compile.js';
import { planGrad, retargetGrad, usesStages } from '../../src/driver/grad.js';
import { frontEnd } from '../../src/driver/front-end.js';

const gpu = fileGpu();
const gla = frontEnd(readFileSync(new URL('../../examples/gla.rnn', import.meta.url), 'utf8')).module!;
const planned = () => planGrad(plan(gla, analyse(gla).analysis, { mode: 'auto' }), 'auto');

describe('the staged rest under a storage-buffer limit', () => {
  it('is kept at 16 storage buffers a stage and dropped at 8, where the one-cell backward matches the tape', async () => {
    expect(usesStages(retargetGrad(planned(), withLimits(gpu, { maxStorageBuffersPerShaderStage: 16 })))).toBe(true);
    const eight = withLimits(gpu, { maxStorageBuffersPerShaderStage: 8 });
    const g = retargetGrad(planned(), eight);
    expect(g.staged).toBeUndefined();
    const { errors } = await gpuAgainstTape(eight, g, gla, { batch: 2, T: 37, lengths: true, initial: true }, 1e-4);
    expect(errors.map((e) => e.name)).toContain('grad_g');
    for (const e of errors) expect(e.maxErr, `${e.name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(1e-4);
  });
});
