// The linearisation (src/compiler/newton/linearise.ts): its J against central finite differences of
// the reference step, its b = f − J s*, f against the step itself, and the structure it finds.
import { describe, expect, it } from 'vitest';
import { linearise, NewtonError } from '../../src/compiler/newton/linearise.js';
import { affineSystem } from '../../src/compiler/newton/affine.js';
import { tensorsOf, type Module } from '../../src/compiler/ir/ir.js';
import { tensorSize } from '../../src/compiler/ir/dims.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';
import { plan, sizesOf } from '../../src/driver/compile.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { randomRunData } from '../../src/driver/data.js';
import { interpret, type RunData } from '../../src/runtime/reference/interpreter.js';
import { cellFrom } from './helpers.js';

// Pointwise builtins and reductions the gates of a cell might use, all reading the state.
const zoo = `rnn zoo {
  dims X = 3, H = 4
  input  x[X]
  param  W[H, X], U[H, H], v[H]
  state  h[H] = 0.5, c[H] = 0.25

  let a[k] = logsumexp(m: U[k, m] * h[m] + c[m])
  let g[k] = select(h[k] > 0, softplus(h[k]), exp(h[k]) - 1)
  let q[k] = sum(j: W[k, j] * x[j]) / (2 + abs(c[k]))
  h[k] <- tanh(a[k] * v[k]) + g[k] * sigmoid(q[k]) + relu(c[k] - h[k]) * 0.1 - sqrt(1 + h[k] * h[k]) * 0.2
  c[k] <- 0.9 * c[k] + 0.1 * log(1 + h[k] * h[k]) + max(c[k], -1) * 0.05
  output y[k] = h[k] + c[k]
}`;

// A state of another shape: J is one dense matrix over the stacked [H] and [H, N] states.
const mixed = `rnn mixed {
  dims X = 2, H = 3, N = 2
  input  x[X]
  param  W[H, X], A[H, N]
  state  h[H] = 0, s[H, N] = 0

  s[k, n] <- tanh(A[k, n] * s[k, n] + h[k])
  h[k] <- sigmoid(sum(j: W[k, j] * x[j]) + sum(n: s[k, n]))
  output y[k] = h[k]
}`;

const cells: [string, string, 'diagonal' | 'dense'][] = [
  ['gru', 'gru', 'dense'],
  ['lstm', 'lstm', 'dense'],
  ['gru_diag', 'gru_diag', 'diagonal'],
  ['lstm_diag', 'lstm_diag', 'diagonal'],
  ['mingru', 'mingru', 'diagonal'],
  ['mamba_s6 (a state over [D, N])', 'mamba_s6', 'diagonal'],
  ['zoo (logsumexp, select, abs, div, relu, sqrt, log, max)', zoo, 'dense'],
  ['mixed (states of two shapes)', mixed, 'dense'],
];

const f64 = (r: Record<string, Float32Array | Float64Array>) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Float64Array.from(v)]));

/** One step of the cell from `initial` (T = 1, batch 1): the new states. */
function step(m: Module, sizes: Record<string, number>, data: RunData, initial: Record<string, Float64Array>): Record<string, Float64Array> {
  return interpret(m, { batch: 1, T: 1, sizes }, { ...data, initial }).final;
}

