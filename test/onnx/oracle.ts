// ONNX Runtime's LSTM and GRU operators as oracles for examples/lstm.rnn and examples/gru.rnn, given
// the same weights. Our layouts are batch-major ([batch, T, ...]); ONNX's are time-major. Gate
// order: ONNX LSTM stacks i, o, f, c (our Wi, Wo, Wf, Wg); GRU stacks z, r, h (our Wz, Wr, Wn), with
// linear_before_reset = 1 (the reset gate scales U_n h + b_hn, as in gru.rnn).
// onnxruntime-web (WebAssembly CPU backend) installs from the npm registry alone; onnxruntime-node's
// install script fetched binaries from elsewhere.
import * as ort from 'onnxruntime-web';
import { recurrentModel } from './onnx-model.js';

export interface CellRun {
  batch: number;
  T: number;
  X: number;
  H: number;
  x: Float32Array; // [batch, T, X]
  params: Record<string, Float32Array>;
  initialState: Record<string, Float32Array>; // [batch, H]
  lengths: Int32Array;
}

const concat = (...parts: Float32Array[]) => {
  const out = new Float32Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) (out.set(p, at), (at += p.length));
  return out;
};

/** [a, b, n] -> [b, a, n] */
function swap01(data: Float32Array, a: number, b: number, n: number): Float32Array {
  const out = new Float32Array(data.length);
  for (let i = 0; i < a; i++) for (let j = 0; j < b; j++) out.set(data.subarray((i * b + j) * n, (i * b + j + 1) * n), (j * a + i) * n);
  return out;
}

export async function ortCell(op: 'LSTM' | 'GRU', r: CellRun, timing?: { repeats: number; warmup?: number }): Promise<{ y: Float32Array; state: Record<string, Float32Array>; runMs?: number[] }> {
  const { batch, T, X, H, params: p } = r;
  const zeros = new Float32Array(H);
  const [W, R, B] =
    op === 'LSTM'
      ? [concat(p.Wi!, p.Wo!, p.Wf!, p.Wg!), concat(p.Ui!, p.Uo!, p.Uf!, p.Ug!), concat(p.bi!, p.bo!, p.bf!, p.bg!, zeros, zeros, zeros, zeros)]
      : [concat(p.Wz!, p.Wr!, p.Wn!), concat(p.Uz!, p.Ur!, p.Un!), concat(p.bz!, p.br!, p.bn!, zeros, zeros, p.bhn!)];
  const gates = op === 'LSTM' ? 4 : 3;
  const states = op === 'LSTM' ? ['h', 'c'] : ['h'];
  const model = recurrentModel({
    op,
    hiddenSize: H,
    linearBeforeReset: op === 'GRU',
    inputs: [
      { name: 'X', type: 'float', dims: [T, batch, X] },
      { name: 'sequence_lens', type: 'int32', dims: [batch] },
      ...states.map((s) => ({ name: `initial_${s}`, type: 'float' as const, dims: [1, batch, H] })),
    ],
    initializers: [
      { name: 'W', dims: [1, gates * H, X], data: W },
      { name: 'R', dims: [1, gates * H, H], data: R },
      { name: 'B', dims: [1, 2 * gates * H], data: B },
    ],
    nodeInputs: ['X', 'W', 'R', 'B', 'sequence_lens', ...states.map((s) => `initial_${s}`)],
    outputs: [{ name: 'Y', dims: [T, 1, batch, H] }, ...states.map((s) => ({ name: `Y_${s}`, dims: [1, batch, H] }))],
  });
  const session = await ort.InferenceSession.create(model);
  const feeds: Record<string, ort.Tensor> = {
    X: new ort.Tensor('float32', swap01(r.x, batch, T, X), [T, batch, X]),
    sequence_lens: new ort.Tensor('int32', r.lengths, [batch]),
  };
  for (const s of states) feeds[`initial_${s}`] = new ort.Tensor('float32', r.initialState[s]!, [1, batch, H]);
  // Timed (scripts/bench-seq.ts): each call of the operator, session creation and the first (warm-up) calls excluded.
  const runMs: number[] = [];
  for (let i = 0; timing && i < (timing.warmup ?? 1) + timing.repeats; i++) {
    const started = performance.now();
    await session.run(feeds);
    if (i >= (timing.warmup ?? 1)) runMs.push(performance.now() - started);
  }
  const out = await session.run(feeds);
  await session.release();
  const state: Record<string, Float32Array> = {};
  for (const s of states) state[s] = out[`Y_${s}`]!.data as Float32Array;
  return { y: swap01(out['Y']!.data as Float32Array, T, batch, H), state, ...(timing ? { runMs } : {}) };
}
