// Streaming with a generated sequential host module, as an application runs it (dawn-child.mjs): a
// batch of sequences fed in pieces of different sizes and single steps (`stream<Name>`), the state
// kept on the GPU between calls, gives exactly the one-call result (the same float operations in
// the same order); and a parallel prefill (the scan host module) handed to the stream with
// `setState`, then decoded step by step, matches the float64 reference.
import { readFileSync } from 'node:fs';
import { beforeAll, describe, expect, it } from 'vitest';
import { analyse } from '../../src/compiler/analyse/analyse.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { randomLengths, randomRunData } from '../../src/driver/data.js';
import { verifyRun } from '../../src/driver/verify.js';
import { compileScan } from '../../backends/wgsl-scan/index.js';
import { scanHostModule } from '../../backends/host/scan-host.js';
import { load } from './cells.js';
import { pieceFunction, runHostModules, type HostResult, type HostRun } from './dawn.js';

// A program of the kind a user writes around the modules (plain JavaScript, as a browser would load it).
const program = `
import { streamGru } from './module0.mjs';
import { runLru } from './module2.mjs';
import { streamLru } from './module1.mjs';

${pieceFunction}

/** Pieces written back into [batch, T, ...] arrays. */
function place(into, got, batch, T, t0, n) {
  for (const [name, a] of Object.entries(got)) {
    const w = a.length / (batch * n);
    into[name] ??= new Float32Array(batch * T * w);
    for (let b = 0; b < batch; b++) into[name].set(a.subarray(b * n * w, (b + 1) * n * w), (b * T + t0) * w);
  }
}

/** gru in pieces of 1 (step), 5, 1 (step), 20 and the rest, with lengths cut to each piece. */
export async function gruPieces(device, run) {
  const { batch, T } = run;
  const stream = await streamGru(device, { batch, params: run.params, initialState: run.initialState });
  const outputs = {};
  let t0 = 0;
  for (const n of [1, 5, 1, 20, T - 27]) {
    const inputs = piece(run.inputs, batch, T, t0, n);
    const lengths = Int32Array.from(run.lengths, (len) => Math.max(0, Math.min(n, len - t0)));
    const alive = lengths.every((len) => len === n);
    place(outputs, n === 1 && alive ? await stream.step(inputs) : await stream.run(inputs, n, lengths), batch, T, t0, n);
    t0 += n;
  }
  const finalState = await stream.state();
  stream.destroy();
  return { outputs, finalState };
}

/** lru: a parallel prefill of the first P steps (scan module), then the seq stream from its final state, one step at a time. */
export async function lruPrefillThenSteps(device, run) {
  const { batch, T } = run;
  const P = T - 8;
  const prefill = await runLru(device, { ...run, T: P, inputs: piece(run.inputs, batch, T, 0, P) });
  const outputs = {};
  place(outputs, prefill.outputs, batch, T, 0, P);
  const stream = await streamLru(device, { batch, params: run.params });
  stream.setState(prefill.finalState);
  for (let t = P; t < T; t++) place(outputs, await stream.step(piece(run.inputs, batch, T, t, 1)), batch, T, t, 1);
  const finalState = await stream.state();
  stream.destroy();
  return { outputs, finalState };
}
`;

const gru = load('examples/gru.rnn');
const lru = load('examples/lru.rnn');

function dataOf(cell: ReturnType<typeof load>, batch: number, T: number, seed: number, ragged: boolean) {
  const shape = { batch, T, sizes: cell.sizes };
  const data = randomRunData(cell.module, shape, seed, { initial: true });
  const lengths = ragged ? randomLengths(batch, T, seed) : Int32Array.from({ length: batch }, () => T);
  const run: HostRun = {
    batch,
    T,
    inputs: data.inputs as Record<string, Float32Array>,
    params: data.params as Record<string, Float32Array>,
    initialState: data.initial as Record<string, Float32Array>,
    lengths,
  };
  return { run, reference: interpret(cell.module, { ...shape, lengths }, data) };
}

const gruData = dataOf(gru, 3, 60, 5, true);
const lruData = dataOf(lru, 2, 100, 6, false);
let results: HostResult[] = [];

beforeAll(async () => {
  const lruScan = await scanHostModule(lru.module, compileScan(lru.module, analyse(lru.module).analysis.plan!, lru.sizes), lru.path);
  results = await runHostModules([
    { code: readFileSync('test/golden/seq/gru/gru.ts', 'utf8'), entry: 'runGru', run: gruData.run },
    { code: readFileSync('test/golden/seq/lru/lru.ts', 'utf8'), entry: 'runLru', run: lruData.run },
    { code: lruScan, entry: 'runLru', run: lruData.run },
    { code: program, entry: 'gruPieces', run: gruData.run },
    { code: program, entry: 'lruPrefillThenSteps', run: lruData.run },
  ]);
}, 300_000);

describe('stream<Name>: the state stays on the GPU between calls', () => {
  it('gru in pieces and single steps, ragged lengths, a given initial state: bit for bit the one-call result', () => {
    const [whole, pieces] = [results[0]!, results[3]!];
    expect(verifyRun(whole, gruData.reference, 1e-5).ok).toBe(true);
    expect(pieces.outputs).toEqual(whole.outputs);
    expect(pieces.finalState).toEqual(whole.finalState);
  });

  it('lru: a scan prefill, then setState and step() per token, matches the reference', () => {
    const v = verifyRun(results[4]!, lruData.reference, 1e-5);
    expect(v.tensors.filter((t) => !t.ok)).toEqual([]);
    // The scan module alone over the whole sequence agrees too (the prefill's own kernel).
    expect(verifyRun(results[2]!, lruData.reference, 1e-5).ok).toBe(true);
  });
});
