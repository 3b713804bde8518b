// The generated sequential host module where the plan runs the step kernel (SeqStepKernel: a
// dispatch per step, the states swapping between two buffers; issue 19). The step form is forced at
// small dims (emitSeq's `stepwise`, which the planner sets from STEP_MIN_OPS operations per step up),
// so that the kernels compile in seconds: LSTM X = 4, H = 8, a tile of 2 sequences over a batch of 3
// (the second tile partial; a tile of 4 took 3 s more to compile cold), ragged lengths and a given
// initial state. Imported in Node on Dawn (dawn-child.mjs), `runLstm` of the step module gives the
// loop module's results bit for bit and matches the float64 reference; `streamLstm` in two pieces
// (the state staying on the GPU) gives the one-call result bit for bit. The manifest describes the
// step form; the planner's choice at sizes that take it reaches the files rnnc compile writes
// (test/host/typecheck.test.ts type-checks that host module). The module and manifest are pinned in
// test/golden/host/lstm.step.{ts,json}.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { emitSeq } from '../../backends/wgsl-seq/emit.js';
import { hostModule } from '../../backends/host/host-module.js';
import { buildManifest } from '../../backends/host/manifest.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { compileFiles, plan } from '../../src/driver/compile.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { verifyRun } from '../../src/driver/verify.js';
import { load } from './cells.js';
import { pieceFunction, runHostModules, type HostResult, type HostRun } from './dawn.js';

// Plain JavaScript around the step module, as an application writes it: two pieces of one stream.
const program = `
import { streamLstm } from './module1.mjs';

${pieceFunction}

export async function twoPieces(device, run) {
  const { batch, T } = run;
  const stream = await streamLstm(device, { batch, params: run.params, initialState: run.initialState });
  const outputs = { y: new Float32Array(run.inputs.x.length / 4 * 8) };
  let t0 = 0;
  for (const n of [5, T - 5]) {
    const lengths = Int32Array.from(run.lengths, (len) => Math.max(0, Math.min(n, len - t0)));
    const got = await stream.run(piece(run.inputs, batch, T, t0, n), n, lengths);
    for (let b = 0; b < batch; b++) outputs.y.set(got.y.subarray(b * n * 8, (b + 1) * n * 8), (b * T + t0) * 8);
    t0 += n;
  }
  const finalState = await stream.state();
  stream.destroy();
  return { outputs, finalState };
}
`;

const lstm = load('examples/lstm.rnn');
const sizes = bindDims(lstm.module, { X: 4, H: 8 });
const loopKernel = emitSeq(lstm.module, sizes, { parallel: true });
const stepKernel = emitSeq(lstm.module, sizes, { parallel: true, stepwise: { tile: 2 } });
const batch = 3;
const T = 12;
const data = randomRunData(lstm.module, { batch, T, sizes }, 19, { initial: true });
const lengths = randomLengths(batch, T, 19);
const run: HostRun = {
  batch,
  T,
  inputs: data.inputs as Record<string, Float32Array>,
  params: data.params as Record<string, Float32Array>,
  initialState: data.initial as Record<string, Float32Array>,
  lengths,
};
const reference = interpret(lstm.module, { batch, T, sizes, lengths }, data);

let stepModule = '';
let results: HostResult[] = [];
beforeAll(async () => {
  stepModule = await hostModule(lstm.module, stepKernel, lstm.path);
  results = await runHostModules([
    { code: await hostModule(lstm.module, loopKernel, lstm.path), entry: 'runLstm', run },
    { code: stepModule, entry: 'runLstm', run },
    { code: program, entry: 'twoPieces', run },
  ]);
}, 240_000);

describe('the host module on the step kernel', () => {
  it('runs init and a dispatch per step, not the loop kernel', async () => {
    expect(stepModule).toContain('export const lstmStepWgsl');
    expect(stepModule).not.toContain('export const lstmWgsl');
    expect(stepModule).toMatch(/Array\.from\(\{ length: T \}/);
    // Pinned (regenerate with \`npx vitest run test/host/step.gpu.test.ts -u\` and read the diff).
    await expect(stepModule).toMatchFileSnapshot('../golden/host/lstm.step.ts');
  });

  it('runLstm: the loop module bit for bit, and the reference (batch 3 in tiles of 2, ragged lengths, a given initial state)', () => {
    const [loop, step] = [results[0]!, results[1]!];
    const v = verifyRun(step, reference, 1e-5);
    expect(v.tensors.filter((t) => !t.ok)).toEqual([]);
    expect(step.outputs).toEqual(loop.outputs);
    expect(step.finalState).toEqual(loop.finalState);
    // Steps past a sequence's length write zeros; something is computed before.
    const y = step.outputs['y']!;
    for (let b = 0; b < batch; b++) expect(y.subarray((b * T + lengths[b]!) * 8, (b + 1) * T * 8).every((x) => x === 0)).toBe(true);
    expect(y.some((x) => Math.abs(x) > 0.05)).toBe(true);
  });

  it('streamLstm in two pieces: the state stays on the GPU, the one-call result bit for bit', () => {
    const [whole, pieces] = [results[1]!, results[2]!];
    expect(pieces.outputs).toEqual(whole.outputs);
    expect(pieces.finalState).toEqual(whole.finalState);
  });

  it('the manifest describes the step form: init, a dispatch per step over two swapping state buffers', async () => {
    const m = buildManifest(lstm.module, stepKernel, { source: lstm.path, kernel: 'lstm.wgsl', host: 'lstm.ts', prepass: 'lstm.project.wgsl' });
    const s = stepKernel.step!;
    await expect(JSON.stringify(m, null, 2) + '\n').toMatchFileSnapshot('../golden/host/lstm.step.json');
    expect(m.step).toMatchObject({
      kernel: 'lstm.step.wgsl',
      entryPoint: 'main',
      tile: 2,
      bindings: s.bindings,
      stateCur: s.stateCur,
      stateNext: s.stateNext,
      states: { buffers: ['states_a', 'states_b'], elements: '4 + batch * 16', header: 4 },
      init: { entryPoint: 'init', bindings: s.initBindings, dispatch: { groups: 'max(1, ceil(batch * 16 / 64))' } },
      dispatch: { times: 'T', groups: '1 * ceil(batch / 2)' },
      order: ['prepass', 'step.init', 'step.main x T'],
    });
    expect(buildManifest(lstm.module, loopKernel, { source: lstm.path, kernel: 'lstm.wgsl', host: 'lstm.ts' })).not.toHaveProperty('step');
  });

  it('rnnc compile at sizes the planner gives the step kernel writes it, its manifest and a host module that runs it', async () => {
    const { module, analysis } = frontEnd(readFileSync('examples/lstm.rnn', 'utf8'));
    const files = await compileFiles(plan(module!, analysis!, { mode: 'seq', dims: bindDims(module!, { X: 64, H: 128 }) }));
    const text = (name: string) => files.find((f) => f.name === name)?.text ?? '';
    expect(files.map((f) => f.name)).toContain('lstm.step.wgsl');
    expect(JSON.parse(text('lstm.json')).step).toMatchObject({ kernel: 'lstm.step.wgsl', tile: 4, dispatch: { groups: '2 * ceil(batch / 4)' } });
    expect(text('lstm.ts')).toContain('export const lstmStepWgsl');
  });
});
