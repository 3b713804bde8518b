// Hand-built scan plans, so the scan backend can be tested on its own: a diagonal sum_prod cell
// h[d] <- a[d] * h[d] + b[d], whose element is (a, b) and whose combine is (a1 a2, a2 b1 + b2).
import type { ScanPlan } from '../../src/compiler/analyse/types.js';
import type { Def, Node, Source } from '../../src/compiler/ir/ir.js';

const span = { start: 0, end: 0, line: 1, col: 1 } as unknown as Def['span'];

type Spec = ['const', number] | ['load', Source, string, string[], ('old' | 'new')?] | [string, ...number[]];

/** A definition over `vars` (all of dim D) from a list of node specs; the last node is the root. */
function def(kind: Def['kind'], target: string, vars: string[], specs: Spec[], dim = 'D'): Def {
  const nodes = specs.map((s, id): Node => {
    const base = { id, type: 'f32' as const, space: vars, dep: 'state' as const, span };
    if (s[0] === 'const') return { ...base, op: 'const', value: s[1] as number, space: [] };
    if (s[0] === 'load') return { ...base, op: 'load', source: s[1] as Source, tensor: s[2] as string, index: s[3] as string[], ...(s[4] ? { version: s[4] as 'old' | 'new' } : {}) };
    return { ...base, op: 'binary', fn: s[0] as 'add', args: [s[1] as number, s[2] as number] };
  });
  return { kind, target, vars: vars.map((name) => ({ name, dim })), nodes, root: nodes.length - 1, dep: 'state', phase: 'core', span };
}

/** The plan for `h[d] <- a[d] * h[d] + b[d]` with inputs a, b. */
export function diagonalSumProdPlan(): ScanPlan {
  const d = ['d'];
  return {
    fields: [def('element', 'h.a', d, [['load', 'input', 'a', d]]), def('element', 'h.b', d, [['load', 'input', 'b', d]])],
    combine: [
      def('combine', 'h.a', d, [['load', 'left', 'h.a', d], ['load', 'right', 'h.a', d], ['mul', 0, 1]]),
      def('combine', 'h.b', d, [['load', 'right', 'h.a', d], ['load', 'left', 'h.b', d], ['mul', 0, 1], ['load', 'right', 'h.b', d], ['add', 2, 3]]),
    ],
    identity: [def('identity', 'h.a', d, [['const', 1]]), def('identity', 'h.b', d, [['const', 0]])],
    apply: [def('update', 'h', d, [['load', 'right', 'h.a', d], ['load', 'state', 'h', d, 'old'], ['mul', 0, 1], ['load', 'right', 'h.b', d], ['add', 2, 3]])],
  };
}

export const diagonalSource = `rnn diag {
  dims D = 4
  input a[D], b[D]
  state h[D] = 0
  h[d] <- a[d] * h[d] + b[d]
  output y[d] = h[d]
}
`;
