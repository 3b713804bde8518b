// The linear system of one Newton iteration as a cell: `z_t = J_t z_{t-1} + b_t`, with J and b
// per-step inputs. The structure of J (linearise.ts) decides its form, and the analysis then finds
// the scan element the scan backend runs:
// - diagonal, one state: `z0[v] <- J0_0[v] * z0[v] + b0[v]`, a (+, ×) lane per element, reading the
//   linearisation's outputs as they are;
// - diagonal, P states (LSTM: h and c): a P×P block per element. As coupled updates the analysis
//   does not scan it, and as one state [v, P] with `sum(q: …)` the scan gathers every lane into one
//   element; so it is a monoid over the pairs (A, z) with the block product written out per element,
//   pointwise in v, which the scan runs as independent lanes of P² + P floats. Blocks that are 0 or
//   the identity are constants of the text;
// - dense: `z[i] <- sum(j: J[i, j] * z[j]) + b[i]` over the stacked state (S = Σ sizes); the driver
//   packs the blocks into J [S, S] and b [S].
// It is .rnn text, parsed by the driver's front end like any spec (checked, lowered and analysed by
// the same passes).
import type { DimSizes } from '../ir/dims.js';
import type { Linearisation } from './linearise.js';

export interface AffineSystem {
  /** The cell's source. */
  text: string;
  /** 'lanes': inputs `J<p>_<q>` and `b<p>` are the linearisation's blocks and affine parts, state `z<p>` and output `y<p>` per state p; 'stacked': inputs `J` [S, S] and `b` [S], state `z` and output `y` [S]. */
  form: 'lanes' | 'stacked';
  /** Stacked: elements of z per sequence, and where element i of state number p sits in it. */
  width: number;
  position: (p: number, i: number) => number;
}

export function affineSystem(l: Linearisation, sizes: DimSizes, name: string): AffineSystem {
  const sizeOf = (dims: string[]) => dims.reduce((n, d) => n * sizes[d]!, 1);
  if (l.structure === 'dense') {
    const offsets: number[] = [];
    let S = 0;
    for (const s of l.states) {
      offsets.push(S);
      S += sizeOf(s.dims);
    }
    const text = [`rnn ${name} {`, `  dims S = ${S}`, '  input J[S, S], b[S]', '  state z[S] = 0', '  z[i] <- sum(j: J[i, j] * z[j]) + b[i]', '  output y[i] = z[i]', '}', ''].join('\n');
    return { text, form: 'stacked', width: S, position: (p, i) => offsets[p]! + i };
  }
  const P = l.states.length;
  const dims = l.states[0]!.dims.map((d) => sizes[d]!);
  const dimNames = dims.map((_, k) => `D${k}`);
  const at = `[${dims.map((_, k) => `i${k}`).join(', ')}]`;
  const shape = `[${dimNames.join(', ')}]`;
  const index = new Map(l.states.map((s, p) => [s.name, p]));
  /** Block (p, q) of J in the text: an input, 1 (an identity block) or absent (0). */
  const block = (p: number, q: number): string | undefined => {
    const b = l.blocks.find((x) => index.get(x.row) === p && index.get(x.col) === q);
    return b === undefined ? undefined : b.kind === 'identity' ? '1' : `J${p}_${q}${at}`;
  };
  const inputs = [...l.blocks.filter((b) => b.kind === 'output').map((b) => `J${index.get(b.row)}_${index.get(b.col)}${shape}`), ...l.states.map((_, p) => `b${p}${shape}`)];
  const range = [...Array(P).keys()];
  const head = [`rnn ${name} {`, `  dims ${dims.map((s, k) => `${dimNames[k]} = ${s}`).join(', ')}`, `  input ${inputs.join(', ')}`];
  const outputs = range.map((p) => `  output y${p}${at} = z${p}${at}`);
  const sum = (terms: string[]) => (terms.length ? terms.join(' + ') : '0');
  if (P === 1) {
    const j = block(0, 0);
    const text = [...head, `  state z0${shape} = 0`, `  z0${at} <- ${sum([...(j ? [`${j} * z0${at}`] : []), `b0${at}`])}`, ...outputs, '}', ''].join('\n');
    return { text, form: 'lanes', width: 0, position: (_p, i) => i };
  }
  // The monoid of affine maps z ↦ A z + z': (A_a, z_a) then (A_b, z_b) is (A_b A_a, A_b z_a + z_b).
  const pairs = range.flatMap((p) => range.map((q) => [p, q] as const));
  const a = (side: string, p: number, q: number) => `${side}.a${p}_${q}${at}`;
  const text = [
    ...head,
    `  state ${[...pairs.map(([p, q]) => `a${p}_${q}${shape} = ${p === q ? 1 : 0}`), ...range.map((p) => `z${p}${shape} = 0`)].join(', ')}`,
    '  monoid {',
    `    element ${[...pairs.map(([p, q]) => `a${p}_${q}${at} = ${block(p, q) ?? '0'}`), ...range.map((p) => `z${p}${at} = b${p}${at}`)].join(', ')}`,
    `    identity ${[...pairs.map(([p, q]) => `a${p}_${q}${at} = ${p === q ? 1 : 0}`), ...range.map((p) => `z${p}${at} = 0`)].join(', ')}`,
    '    combine(a, b) {',
    ...pairs.map(([p, q]) => `      a${p}_${q}${at} = ${range.map((k) => `${a('b', p, k)} * ${a('a', k, q)}`).join(' + ')}`),
    ...range.map((p) => `      z${p}${at} = ${[...range.map((k) => `${a('b', p, k)} * a.z${k}${at}`), `b.z${p}${at}`].join(' + ')}`),
    '    }',
    '  }',
    ...outputs,
    '}',
    '',
  ].join('\n');
  return { text, form: 'lanes', width: 0, position: (_p, i) => i };
}
