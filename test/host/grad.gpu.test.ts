// The host module's gradient function (backends/host/host-grad.ts): `rnnc compile --grad` writes
// `<cell>.grad.ts` beside the gradient cells' modules; imported in Node as a user's program would
// (dawn-child.mjs: npm `webgpu`, a device, import, grad<Name>), it gives the float64 tape's gradients
// (src/runtime/reference/grad.ts), norm-wise 1e-4, and the forward results: a reversed cell whose
// param initialises its state (variable lengths; given and spec initial states; upstream gradients
// given and missing), and (under RNNC_TEST_MATRIX=full) bidirectional bimamba, its two parts joined.
import { fork } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { tensorSize } from '../../src/compiler/ir/dims.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { plan } from '../../src/driver/compile.js';
import { randomLengths, randomRunData, uniformFloats } from '../../src/driver/data.js';
import { gradFiles, planGrad } from '../../src/driver/grad.js';
import { tensorError } from '../../src/driver/verify.js';
import { pascal } from '../../backends/host/host-parts.js';
import { interpretGrad } from '../../src/runtime/reference/grad.js';
import { BIMAMBA, moduleOf, TANH_REVERSED } from '../grad/directions-cells.js';
import { moduleDir, transpile } from './dawn.js';
import { FULL_MATRIX } from '../helpers/matrix.js';


type Arrays = Record<string, Float32Array>;
interface GradRun {
  batch: number;
  T: number;
  inputs: Arrays;
  params: Arrays;
  initialState?: Arrays;
  lengths?: Int32Array;
  upstream?: { outputs?: Arrays; final?: Arrays };
}
interface HostGradients {
  inputs: Arrays;
  params: Arrays;
  initial: Arrays;
  outputs: Arrays;
  finalState: Arrays;
}

