// Cells with time directions for the gradient tests: a reversed nonlinear cell (a param initialises
// its state), a reversed diagonal one (lru, params: the staged backward), and bidirectional bimamba.
import { readFileSync } from 'node:fs';
import { frontEnd } from '../../src/driver/front-end.js';
import type { Module } from '../../src/compiler/ir/ir.js';

export const TANH_REVERSED = `rnn tanhrev reversed {
  dims X = 3, H = 4
  input x[X]
  param W[H, X], U[H, H], b[H], h0[H]
  state h[H] = h0
  h[i] <- tanh(sum(j: W[i, j] * x[j]) + sum(k: U[i, k] * h[k]) + b[i])
  output y[i] = h[i] * h[i]
}
`;

/** examples/lru.rnn as a reversed cell. */
export const LRU_REVERSED = readFileSync('examples/lru.rnn', 'utf8').replace('rnn lru {', 'rnn lru_rev reversed {');

export const BIMAMBA = readFileSync('examples/bimamba.rnn', 'utf8');

export function moduleOf(text: string): Module {
  const { module, diagnostics } = frontEnd(text);
  if (!module) throw new Error(diagnostics.map((d) => `${d.code} ${d.message}`).join('\n'));
  return module;
}

export const directionCells: [string, string][] = [
  ['tanhrev (reversed, nonlinear, a param initialises the state)', TANH_REVERSED],
  ['lru_rev (reversed, diagonal, params)', LRU_REVERSED],
  ['bimamba (bidirectional)', BIMAMBA],
];
