// Golden layouts: tricky specs and how the formatter lays them out (the style: docs/format.md).
// Each is also formatted a second time, which must change nothing.
import { describe, expect, it } from 'vitest';
import { fmt } from './meaning.js';

const cases: [title: string, input: string, expected: string][] = [
  [
    'comments everywhere stay: above and at the end of lines, on the brace line, between operands, after =, and around the file',
    `// A header comment.

// Another, after a blank line.
rnn cell { // on the brace line
  dims D = 4, N   // aligned by hand
  input  x[D]     // aligned by hand
  // above the state
  state  h[D] = 0



  let a[i] = x[i] + // after the operator
    h[i]
  let b[i] = x[i]
    // above the operator
    - h[i]
  let c = // after =
    1
  h[i] <- a[i] * b[i] + x[ // inside brackets
    i]
  structure // inside a structure
    diagonal

  // at the end of the block
}
// after the file
`,
    `// A header comment.

// Another, after a blank line.
rnn cell { // on the brace line
  dims D = 4, N   // aligned by hand
  input  x[D]     // aligned by hand
  // above the state
  state  h[D] = 0

  let a[i] = x[i] // after the operator
    + h[i]
  let b[i] = x[i]
    // above the operator
    - h[i]
  let c = // after =
    1
  h[i] <- a[i] * b[i] + x[i] // inside brackets
  structure diagonal // inside a structure

  // at the end of the block
}
// after the file
`,
  ],
  [
    'long lines break: declarations fill and align, calls break inside, chains before their operators',
    `rnn long {
  dims D = 64
  input  query_projection[D], key_projection[D], value_projection[D], forget_gate_logits[D], input_gate_logits[D]
  state  h[D] = 0
  let gate[i] = sigmoid(sum(j: query_projection[j] * key_projection[j]) + forget_gate_logits[i] - input_gate_logits[i])
  h[i] <- sigmoid(forget_gate_logits[i]) * h[i] + (1 - sigmoid(forget_gate_logits[i])) * value_projection[i] * gate[i]
  output y[i] = select(h[i] > query_projection[i] * key_projection[i] * value_projection[i], h[i], -h[i] / gate[i])
}
`,
    `rnn long {
  dims D = 64
  input  query_projection[D], key_projection[D], value_projection[D], forget_gate_logits[D],
         input_gate_logits[D]
  state  h[D] = 0
  let gate[i] = sigmoid(
    sum(j: query_projection[j] * key_projection[j]) + forget_gate_logits[i] - input_gate_logits[i]
  )
  h[i] <- sigmoid(forget_gate_logits[i]) * h[i]
    + (1 - sigmoid(forget_gate_logits[i])) * value_projection[i] * gate[i]
  output y[i] = select(
    h[i] > query_projection[i] * key_projection[i] * value_projection[i],
    h[i],
    -h[i] / gate[i]
  )
}
`,
  ],
  [
    'nested reductions break from the outside in',
    `rnn nested {
  dims D = 4, N = 4, M = 4
  input  x[D, N, M], w[D, N, M]
  state  h[D] = 0
  let s[d] = sum(n: sum(m: max(k: x[d, n, m] * w[d, n, m] + x[d, k, m] * w[d, k, m] + x[d, n, k] * w[d, n, k] + x[d, k, k] * w[d, k, k] + x[d, n, n] * w[d, n, n])))
  h[d] <- h[d] + s[d]
  output y[d] = logsumexp(n: sum(m: x[d, n, m]))
}
`,
    `rnn nested {
  dims D = 4, N = 4, M = 4
  input  x[D, N, M], w[D, N, M]
  state  h[D] = 0
  let s[d] = sum(n:
    sum(m:
      max(k:
        x[d, n, m] * w[d, n, m]
          + x[d, k, m] * w[d, k, m]
          + x[d, n, k] * w[d, n, k]
          + x[d, k, k] * w[d, k, k]
          + x[d, n, n] * w[d, n, n]
      )
    )
  )
  h[d] <- h[d] + s[d]
  output y[d] = logsumexp(n: sum(m: x[d, n, m]))
}
`,
  ],
  [
    'spacing, one item per line, blank lines, tabs, CRLF and trailing blanks are normalized',
    'rnn   spaced{dims D=4 input x[D,  D] param w[D] state h[D]=0 let a[i]=-x[i,i]*w[i] h[i]<-a[i]+  h[i]\r\n\r\n\r\n\toutput y[i]=h[i]   \r\n\r\n}',
    `rnn spaced {
  dims D = 4
  input  x[D, D]
  param  w[D]
  state  h[D] = 0
  let a[i] = -x[i, i] * w[i]
  h[i] <- a[i] + h[i]

  output y[i] = h[i]
}
`,
  ],
  [
    'a monoid block, with element and identity aligned',
    `rnn m { dims D = 2 input s, v[D] state m = -inf, u = 0, w[D] = 0
monoid { element m = s, u = 1, w[d] = v[d] identity m = -inf, u = 0, w[d] = 0
combine(a, b) { let top = max(a.m, b.m) m = top u = a.u * exp(a.m - top) + b.u * exp(b.m - top) w[d] = a.w[d] * exp(a.m - top) + b.w[d] * exp(b.m - top) } }
output o[d] = w[d] / u }`,
    `rnn m {
  dims D = 2
  input  s, v[D]
  state  m = -inf, u = 0, w[D] = 0
  monoid {
    element  m = s, u = 1, w[d] = v[d]
    identity m = -inf, u = 0, w[d] = 0
    combine(a, b) {
      let top = max(a.m, b.m)
      m = top
      u = a.u * exp(a.m - top) + b.u * exp(b.m - top)
      w[d] = a.w[d] * exp(a.m - top) + b.w[d] * exp(b.m - top)
    }
  }
  output o[d] = w[d] / u
}
`,
  ],
  [
    'an empty cell',
    `rnn e {   }`,
    `rnn e {}
`,
  ],
];

describe('fmt layouts', () => {
  it.each(cases)('%s', async (_title, input, expected) => {
    const once = await fmt(input);
    expect(once).toBe(expected);
    expect(await fmt(once)).toBe(once);
  });
});