/** Writes `rnnc compile --grad`'s modules (as JavaScript) and calls grad<Name> on each run, on one Dawn device in a child process. */
async function hostGrad(m: Module, dims: Record<string, number>, runs: GradRun[]): Promise<HostGradients[]> {
  const g = planGrad(plan(m, analyse(m).analysis, { mode: 'seq', dims }), 'seq');
  const dir = moduleDir('rnnc-grad-');
  try {
    writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
    for (const f of await gradFiles(g)) if (f.name.endsWith('.ts')) writeFileSync(join(dir, f.name.replace(/\.ts$/, '.js')), transpile(f.text!));
    const calls = runs.map((run) => ({ modulePath: join(dir, `${m.name}.grad.js`), entry: `grad${pascal(m.name)}`, run }));
    const child = fork(new URL('./dawn-child.mjs', import.meta.url), [], { execArgv: ['--no-opt'], serialization: 'advanced', stdio: ['ignore', 'inherit', 'pipe', 'ipc'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    return await new Promise<HostGradients[]>((done, fail) => {
      const timer = setTimeout(() => (child.kill('SIGKILL'), fail(new Error('the gradient modules did not finish in 240 s'))), 240_000);
      child.once('message', (reply: { ok: true; results: HostGradients[] } | { ok: false; error: string }) => {
        clearTimeout(timer);
        if (reply.ok) done(reply.results);
        else fail(new Error(reply.error));
      });
      child.once('exit', (code, signal) => (clearTimeout(timer), fail(new Error(`the Dawn child exited (code ${code}, signal ${signal}):\n${stderr.slice(-2000)}`))));
      child.send(calls);
    });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A run with seeded data; `given`: initial states and every upstream gradient given (else the spec's initial states, and only the outputs' upstream). */
function runOf(m: Module, sizes: Record<string, number>, batch: number, T: number, seed: number, given: boolean): GradRun {
  const lengths = randomLengths(batch, T, seed);
  const data = randomRunData(m, { batch, T, sizes, lengths }, seed, { initial: given });
  const f32 = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float32Array.from(v)]));
  return {
    batch,
    T,
    inputs: f32(data.inputs),
    params: f32(data.params),
    ...(data.initial ? { initialState: f32(data.initial) } : {}),
    lengths,
    upstream: {
      outputs: Object.fromEntries(tensorsOf(m, 'output').map((o) => [o.name, uniformFloats(seed, `grad:${o.name}`, batch * T * tensorSize(o, sizes))])),
      ...(given ? { final: Object.fromEntries(tensorsOf(m, 'state').map((s) => [s.name, uniformFloats(seed, `grad:${s.name}.final`, batch * tensorSize(s, sizes))])) } : {}),
    },
  };
}

function expectTape(m: Module, sizes: Record<string, number>, run: GradRun, got: HostGradients): void {
  const f64 = (r: Arrays | undefined) => Object.fromEntries(Object.entries(r ?? {}).map(([k, v]) => [k, Float64Array.from(v)]));
  const shape = { batch: run.batch, T: run.T, sizes, ...(run.lengths ? { lengths: run.lengths } : {}) };
  const tape = interpretGrad(m, shape, { inputs: f64(run.inputs), params: f64(run.params), ...(run.initialState ? { initial: f64(run.initialState) } : {}) }, { outputs: f64(run.upstream?.outputs), final: f64(run.upstream?.final) });
  const checks: [string, Arrays, Record<string, Float64Array>][] = [
    ['inputs', got.inputs, tape.inputs],
    ['params', got.params, tape.params],
    ['initial', got.initial, tape.initial],
    ['outputs', got.outputs, tape.forward.outputs],
    ['finalState', got.finalState, tape.forward.final],
  ];
  for (const [kind, gpu, ref] of checks) {
    expect(Object.keys(gpu).sort(), kind).toEqual(Object.keys(ref).sort());
    for (const [name, want] of Object.entries(ref)) {
      const e = tensorError(name, 'grad', gpu[name]!, want, 1e-4, { normwise: true });
      expect(e.maxErr, `${kind} ${name}: worst ${JSON.stringify(e.worst)}`).toBeLessThanOrEqual(1e-4);
    }
  }
}

describe('grad<Name>, the host module\'s gradient function, against the float64 tape', () => {
  // The cells and dims of test/grad/directions.gpu.test.ts: the saving and backward kernels are the same (the shader cache has them).
  it('a reversed cell whose param initialises its state: T = 11 with given initial states and upstream, T = 1 from the spec', async () => {
    const m = moduleOf(TANH_REVERSED);
    const sizes = { X: 2, H: 3 };
    const runs = [runOf(m, sizes, 3, 11, 21, true), runOf(m, sizes, 2, 1, 22, false)];
    const got = await hostGrad(m, sizes, runs);
    runs.forEach((run, k) => expectTape(m, sizes, run, got[k]!));
  });

  // A monoid's backward cell is not a reversed cell: the module reverses its data on the host.
  if (FULL_MATRIX)
    it('a monoid cell (aaren): its backward on reversed copies', async () => {
      const m = moduleOf(readFileSync('examples/aaren.rnn', 'utf8'));
      const sizes = { D: 2 };
      const runs = [runOf(m, sizes, 2, 9, 24, true)];
      const got = await hostGrad(m, sizes, runs);
      expectTape(m, sizes, runs[0]!, got[0]!);
    });

  // Two parts' saving, backward and accumulation kernels: about 25 s of cold compiles on a loaded
  // 2-core machine, so under the full matrix (CI time); test/grad/directions.gpu.test.ts runs bimamba's
  // gradients through the driver, and test/host/grad.test.ts checks this module's imports.
  if (FULL_MATRIX) it('bidirectional bimamba: both parts, joined', async () => {
    const m = moduleOf(BIMAMBA);
    const sizes = { D: 2, N: 2 };
    const runs = [runOf(m, sizes, 2, 7, 23, true)];
    const got = await hostGrad(m, sizes, runs);
    expectTape(m, sizes, runs[0]!, got[0]!);
  });
});
