// The host module `rnnc compile` writes for a grid cell (backends/wgsl-grid/host.ts), run as a user's
// program would run it (a child process with its own Dawn device, rnnc/runtime from the package):
// `runGated2d(device, { batch, H, W, inputs, params, initialState })` = the reference interpreter, at a
// grid 1 row high (the 64-wide kernel with idle invocations) and one taller than the workgroup.
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { compileFiles, plan } from '../../src/driver/compile.js';
import { randomRunData } from '../../src/driver/data.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { verifyRun } from '../../src/driver/verify.js';
import { runHostModules, type HostRun } from '../host/dawn.js';

const gated = `rnn gated2d grid {
  dims D = 3
  input  x[D]
  param  u[D], v[D]
  state  h[D] = 0
  state  c[D] = 0.5
  let g[d] = sigmoid(u[d] * h.left[d] - v[d] * c.up[d])
  h[d] <- tanh(g[d] * h.up[d] + (1 - g[d]) * h.left[d] + x[d])
  c[d] <- 0.5 * c.left[d] * g[d] + 0.5 * h[d]
  output y[d] = h[d] * c[d]
}
`;

describe('the grid host module', () => {
  it('runs the wavefront kernel as rnnc does: = the reference at 1 x 9 and 70 x 2', async () => {
    const { module, analysis } = frontEnd(gated);
    const c = plan(module!, analysis!, {});
    const code = (await compileFiles(c)).find((f) => f.name === 'gated2d.ts')!.text;
    const cases = [[1, 9, 2, true], [70, 2, 3, false]] as const;
    const runs = cases.map(([H, W, batch, initial]) => {
      const d = randomRunData(module!, { batch, T: H * W, sizes: c.sizes, grid: { H, W } }, H * 100 + W, { initial });
      return { H, W, batch, d };
    });
    const results = await runHostModules(runs.map(({ H, W, batch, d }) => ({ code, entry: 'runGated2d', run: { batch, H, W, inputs: d.inputs, params: d.params, ...(d.initial ? { initialState: d.initial } : {}) } as unknown as HostRun })));
    runs.forEach(({ H, W, batch, d }, k) => {
      const want = interpret(module!, { batch, T: H * W, sizes: c.sizes, grid: { H, W } }, d);
      const v = verifyRun(results[k]!, want, 1e-5);
      expect(v.tensors.filter((t) => !t.ok)).toEqual([]);
      expect(v.tensors.map((t) => t.name)).toEqual(['y', 'h', 'c']);
    });
  });
});
