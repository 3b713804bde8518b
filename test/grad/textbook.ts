// An independent test oracle for the gradients of examples/lstm.rnn and examples/gru.rnn: textbook
// backpropagation through time, written by hand from the cells' equations in plain float64 loops.
// It shares no code with src/ (the compiler's reverse-mode pass, the reference interpreter, the
// BPTT schedule): a mistake there cannot cancel out here.
//
// LSTM (gates i, f, g, o; PyTorch's nn.LSTM):
//   i = σ(Wi x + Ui h + bi)   f = σ(Wf x + Uf h + bf)   g = tanh(Wg x + Ug h + bg)   o = σ(Wo x + Uo h + bo)
//   c' = f ⊙ c + i ⊙ g        h' = o ⊙ tanh(c')        y = h'
// GRU (PyTorch's nn.GRU: the reset gate scales the recurrent projection after its bias):
//   z = σ(Wz x + Uz h + bz)   r = σ(Wr x + Ur h + br)   n = tanh(Wn x + bn + r ⊙ (Un h + bhn))
//   h' = (1 - z) ⊙ n + z ⊙ h  y = h'
//
// The loss is Σ upstream.y · y + Σ upstream.final · final. Layouts are rnnc's: x and y [batch, T, ·],
// W [H, X], U [H, H], b [H], states [batch, H]. Steps t ≥ lengths[b] are skipped: the state stays,
// y stays 0, and no gradient comes from them; the final state is the one after the last valid step.

export type TextbookCell = 'lstm' | 'gru';

export interface TextbookProblem {
  cell: TextbookCell;
  batch: number;
  T: number;
  X: number;
  H: number;
  lengths?: Int32Array;
  /** [batch, T, X] */
  x: ArrayLike<number>;
  params: Record<string, ArrayLike<number>>;
  /** Per state, [batch, H]; zeros when absent (the spec's `= 0`). */
  initial?: Record<string, ArrayLike<number>>;
  /** The loss's weights: on y, [batch, T, H], and on each final state, [batch, H]. */
  upstream: { y: ArrayLike<number>; final: Record<string, ArrayLike<number>> };
}

export interface TextbookResult {
  /** [batch, T, H]; 0 past a sequence's length. */
  y: Float64Array;
  final: Record<string, Float64Array>;
  /** d loss / d x, [batch, T, X]. */
  dx: Float64Array;
  /** d loss / d param, summed over the batch and time. */
  dparams: Record<string, Float64Array>;
  /** d loss / d initial state, [batch, H]. */
  dinitial: Record<string, Float64Array>;
}

export const textbookStates: Record<TextbookCell, string[]> = { lstm: ['h', 'c'], gru: ['h'] };

const sigmoid = (a: number) => 1 / (1 + Math.exp(-a));

/** W v for W [rows, cols], row-major: out[k] = Σ_j W[k, j] v[j]. */
function matvec(W: ArrayLike<number>, v: ArrayLike<number>, vOffset: number, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows);
  for (let k = 0; k < rows; k++) {
    let s = 0;
    for (let j = 0; j < cols; j++) s += W[k * cols + j]! * v[vOffset + j]!;
    out[k] = s;
  }
  return out;
}

/** acc[j] += Σ_k W[k, j] d[k]: the transposed product, into acc at an offset. */
function addTransposed(acc: Float64Array, accOffset: number, W: ArrayLike<number>, d: Float64Array, rows: number, cols: number): void {
  for (let k = 0; k < rows; k++) {
    const dk = d[k]!;
    for (let j = 0; j < cols; j++) acc[accOffset + j]! += W[k * cols + j]! * dk;
  }
}

/** G[k, j] += d[k] v[j]: an outer product accumulated into a gradient. */
function addOuter(G: Float64Array, d: Float64Array, v: ArrayLike<number>, vOffset: number, rows: number, cols: number): void {
  for (let k = 0; k < rows; k++) {
    const dk = d[k]!;
    for (let j = 0; j < cols; j++) G[k * cols + j]! += dk * v[vOffset + j]!;
  }
}

function addTo(acc: Float64Array, d: Float64Array): void {
  for (let k = 0; k < d.length; k++) acc[k]! += d[k]!;
}

const paramNames: Record<TextbookCell, string[]> = {
  lstm: ['Wi', 'Wf', 'Wg', 'Wo', 'Ui', 'Uf', 'Ug', 'Uo', 'bi', 'bf', 'bg', 'bo'],
  gru: ['Wz', 'Wr', 'Wn', 'Uz', 'Ur', 'Un', 'bz', 'br', 'bn', 'bhn'],
};

