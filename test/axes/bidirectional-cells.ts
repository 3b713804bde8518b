// Bidirectional cells for the tests beside examples/bimamba.rnn (whose diagonal transitions the chunked
// kernels do not take): a DeltaNet forward and another DeltaNet in the `reversed` block, a
// matrix-affine cell in each direction, that meet in inputs (q, v), a param and lets of params read
// across the block both ways; the block's state starts at a param.
export const BIDELTA = `rnn bidelta {
  dims K = 4, V = 4
  input  q[K], k[K], v[V], b, kb[K], bb
  param  scale, R0[V, K]
  state  S[V, K] = 0

  let half = scale * 0.5
  let kn[j] = k[j] / sqrt(sum(l: k[l] * k[l]) + 0.000001)
  let beta = sigmoid(b)
  let pred[i] = sum(j: S[i, j] * kn[j])
  S[i, j] <- S[i, j] - beta * pred[i] * kn[j] + beta * v[i] * kn[j]

  reversed {
    state  R[V, K] = R0
    let two = scale * 2
    let knb[j] = kb[j] / sqrt(sum(l: kb[l] * kb[l]) + 0.000001)
    let betab = sigmoid(bb)
    let predb[i] = sum(j: R[i, j] * knb[j])
    R[i, j] <- R[i, j] - betab * predb[i] * knb[j] + betab * v[i] * knb[j]
    output ob[i] = half * sum(j: R[i, j] * q[j])
  }

  output o[i] = two * sum(j: S[i, j] * q[j])

  structure lowrank(1)
}
`;
