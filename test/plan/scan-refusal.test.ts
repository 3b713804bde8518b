// `--mode scan` refused: "not associative (why)" and "associative, but not planned as a scan (why)" are
// two different answers (issue 12). Each is pinned here, on the CPU: planning needs no device.
import { describe, expect, it } from 'vitest';
import { compile } from '../../src/driver/index.js';

const refusal = (text: string): string => {
  try {
    compile(text, { mode: 'scan' });
  } catch (e) {
    return (e as Error).message;
  }
  throw new Error('expected --mode scan to be refused');
};

describe('why --mode scan is refused', () => {
  it('not associative: the state is read inside a nonlinear function, and the reason names the state it is about', () => {
    // mLSTM: `m` is a (max, +) scan; `c` and `n` decay by exp(... - m), a nonlinear function of `m`.
    const text = `rnn mlstm {
  dims D = 4
  input li[D], lf[D], v[D]
  state m[D] = -inf, c[D] = 0, n[D] = 0
  let mnew[d] = max(lf[d] + m[d], li[d])
  let fg[d] = exp(lf[d] + m[d] - mnew[d])
  let ig[d] = exp(li[d] - mnew[d])
  c[d] <- fg[d] * c[d] + ig[d] * v[d]
  n[d] <- fg[d] * n[d] + ig[d]
  m[d] <- mnew[d]
  output y[d] = c[d] / n[d]
}
`;
    expect(refusal(text)).toBe(
      'rnnc: mlstm cannot take --mode scan: `c` is not an associative recurrence: the update of `c` reads `m` inside `exp`; ' +
        '`n` is not an associative recurrence: the update of `n` reads `m` inside `exp` (see rnnc check); compile it with --mode seq or --mode auto',
    );
  });

  it('associative, but coupled: the states are not planned as a scan, and where the coupling is', () => {
    const text = `rnn cascade {
  dims H = 4
  input x[H]
  state h1[H] = 0, h2[H] = 0
  h1[i] <- 0.5 * h1[i] + x[i]
  h2[i] <- 0.5 * h2[i] + h1[i]
}
`;
    expect(refusal(text)).toBe(
      'rnnc: cascade cannot take --mode scan: `h2` is associative jointly with other states, but coupled ones are not planned as a scan: the update of `h2` reads state `h1` (see rnnc check); compile it with --mode seq or --mode auto',
    );
  });

  it('associative, but a transition the planner does not take', () => {
    const text = `rnn transpose {
  dims N = 2
  input a[N]
  state S[N, N] = 0
  S[i, j] <- a[i] * S[j, i]
}
`;
    expect(refusal(text)).toBe(
      'rnnc: transpose cannot take --mode scan: `S` is associative, but not planned as a scan: `S` is read as `S[j, i]` (see rnnc check); compile it with --mode seq or --mode auto',
    );
  });

  it('associative, and planned by the analysis, but the scan kernels do not take it', () => {
    // Outputs that reduce over 300 lanes: a reduction's lanes share a workgroup, over its invocations
    // (lanes of different reductions are spread over workgroups: test/scan/lane-blocks.test.ts).
    const text = `rnn wide_lanes {
  dims N = 16, M = 300
  input x[M]
  state h[N, M] = 0
  h[i, j] <- x[j] * h[i, j] + 1
  output y[i] = sum(j: h[i, j])
}
`;
    expect(refusal(text)).toBe(
      'rnnc: wide_lanes cannot take --mode scan: every state is an associative recurrence, but the scan kernels do not take this cell: `y` reduces over M: the 300 lanes along M must share one workgroup, over 256 invocations (lower --dim M); compile it with --mode seq or --mode auto',
    );
  });
});