export function textbook(p: TextbookProblem): TextbookResult {
  const { batch, T, X, H } = p;
  const P = (name: string) => {
    const a = p.params[name];
    if (!a) throw new Error(`textbook ${p.cell}: no param ${name}`);
    return a;
  };
  const states = textbookStates[p.cell];
  const y = new Float64Array(batch * T * H);
  const dx = new Float64Array(batch * T * X);
  const final = Object.fromEntries(states.map((s) => [s, new Float64Array(batch * H)]));
  const dinitial = Object.fromEntries(states.map((s) => [s, new Float64Array(batch * H)]));
  const dparams = Object.fromEntries(paramNames[p.cell].map((n) => [n, new Float64Array(P(n).length)]));
  const start = (s: string, b: number) => Float64Array.from({ length: H }, (_, k) => (p.initial?.[s] ? p.initial[s]![b * H + k]! : 0));

  for (let b = 0; b < batch; b++) {
    const L = Math.max(0, Math.min(T, p.lengths ? p.lengths[b]! : T));
    const xAt = (t: number) => (b * T + t) * X;
    const uy = (t: number, k: number) => p.upstream.y[(b * T + t) * H + k]!;
    const ufinal = (s: string) => Float64Array.from({ length: H }, (_, k) => p.upstream.final[s]![b * H + k]!);

    if (p.cell === 'lstm') {
      const [Wi, Wf, Wg, Wo, Ui, Uf, Ug, Uo, bi, bf, bg, bo] = paramNames.lstm.map(P) as ArrayLike<number>[];
      // Forward, saving what the backward reads: the states before each step, the gates, tanh(c').
      const hs: Float64Array[] = [start('h', b)];
      const cs: Float64Array[] = [start('c', b)];
      const gates: { i: Float64Array; f: Float64Array; g: Float64Array; o: Float64Array; tc: Float64Array }[] = [];
      for (let t = 0; t < L; t++) {
        const h = hs[t]!;
        const c = cs[t]!;
        const pre = (W: ArrayLike<number>, U: ArrayLike<number>, bias: ArrayLike<number>) => {
          const a = matvec(W, p.x, xAt(t), H, X);
          const u = matvec(U, h, 0, H, H);
          for (let k = 0; k < H; k++) a[k]! += u[k]! + bias[k]!;
          return a;
        };
        const i = pre(Wi!, Ui!, bi!).map(sigmoid);
        const f = pre(Wf!, Uf!, bf!).map(sigmoid);
        const g = pre(Wg!, Ug!, bg!).map(Math.tanh);
        const o = pre(Wo!, Uo!, bo!).map(sigmoid);
        const c2 = new Float64Array(H);
        const tc = new Float64Array(H);
        const h2 = new Float64Array(H);
        for (let k = 0; k < H; k++) {
          c2[k] = f[k]! * c[k]! + i[k]! * g[k]!;
          tc[k] = Math.tanh(c2[k]!);
          h2[k] = o[k]! * tc[k]!;
          y[(b * T + t) * H + k] = h2[k]!;
        }
        hs.push(h2);
        cs.push(c2);
        gates.push({ i, f, g, o, tc });
      }
      final.h!.set(hs[L]!, b * H);
      final.c!.set(cs[L]!, b * H);

      // Backward through time: dh and dc are the adjoints of the state after step t.
      let dh = ufinal('h');
      let dc = ufinal('c');
      for (let t = L - 1; t >= 0; t--) {
        const { i, f, g, o, tc } = gates[t]!;
        const hPrev = hs[t]!;
        const cPrev = cs[t]!;
        const dai = new Float64Array(H);
        const daf = new Float64Array(H);
        const dag = new Float64Array(H);
        const dao = new Float64Array(H);
        const dcPrev = new Float64Array(H);
        for (let k = 0; k < H; k++) {
          const dhk = dh[k]! + uy(t, k);
          const dck = dc[k]! + dhk * o[k]! * (1 - tc[k]! * tc[k]!);
          dao[k] = dhk * tc[k]! * o[k]! * (1 - o[k]!);
          dai[k] = dck * g[k]! * i[k]! * (1 - i[k]!);
          dag[k] = dck * i[k]! * (1 - g[k]! * g[k]!);
          daf[k] = dck * cPrev[k]! * f[k]! * (1 - f[k]!);
          dcPrev[k] = dck * f[k]!;
        }
        const dhPrev = new Float64Array(H);
        const gate = (da: Float64Array, W: string, U: string, bias: string) => {
          addOuter(dparams[W]!, da, p.x, xAt(t), H, X);
          addOuter(dparams[U]!, da, hPrev, 0, H, H);
          addTo(dparams[bias]!, da);
          addTransposed(dx, xAt(t), P(W), da, H, X);
          addTransposed(dhPrev, 0, P(U), da, H, H);
        };
        gate(dai, 'Wi', 'Ui', 'bi');
        gate(daf, 'Wf', 'Uf', 'bf');
        gate(dag, 'Wg', 'Ug', 'bg');
        gate(dao, 'Wo', 'Uo', 'bo');
        dh = dhPrev;
        dc = dcPrev;
      }
      dinitial.h!.set(dh, b * H);
      dinitial.c!.set(dc, b * H);
    } else {
      const [Wz, Wr, Wn, Uz, Ur, Un, bz, br, bn, bhn] = paramNames.gru.map(P) as ArrayLike<number>[];
      const hs: Float64Array[] = [start('h', b)];
      const saved: { z: Float64Array; r: Float64Array; n: Float64Array; hn: Float64Array }[] = [];
      for (let t = 0; t < L; t++) {
        const h = hs[t]!;
        const wz = matvec(Wz!, p.x, xAt(t), H, X);
        const wr = matvec(Wr!, p.x, xAt(t), H, X);
        const wn = matvec(Wn!, p.x, xAt(t), H, X);
        const uz = matvec(Uz!, h, 0, H, H);
        const ur = matvec(Ur!, h, 0, H, H);
        const un = matvec(Un!, h, 0, H, H);
        const z = new Float64Array(H);
        const r = new Float64Array(H);
        const n = new Float64Array(H);
        const hn = new Float64Array(H);
        const h2 = new Float64Array(H);
        for (let k = 0; k < H; k++) {
          z[k] = sigmoid(wz[k]! + uz[k]! + bz![k]!);
          r[k] = sigmoid(wr[k]! + ur[k]! + br![k]!);
          hn[k] = un[k]! + bhn![k]!;
          n[k] = Math.tanh(wn[k]! + bn![k]! + r[k]! * hn[k]!);
          h2[k] = (1 - z[k]!) * n[k]! + z[k]! * h[k]!;
          y[(b * T + t) * H + k] = h2[k]!;
        }
        hs.push(h2);
        saved.push({ z, r, n, hn });
      }
      final.h!.set(hs[L]!, b * H);

      let dh = ufinal('h');
      for (let t = L - 1; t >= 0; t--) {
        const { z, r, n, hn } = saved[t]!;
        const hPrev = hs[t]!;
        const daz = new Float64Array(H);
        const dar = new Float64Array(H);
        const dan = new Float64Array(H);
        const dhn = new Float64Array(H);
        const dhPrev = new Float64Array(H);
        for (let k = 0; k < H; k++) {
          const dhk = dh[k]! + uy(t, k);
          dan[k] = dhk * (1 - z[k]!) * (1 - n[k]! * n[k]!);
          daz[k] = dhk * (hPrev[k]! - n[k]!) * z[k]! * (1 - z[k]!);
          dar[k] = dan[k]! * hn[k]! * r[k]! * (1 - r[k]!);
          dhn[k] = dan[k]! * r[k]!;
          dhPrev[k] = dhk * z[k]!;
        }
        addOuter(dparams.Wz!, daz, p.x, xAt(t), H, X);
        addOuter(dparams.Wr!, dar, p.x, xAt(t), H, X);
        addOuter(dparams.Wn!, dan, p.x, xAt(t), H, X);
        addOuter(dparams.Uz!, daz, hPrev, 0, H, H);
        addOuter(dparams.Ur!, dar, hPrev, 0, H, H);
        addOuter(dparams.Un!, dhn, hPrev, 0, H, H);
        addTo(dparams.bz!, daz);
        addTo(dparams.br!, dar);
        addTo(dparams.bn!, dan);
        addTo(dparams.bhn!, dhn);
        addTransposed(dx, xAt(t), Wz!, daz, H, X);
        addTransposed(dx, xAt(t), Wr!, dar, H, X);
        addTransposed(dx, xAt(t), Wn!, dan, H, X);
        addTransposed(dhPrev, 0, Uz!, daz, H, H);
        addTransposed(dhPrev, 0, Ur!, dar, H, H);
        addTransposed(dhPrev, 0, Un!, dhn, H, H);
        dh = dhPrev;
      }
      dinitial.h!.set(dh, b * H);
    }
  }
  return { y, final, dx, dparams, dinitial };
}

/** The loss Σ upstream.y · y + Σ upstream.final · final of the textbook forward (for finite differences). */
export function textbookLoss(p: TextbookProblem): number {
  const r = textbook(p);
  let total = 0;
  for (let i = 0; i < r.y.length; i++) total += p.upstream.y[i]! * r.y[i]!;
  for (const [s, a] of Object.entries(r.final)) for (let i = 0; i < a.length; i++) total += p.upstream.final[s]![i]! * a[i]!;
  return total;
}
