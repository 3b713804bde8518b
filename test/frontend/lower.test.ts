// Focused lowering tests: which version of a state a load reads, the phase of each definition,
// and hash-consing of equal subexpressions.
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import type { Def, Module, Node } from '../../src/compiler/ir/ir.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';

function lowered(text: string): Module {
  const result = frontEnd(text);
  expect(result.diagnostics).toEqual([]);
  expect(verifyModule(result.module!)).toEqual([]);
  return result.module!;
}

const def = (m: Module, target: string): Def => m.step.find((d) => d.target === target)!;
const stateLoads = (d: Def) => d.nodes.filter((n): n is Extract<Node, { op: 'load' }> => n.op === 'load' && n.source === 'state').map((n) => `${n.tensor}.${n.version}`);

describe('lowering', () => {
  it('reads the old state before its update and the new one after it', () => {
    const m = lowered(`rnn c {
      input x
      state h = 0, c = 0
      let before = h + c
      c <- c + x
      h <- h + c
      output y = h + c
    }`);
    expect(stateLoads(def(m, 'before'))).toEqual(['h.old', 'c.old']);
    expect(stateLoads(def(m, 'c'))).toEqual(['c.old']);
    // h's own update reads h before it, and c after c's update on the line above.
    expect(stateLoads(def(m, 'h'))).toEqual(['h.old', 'c.new']);
    expect(stateLoads(def(m, 'y'))).toEqual(['h.new', 'c.new']);
  });

  it('puts each definition in its phase of the time loop', () => {
    const m = lowered(`rnn c {
      dims D = 4
      input x[D]
      param w[D]
      state h[D] = 0
      let scale[d] = exp(w[d])
      let drive[d] = scale[d] * x[d]
      let gate[d] = sigmoid(h[d])
      h[d] <- gate[d] * h[d] + drive[d]
      output y[d] = h[d]
    }`);
    expect(m.step.map((d) => [d.target, d.phase, d.dep])).toEqual([
      ['scale', 'invariant', 'param'],
      ['drive', 'parallel', 'input'],
      ['gate', 'core', 'state'],
      ['h', 'core', 'state'],
      ['y', 'after', 'state'],
    ]);
  });

  it('shares one node between equal subexpressions', () => {
    const m = lowered(`rnn c {
      dims D = 4
      input x[D]
      state h[D] = 0
      h[d] <- exp(x[d]) * h[d] + exp(x[d])
    }`);
    const h = def(m, 'h');
    expect(h.nodes.filter((n) => n.op === 'unary' && n.fn === 'exp')).toHaveLength(1);
    expect(h.nodes.filter((n) => n.op === 'load' && n.tensor === 'x')).toHaveLength(1);
    const root = h.nodes[h.root]!;
    expect(root.op === 'binary' && root.fn).toBe('add');
    const [product, exp] = (root as Extract<Node, { op: 'binary' }>).args;
    expect((h.nodes[product!] as Extract<Node, { op: 'binary' }>).args[0]).toBe(exp);
  });

  it('records the index variables a load reads through, reductions included', () => {
    const m = lowered(`rnn c {
      dims D = 4, N = 2
      param A[D, N]
      state h[N] = 0
      h[n] <- sum(d: A[d, n] * h[n])
    }`);
    const h = def(m, 'h');
    expect(h.vars).toEqual([{ name: 'n', dim: 'N' }]);
    const reduce = h.nodes.find((n) => n.op === 'reduce')!;
    expect(reduce).toMatchObject({ fn: 'sum', over: { name: 'd', dim: 'D' }, space: ['n'] });
    expect(h.nodes.find((n) => n.op === 'load' && n.tensor === 'A')).toMatchObject({ index: ['d', 'n'], space: ['n', 'd'] });
  });
});
