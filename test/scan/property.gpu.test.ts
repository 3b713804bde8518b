// Property test: random diagonal cells h[d] <- a ⊗ h[d] ⊕ b over each semiring, written as .rnn
// source with random gate expressions (functions of the inputs only), random lengths, batch sizes
// and tile shapes; the scan kernel (analysis plan) must equal the reference interpreter and the
// sequential kernel. Few runs per semiring: each is a GPU job on lavapipe.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { GpuSession } from '../../src/runtime/dawn/runtime.js';
import { expectClose, runScan, runSeq } from './helpers.js';
import { FULL_MATRIX } from '../helpers/matrix.js';

/** An input-only expression in x[d], y[d] and the param w[d]. */
const gate = fc.constantFrom('x[d]', 'sigmoid(x[d])', 'tanh(y[d])', 'x[d] * w[d]', 'exp(-abs(y[d]))', 'max(x[d], y[d])', 'softplus(x[d]) - w[d]');

const updates: Record<string, (a: string, b: string) => string> = {
  sum_prod: (a, b) => `h[d] <- sigmoid(${a}) * h[d] + ${b}`,
  max_plus: (a, b) => `h[d] <- max(${a} + h[d], ${b})`,
  max_min: (a, b) => `h[d] <- max(min(${a}, h[d]), ${b})`,
  log: (a, b) => `h[d] <- logaddexp(${a} + h[d], ${b})`,
};

const source = (update: string, D: number) => `rnn prop {
  dims D = ${D}
  input x[D], y[D]
  param w[D]
  state h[D] = 0
  ${update}
  output o[d] = h[d] * w[d]
}
`;

let gpu: GpuSession;
beforeAll(async () => {
  gpu = await GpuSession.open();
});
afterAll(async () => {
  await gpu?.close();
});

describe.each(Object.keys(updates))('random diagonal %s cells', (semiring) => {
  it('scan = reference = sequential', async () => {
    await fc.assert(
      fc.asyncProperty(
        gate,
        gate,
        fc.integer({ min: 1, max: 9 }),
        fc.integer({ min: 1, max: 5 }),
        fc.integer({ min: 1, max: 200 }),
        fc.constantFrom(1, 2, 4, 0, -1, -2, -3), // runs per lane with the 'tile' split; 0: 'thread'; -1: 'stripe'; -2, -3: the single pass (-3 always falling back)
        fc.boolean(),
        fc.integer({ min: 0, max: 1000 }),
        async (a, b, D, batch, T, runs, sg, seed) => {
          const subgroups = sg || runs < 0; // the stripe split is built on subgroups
          const module = frontEnd(source(updates[semiring]!(a, b), D)).module!;
          const analysis = analyse(module).analysis;
          expect(analysis.states[0]!.classification).toMatchObject({ kind: 'affine', semiring, transition: { kind: 'diagonal' } });
          const sizes = bindDims(module);
          const lengths = randomLengths(batch, T, seed);
          const d = randomRunData(module, { batch, T, sizes, lengths }, seed, { initial: true });
          const data = { batch, T, inputs: d.inputs as Record<string, Float32Array>, params: d.params as Record<string, Float32Array>, initialState: d.initial as Record<string, Float32Array>, lengths };
          const got = await runScan(gpu, module, analysis.plan!, sizes, data, { subgroups, tile: runs > 0 ? { split: 'tile', runs, runLength: 2 } : runs === 0 ? { split: 'thread', runLength: 2, width: 4 } : { split: 'stripe', width: 4 }, targetBlocks: runs < -1 ? 12 : 1000, topMax: 4, ...(runs < -1 ? { strategy: 'single-pass' as const, spinLimit: runs === -3 ? 0 : 64 } : {}) });
          const ref = interpret(module, { batch, T, sizes, lengths }, d);
          const f32 = (x: Record<string, Float64Array>) => Object.fromEntries(Object.entries(x).map(([k, v]) => [k, Float32Array.from(v)]));
          const tol = 2e-5 * Math.sqrt(T) + 1e-5;
          expectClose(got, { outputs: f32(ref.outputs), finalState: f32(ref.final) }, tol, `${semiring} ${a} / ${b}, D=${D} batch=${batch} T=${T}`);
          expectClose(got, await runSeq(gpu, module, sizes, data), tol, 'vs seq');
        },
      ),
      // In CI the first 4 of the seed's 8 cells per semiring (RNNC_TEST_MATRIX=full: all 8).
      { numRuns: FULL_MATRIX ? 8 : 4, seed: 42 },
    );
  });
});
