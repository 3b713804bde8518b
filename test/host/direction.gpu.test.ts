// Streams of cells that do not run forward (issue 18), with the generated sequential host module on
// Dawn: a reversed cell fed its pieces last piece first gives bit for bit the one-call result (and
// the one call matches the reference); a bidirectional cell (bimamba) runs one piece per stream and a
// second `run` throws until `setState` starts the sequences again.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { compileFiles, plan } from '../../src/driver/compile.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { randomRunData } from '../../src/driver/data.js';
import { verifyRun } from '../../src/driver/verify.js';
import { pieceFunction, runHostModules, type HostResult, type HostRun } from './dawn.js';

const REVERSED = `rnn rev reversed {
  dims D = 4
  input x[D], a[D]
  state h[D] = 0
  h[d] <- sigmoid(a[d]) * h[d] + x[d]
  output y[d] = h[d] * x[d]
}
`;

const program = `
import { runRev, streamRev } from './module0.mjs';
import { streamBimamba } from './module1.mjs';

${pieceFunction}

/** The reversed cell's sequences in pieces, the last piece first (the stream continues from the end). */
export async function revPieces(device, run) {
  const { batch, T } = run;
  const stream = await streamRev(device, { batch, params: run.params, initialState: run.initialState });
  const outputs = { y: new Float32Array(batch * T * 4) };
  for (const [t0, n] of [[T - 9, 9], [5, T - 14], [0, 5]]) {
    const got = await stream.run(piece(run.inputs, batch, T, t0, n), n);
    for (let b = 0; b < batch; b++) outputs.y.set(got.y.subarray(b * n * 4, (b + 1) * n * 4), (b * T + t0) * 4);
  }
  const finalState = await stream.state();
  stream.destroy();
  return { outputs, finalState, whole: await runRev(device, run) };
}

/** A bidirectional stream: one run, a second that must throw, then setState and a run again. */
export async function bidiTwice(device, run) {
  const stream = await streamBimamba(device, { batch: run.batch, params: run.params });
  const first = await stream.run(run.inputs, run.T);
  let error = '';
  try {
    await stream.run(run.inputs, run.T);
  } catch (e) {
    error = e.message;
  }
  stream.setState();
  const again = await stream.run(run.inputs, run.T);
  stream.destroy();
  return { outputs: first, finalState: {}, error, again };
}
`;

async function hostOf(text: string): Promise<{ code: string; module: NonNullable<ReturnType<typeof frontEnd>['module']> }> {
  const { module, analysis } = frontEnd(text);
  const files = await compileFiles(plan(module!, analysis!, { mode: 'seq' }));
  return { code: files.find((f) => f.name.endsWith('.ts'))!.text, module: module! };
}

function dataOf(module: NonNullable<ReturnType<typeof frontEnd>['module']>, batch: number, T: number, seed: number, initial: boolean) {
  const shape = { batch, T, sizes: bindDims(module) };
  const data = randomRunData(module, shape, seed, { initial });
  const run: HostRun = {
    batch,
    T,
    inputs: data.inputs as Record<string, Float32Array>,
    params: data.params as Record<string, Float32Array>,
    ...(initial ? { initialState: data.initial as Record<string, Float32Array> } : {}),
  };
  return { run, reference: interpret(module, { ...shape, lengths: Int32Array.from({ length: batch }, () => T) }, data) };
}

type Result = HostResult & { whole?: HostResult; error?: string; again?: Record<string, Float32Array> };
let results: Result[] = [];
let rev: ReturnType<typeof dataOf>;
let bidi: ReturnType<typeof dataOf>;

beforeAll(async () => {
  const r = await hostOf(REVERSED);
  const b = await hostOf(readFileSync('examples/bimamba.rnn', 'utf8'));
  rev = dataOf(r.module, 3, 31, 11, true);
  bidi = dataOf(b.module, 2, 12, 12, false);
  results = (await runHostModules([
    { code: r.code, entry: 'runRev', run: rev.run },
    { code: b.code, entry: 'runBimamba', run: bidi.run },
    { code: program, entry: 'revPieces', run: rev.run },
    { code: program, entry: 'bidiTwice', run: bidi.run },
  ])) as Result[];
}, 300_000);

describe('streams of reversed and bidirectional cells', () => {
  it('a reversed cell in pieces, last piece first: bit for bit the one call, which matches the reference', () => {
    const [whole, pieces] = [results[0]!, results[2]!];
    expect(verifyRun(whole, rev.reference, 1e-5).tensors.filter((t) => !t.ok)).toEqual([]);
    expect(pieces.outputs).toEqual(whole.outputs);
    expect(pieces.finalState).toEqual(whole.finalState);
  });

  it('a bidirectional cell runs one piece per stream: the second run throws, setState starts again', () => {
    const [whole, twice] = [results[1]!, results[3]!];
    expect(verifyRun(whole, bidi.reference, 1e-5).tensors.filter((t) => !t.ok)).toEqual([]);
    expect(twice.outputs).toEqual(whole.outputs);
    expect(twice.error).toBe('bimamba: a bidirectional cell runs each sequence in one piece: setState() starts the sequences again');
    expect(twice.again).toEqual(whole.outputs);
  });
});
