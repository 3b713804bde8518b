// Independent implementations of the grid examples (issue 18), written from the published formulas
// with plain loops over rows and columns in float64, not from the IR; and seeded grid data for them.
// Used by test/axes/grid-examples.test.ts (against the reference) and grid-examples.gpu.test.ts.
import { bindDims, type DimSizes } from '../../src/compiler/ir/dims.js';
import type { Module } from '../../src/compiler/ir/ir.js';
import { randomRunData } from '../../src/driver/data.js';

export type Arrays = Record<string, ArrayLike<number>>;
export interface Problem {
  batch: number;
  H: number;
  W: number;
  sizes: DimSizes;
  inputs: Arrays;
  params: Arrays;
  initial: Arrays;
}
export type Oracle = (p: Problem) => { outputs: Record<string, Float64Array>; final: Record<string, Float64Array> };

const softplus = (x: number) => (x > 20 ? x : Math.log1p(Math.exp(x)));
const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

/**
 * Runs `cell(b, r, c, left, up)` over each grid in row-major order, where `left` and `up` are the
 * neighbours' states (the initial state outside the grid); returns the states it gives per position.
 * Each state is a flat Float64Array; `cell` returns the new states and writes the outputs itself.
 */
function overGrid(p: Problem, states: string[], cell: (b: number, r: number, c: number, left: Record<string, Float64Array>, up: Record<string, Float64Array>) => Record<string, Float64Array>) {
  const final: Record<string, Float64Array> = {};
  for (let b = 0; b < p.batch; b++) {
    const initial = Object.fromEntries(states.map((s) => {
      const n = p.initial[s]!.length / p.batch;
      return [s, Float64Array.from({ length: n }, (_, k) => p.initial[s]![b * n + k]!)];
    }));
    const at: Record<string, Float64Array>[][] = [];
    for (let r = 0; r < p.H; r++) {
      at.push([]);
      for (let c = 0; c < p.W; c++) at[r]!.push(cell(b, r, c, c > 0 ? at[r]![c - 1]! : initial, r > 0 ? at[r - 1]![c]! : initial));
    }
    for (const s of states) {
      const last = at[p.H - 1]![p.W - 1]![s]!;
      (final[s] ??= new Float64Array(p.batch * last.length)).set(last, b * last.length);
    }
  }
  return final;
}

/** Input `name` at (b, r, c): its values, `width` of them. */
const inputAt = (p: Problem, name: string, width: number, b: number, r: number, c: number) => {
  const base = ((b * p.H + r) * p.W + c) * width;
  return Array.from({ length: width }, (_, k) => p.inputs[name]![base + k]!);
};

/**
 * The 2-D selective SSM: h[i,j] = a_left h[i,j-1] + a_up h[i-1,j] + dt B x, a_axis = exp(-dt exp(A_log_axis)) / 2,
 * dt = softplus(dt_in); y = C.h + Dskip x (Mamba's S6 with the previous token replaced by the two neighbours).
 */
const ssm2d: Oracle = (p) => {
  const [D, N] = [p.sizes['D']!, p.sizes['N']!];
  const y = new Float64Array(p.batch * p.H * p.W * D);
  const final = overGrid(p, ['h'], (b, r, c, left, up) => {
    const [x, dt, B, C] = [inputAt(p, 'x', D, b, r, c), inputAt(p, 'dt', D, b, r, c), inputAt(p, 'B', N, b, r, c), inputAt(p, 'C', N, b, r, c)];
    const h = new Float64Array(D * N);
    for (let d = 0; d < D; d++) {
      const step = softplus(dt[d]!);
      let sum = 0;
      for (let n = 0; n < N; n++) {
        const aLeft = 0.5 * Math.exp(-step * Math.exp(p.params['A_left']![d * N + n]!));
        const aUp = 0.5 * Math.exp(-step * Math.exp(p.params['A_up']![d * N + n]!));
        h[d * N + n] = aLeft * left['h']![d * N + n]! + aUp * up['h']![d * N + n]! + step * B[n]! * x[d]!;
        sum += h[d * N + n]! * C[n]!;
      }
      y[((b * p.H + r) * p.W + c) * D + d] = sum + p.params['Dskip']![d]! * x[d]!;
    }
    return { h };
  });
  return { outputs: { y }, final };
};