describe('linearise', () => {
  for (const [label, source, structure] of cells) {
    it(`${label}: J = central finite differences of the step, b = f − J s*, f = the step (J ${structure})`, () => {
      const { module: m } = cellFrom(source);
      const sizes = sizesOf(m);
      const L = linearise(m);
      expect(L.structure).toBe(structure);
      expect(verifyModule(L.module)).toEqual([]);
      const raw = randomRunData(m, { batch: 1, T: 1, sizes }, 5, { initial: true, range: [-0.8, 0.8] });
      const data: RunData = { inputs: f64(raw.inputs), params: f64(raw.params) };
      const s0 = f64(raw.initial!);
      const eyes = Object.fromEntries(
        L.eyes.map((e) => {
          const n = tensorSize(m.tensors.find((t) => t.name === e.state)!, sizes);
          const eye = new Float64Array(n * n);
          for (let i = 0; i < n; i++) eye[i * n + i] = 1;
          return [e.param, eye];
        }),
      );
      const lin = interpret(L.module, { batch: 1, T: 1, sizes }, { inputs: { ...data.inputs, ...s0 }, params: { ...data.params, ...eyes } }).outputs;
      const states = tensorsOf(m, 'state');
      const f = step(m, sizes, data, s0);
      const eps = 1e-6;
      for (const p of states) {
        const n = tensorSize(p, sizes);
        const st = L.states.find((s) => s.name === p.name)!;
        for (let i = 0; i < n; i++) expect(lin[st.value]![i]).toBeCloseTo(f[p.name]![i]!, 12);
        const Js = new Float64Array(n);
        for (const q of states) {
          const nq = tensorSize(q, sizes);
          const block = L.blocks.find((b) => b.row === p.name && b.col === q.name);
          for (let j = 0; j < nq; j++) {
            const plus = { ...s0, [q.name]: Float64Array.from(s0[q.name]!) };
            const minus = { ...s0, [q.name]: Float64Array.from(s0[q.name]!) };
            plus[q.name]![j]! += eps;
            minus[q.name]![j]! -= eps;
            const [fp, fm] = [step(m, sizes, data, plus)[p.name]!, step(m, sizes, data, minus)[p.name]!];
            for (let i = 0; i < n; i++) {
              const fd = (fp[i]! - fm[i]!) / (2 * eps);
              let got = 0;
              if (block?.kind === 'output') {
                const J = lin[block.output]!;
                got = L.structure === 'dense' ? J[i * nq + j]! : i === j ? J[i]! : 0;
              } else if (block?.kind === 'identity') got = i === j ? 1 : 0;
              // The diagonal structure claims every off-diagonal derivative is 0: the differences check that too.
              expect(Math.abs(got - fd), `∂${p.name}[${i}]/∂${q.name}[${j}]: ${got} vs ${fd}`).toBeLessThan(1e-6 * (1 + Math.abs(fd)));
              Js[i]! += got * s0[q.name]![j]!;
            }
          }
        }
        for (let i = 0; i < n; i++) expect(lin[st.affine]![i]).toBeCloseTo(f[p.name]![i]! - Js[i]!, 10);
      }
    });
  }

  it('names why J is dense: a gate reads the state through another index', () => {
    expect(linearise(cellFrom('gru').module).why).toMatch(/`h` is read through \[m\]/);
    expect(linearise(cellFrom(mixed).module).why).toMatch(/different shapes/);
    expect(linearise(cellFrom('lstm_diag').module).why).toMatch(/2×2 blocks/);
  });

  it('the linear system is a scan cell of the right shape for each structure', () => {
    const shapes: [string, RegExp, string][] = [
      ['gru_diag', /z0\[i0\] <- J0_0\[i0\] \* z0\[i0\] \+ b0\[i0\]/, "lanes of 2 floats"],
      ['lstm_diag', /z1\[i0\] = b\.a1_0\[i0\] \* a\.z0\[i0\] \+ b\.a1_1\[i0\] \* a\.z1\[i0\] \+ b\.z1\[i0\]/, "lanes of 6 floats"],
      ['lstm', /z\[i\] <- sum\(j: J\[i, j\] \* z\[j\]\) \+ b\[i\]/, "one element of 273 floats"],
    ];
    for (const [name, text, element] of shapes) {
      const { module: m } = cellFrom(name);
      const sys = affineSystem(linearise(m), sizesOf(m), 'sys');
      expect(sys.text).toMatch(text);
      const r = frontEnd(sys.text);
      expect(r.module, r.diagnostics.map((d) => d.message).join('\n')).toBeDefined();
      expect(r.analysis!.plan, `${name}: the system is an associative recurrence`).toBeDefined();
      expect(plan(r.module!, r.analysis!, { mode: 'scan' }).plan.why).toContain(element);
    }
  });

  it('refuses a monoid cell (it is a scan already) and a max reduction over state-dependent terms, saying why', () => {
    expect(() => linearise(cellFrom('aaren').module)).toThrow(NewtonError);
    const maxCell = `rnn mx {
      dims H = 3
      input x[H]
      param U[H, H]
      state h[H] = 0
      h[k] <- tanh(max(m: U[k, m] * h[m]) + x[k])
      output y[k] = h[k]
    }`;
    expect(() => linearise(cellFrom(maxCell).module)).toThrow(/shared by ties/);
  });
});
