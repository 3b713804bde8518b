// The linear system of one Newton iteration as a cell: `z_t = J_t z_{t-1} + b_t`, with J and b
// per-step inputs. The structure of J (linearise.ts) decides its shape, and the analysis then finds
// the scan element the scan backend runs:
// - diagonal, one state:   z[v] <- J[v] * z[v] + b[v]                        (a (+, ×) lane per element);
// - diagonal, P states:    z[v, p] <- sum(q: J[v, p, q] * z[v, q]) + b[v, p]  (a P×P block per element);
// - dense:                 z[i] <- sum(j: J[i, j] * z[j]) + b[i]              (the stacked state, S = Σ sizes).
// It is .rnn text, parsed by the driver's front end like any spec (so it is checked, lowered and
// analysed by the same passes), plus where each state's elements sit in the stacked vector z.
import type { DimSizes } from '../ir/dims.js';
import type { Linearisation } from './linearise.js';

export interface AffineSystem {
  /** The cell's source: state `z`, inputs `J` and `b`, output `y` (= z after each step). */
  text: string;
  /** Elements of z per sequence. */
  width: number;
  /** Where element `i` (row-major over the state's dims) of state number `p` sits in z. */
  position: (p: number, i: number) => number;
  /** Where ∂z[row]/∂z[col] sits in J (per step), for positions in z. */
  jacobianAt: (row: number, col: number) => number;
  /** Elements of J per step. */
  jacobianWidth: number;
}

export function affineSystem(l: Linearisation, sizes: DimSizes, name: string): AffineSystem {
  const sizeOf = (dims: string[]) => dims.reduce((n, d) => n * sizes[d]!, 1);
  const P = l.states.length;
  if (l.structure === 'diagonal') {
    const dims = l.states[0]!.dims.map((d) => sizes[d]!);
    const n = sizeOf(l.states[0]!.dims);
    const dimNames = dims.map((_, k) => `D${k}`);
    const idx = dims.map((_, k) => `i${k}`);
    const decl = dims.map((s, k) => `${dimNames[k]} = ${s}`);
    if (P === 1) {
      const at = `[${idx.join(', ')}]`;
      const shape = `[${dimNames.join(', ')}]`;
      const text = [`rnn ${name} {`, `  dims ${decl.join(', ')}`, `  input J${shape}, b${shape}`, `  state z${shape} = 0`, `  z${at} <- J${at} * z${at} + b${at}`, `  output y${at} = z${at}`, '}', ''].join('\n');
      return { text, width: n, position: (_p, i) => i, jacobianAt: (row) => row, jacobianWidth: n };
    }
    const at = `[${[...idx, 'p'].join(', ')}]`;
    const shape = `[${[...dimNames, 'P'].join(', ')}]`;
    const text = [
      `rnn ${name} {`,
      `  dims ${[...decl, `P = ${P}`].join(', ')}`,
      `  input J[${[...dimNames, 'P', 'P'].join(', ')}], b${shape}`,
      `  state z${shape} = 0`,
      `  z${at} <- sum(q: J[${[...idx, 'p', 'q'].join(', ')}] * z[${[...idx, 'q'].join(', ')}]) + b${at}`,
      `  output y${at} = z${at}`,
      '}',
      '',
    ].join('\n');
    // z[v, p] at v·P + p; J[v, p, q] at (v·P + p)·P + q, and only rows and columns of one v meet.
    return { text, width: n * P, position: (p, i) => i * P + p, jacobianAt: (row, col) => row * P + (col % P), jacobianWidth: n * P * P };
  }
  const offsets: number[] = [];
  let S = 0;
  for (const s of l.states) {
    offsets.push(S);
    S += sizeOf(s.dims);
  }
  const text = [`rnn ${name} {`, `  dims S = ${S}`, '  input J[S, S], b[S]', '  state z[S] = 0', '  z[i] <- sum(j: J[i, j] * z[j]) + b[i]', '  output y[i] = z[i]', '}', ''].join('\n');
  return { text, width: S, position: (p, i) => offsets[p]! + i, jacobianAt: (row, col) => row * S + col, jacobianWidth: S * S };
}