/** Mamba's S6 along each row: h[i,j] = exp(-dt exp(A_log)) h[i,j-1] + dt B x; y = C.h + Dskip x. Rows are independent. */
const mambaRows: Oracle = (p) => {
  const [D, N] = [p.sizes['D']!, p.sizes['N']!];
  const y = new Float64Array(p.batch * p.H * p.W * D);
  const final: Record<string, Float64Array> = { h: new Float64Array(p.batch * D * N) };
  for (let b = 0; b < p.batch; b++)
    for (let r = 0; r < p.H; r++) {
      // A row starts from the initial state (the left neighbour outside the grid), whatever the row above did.
      const h = Float64Array.from({ length: D * N }, (_, k) => p.initial['h']![b * D * N + k]!);
      for (let c = 0; c < p.W; c++) {
        const [x, dt, B, C] = [inputAt(p, 'x', D, b, r, c), inputAt(p, 'dt', D, b, r, c), inputAt(p, 'B', N, b, r, c), inputAt(p, 'C', N, b, r, c)];
        for (let d = 0; d < D; d++) {
          const step = softplus(dt[d]!);
          let sum = 0;
          for (let n = 0; n < N; n++) {
            h[d * N + n] = Math.exp(-step * Math.exp(p.params['A_log']![d * N + n]!)) * h[d * N + n]! + step * B[n]! * x[d]!;
            sum += h[d * N + n]! * C[n]!;
          }
          y[((b * p.H + r) * p.W + c) * D + d] = sum + p.params['Dskip']![d]! * x[d]!;
        }
      }
      if (r === p.H - 1) final['h']!.set(h, b * D * N);
    }
  return { outputs: { y }, final };
};

/**
 * pLSTM, P-mode, on a 2-D grid (Pöppel et al. 2025): per pixel, incoming edges from the left (Cr of the
 * left pixel) and from above (Cd of the upper one); outgoing edges right (Cr) and down (Cd):
 *   C_out = sum_in T[out, in] C_in + S_out k v^T,   y = q^T (sum_in M_in C_in + D k v^T),
 * with the Transitions out of each incoming edge scaled so that their absolute values sum to <= 1.
 * Gates: sigmoid of the Source, Mark and direct logits, tanh of the Transition logits.
 */
const plstm: Oracle = (p) => {
  const [K, V] = [p.sizes['K']!, p.sizes['V']!];
  const y = new Float64Array(p.batch * p.H * p.W * V);
  const final = overGrid(p, ['Cr', 'Cd'], (b, r, c, left, up) => {
    const [q, k, v] = [inputAt(p, 'q', K, b, r, c), inputAt(p, 'k', K, b, r, c), inputAt(p, 'v', V, b, r, c)];
    const g = (name: string) => inputAt(p, name, 1, b, r, c)[0]!;
    const T = { rr: Math.tanh(g('t_rr')), rd: Math.tanh(g('t_rd')), dr: Math.tanh(g('t_dr')), dd: Math.tanh(g('t_dd')) };
    // P-mode: the Transitions leaving the left edge (to right, to down), then those leaving the upper edge.
    const fromLeft = Math.max(1, Math.abs(T.rr) + Math.abs(T.dr));
    const fromUp = Math.max(1, Math.abs(T.rd) + Math.abs(T.dd));
    const [inLeft, inUp] = [left['Cr']!, up['Cd']!];
    const Cr = new Float64Array(K * V);
    const Cd = new Float64Array(K * V);
    const H = new Float64Array(K * V);
    for (let i = 0; i < K; i++)
      for (let j = 0; j < V; j++) {
        const e = i * V + j;
        const kv = k[i]! * v[j]!;
        Cr[e] = (T.rr / fromLeft) * inLeft[e]! + (T.rd / fromUp) * inUp[e]! + sigmoid(g('s_r')) * kv;
        Cd[e] = (T.dr / fromLeft) * inLeft[e]! + (T.dd / fromUp) * inUp[e]! + sigmoid(g('s_d')) * kv;
        H[e] = sigmoid(g('m_r')) * inLeft[e]! + sigmoid(g('m_d')) * inUp[e]! + sigmoid(g('d_g')) * kv;
      }
    for (let j = 0; j < V; j++) {
      let sum = 0;
      for (let i = 0; i < K; i++) sum += q[i]! * H[i * V + j]!;
      y[((b * p.H + r) * p.W + c) * V + j] = sum;
    }
    return { Cr, Cd };
  });
  return { outputs: { y }, final };
};

/** Every grid example has its independent implementation here. */
export const oracles: Record<string, Oracle> = { mamba_rows: mambaRows, plstm, ssm2d };

/** Seeded data for a grid run (random initial states), as the interpreter and the oracles take it; `dims` overrides the spec's sizes. */
export function gridProblem(m: Module, batch: number, H: number, W: number, seed: number, dims: Record<string, number> = {}): Problem & { data: ReturnType<typeof randomRunData> } {
  const sizes = bindDims(m, dims);
  const data = randomRunData(m, { batch, T: H * W, sizes, grid: { H, W } }, seed, { initial: true });
  return { batch, H, W, sizes, inputs: data.inputs, params: data.params, initial: data.initial!, data };
}

