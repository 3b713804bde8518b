// Flat expressions (issue 12): a long `+`/`-` or `*`/`/` chain is not nesting. It parses, checks,
// lowers and analyses without RNN0108 and without a deep recursion in any pass; its value is the
// chain's value. Genuinely deep nesting (parentheses, calls) still gets RNN0108.
import { describe, expect, it } from 'vitest';
import { plan } from '../../src/driver/compile.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { parse, MAX_LEFT_DEEP_CHAIN } from '../../src/compiler/syntax/build-ast.js';
import type * as A from '../../src/compiler/syntax/ast.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';

const cell = (rhs: string, update = 'h[d] + x[d]') => `rnn chain {
  dims D = 2
  input x[D]
  state h[D] = 0
  h[d] <- ${update}
  output y[d] = ${rhs}
}
`;

/** Depth of an AST expression, without recursion. */
function depth(root: A.Expr): number {
  let max = 0;
  const stack: [A.Expr, number][] = [[root, 1]];
  while (stack.length) {
    const [e, d] = stack.pop()!;
    max = Math.max(max, d);
    if (e.kind === 'binary') stack.push([e.left, d + 1], [e.right, d + 1]);
    else if (e.kind === 'neg') stack.push([e.operand, d + 1]);
    else if (e.kind === 'call') for (const a of e.args) stack.push([a, d + 1]);
    else if (e.kind === 'reduce') stack.push([e.body, d + 1]);
  }
  return max;
}

const outputExpr = (text: string): A.Expr => parse(text).ast!.stmts.find((s) => s.kind === 'output')!.rhs;

/** y at the first step for x = (1.5, -2), h starting at 0. */
function firstOutput(text: string): number[] {
  const { module, diagnostics } = frontEnd(text);
  expect(diagnostics).toEqual([]);
  const r = interpret(module!, { batch: 1, T: 1, sizes: { D: 2 } }, { inputs: { x: Float64Array.from([1.5, -2]) }, params: {} });
  return Array.from(r.outputs['y']!);
}

describe('a 20,000-term flat chain', () => {
  it('`x[d] + x[d] + ...` checks clean, and the cell is still a scan', () => {
    const text = cell(Array(20_000).fill('x[d]').join(' + '));
    const r = frontEnd(text);
    expect(r.diagnostics).toEqual([]);
    expect(r.module).toBeDefined();
    expect(r.analysis!.plan).toBeDefined();
    expect(depth(outputExpr(text))).toBeLessThan(40);
  });

  it('20,000 distinct terms `k * x[d]`, with `+` and `-`, check clean', () => {
    const text = cell(Array.from({ length: 20_000 }, (_, k) => `${k + 1} * x[d]`).join(' - '));
    const r = frontEnd(text);
    expect(r.diagnostics).toEqual([]);
    expect(r.module).toBeDefined();
  });

  it('`x[d] * x[d] * ...` checks clean', () => {
    expect(frontEnd(cell(Array(20_000).fill('x[d]').join(' * '))).diagnostics).toEqual([]);
  });

  it('in an update: checks clean; the analysis stops at its size limit and the cell runs sequentially', () => {
    const r = frontEnd(cell('h[d]', ['h[d]', ...Array(20_000).fill('x[d]')].join(' + ')));
    expect(r.diagnostics).toEqual([]);
    const c = r.analysis!.states[0]!.classification;
    expect(c.kind).toBe('nonlinear');
    expect(c.kind === 'nonlinear' && c.reason.message).toBe('the update of `h` is too large to analyse: the expression grows past 4096 terms when `h` is inlined');
    expect(c.kind === 'nonlinear' && c.unanalysed).toBe(true);
    // The scan's refusal says what is known: not that the cell is not associative.
    const refusal = (() => {
      try {
        plan(r.module!, r.analysis!, { mode: 'scan' });
      } catch (e) {
        return (e as Error).message;
      }
    })();
    expect(refusal).toContain('whether `h` is an associative recurrence is unknown: the update of `h` is too large to analyse');
  });
});

describe('the value of a long chain is the value written', () => {
  it(`up to ${MAX_LEFT_DEEP_CHAIN} operands, a chain is left-associative as written: a - b + c is (a - b) + c`, () => {
    const e = outputExpr(cell('x[d] - 2 * x[d] + 3 * x[d]'));
    expect(e.kind === 'binary' && e.op).toBe('+');
    expect(e.kind === 'binary' && e.left.kind === 'binary' && e.left.op).toBe('-');
    const longest = outputExpr(cell(Array(MAX_LEFT_DEEP_CHAIN).fill('x[d]').join(' + ')));
    expect(depth(longest)).toBe(MAX_LEFT_DEEP_CHAIN);
  });

  it('a long `+`/`-` chain: the operands it subtracts are subtracted, the others added', () => {
    // Signs + - - + - - ...: every third operand added. Small integer coefficients keep float64 exact.
    const n = 301;
    const coefficient = (k: number) => (k % 5) + 1;
    const sign = (k: number) => (k === 0 || k % 3 === 0 ? 1 : -1);
    const rhs = Array.from({ length: n }, (_, k) => `${k === 0 ? '' : sign(k) > 0 ? ' + ' : ' - '}${coefficient(k)} * x[d]`).join('');
    const total = Array.from({ length: n }, (_, k) => sign(k) * coefficient(k)).reduce((a, b) => a + b, 0);
    expect(firstOutput(cell(rhs))).toEqual([1.5 * total, -2 * total]);
    const e = outputExpr(cell(rhs));
    expect(e.kind === 'binary' && e.op).toBe('-');
  });

  it('a long `*`/`/` chain: the operands it divides by are divided by', () => {
    // x * 2 / 4 * 8 / 2 * ...: powers of two, so every order of evaluation is exact.
    const n = 101;
    const factor = (k: number) => 2 ** ((k % 3) + 1);
    const rhs = ['x[d]', ...Array.from({ length: n - 1 }, (_, k) => `${k % 2 === 0 ? ' * ' : ' / '}${factor(k)}`)].join('');
    let scale = 1;
    for (let k = 0; k < n - 1; k++) scale = k % 2 === 0 ? scale * factor(k) : scale / factor(k);
    expect(firstOutput(cell(rhs))).toEqual([1.5 * scale, -2 * scale]);
  });
});

describe('genuine nesting still has a limit', () => {
  it('nested calls past the limit get RNN0108, at the call that goes past it', () => {
    const text = cell(`${'exp('.repeat(100)}x[d]${')'.repeat(100)}`);
    const r = frontEnd(text);
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([['RNN0108', 'this expression is nested too deeply (the limit is 64 levels)']]);
    // The 65th `(`: `  output y[d] = ` is 16 characters, each `exp(` 4.
    expect(r.diagnostics[0]!.span.start).toBe(text.indexOf('output') + 'output y[d] = '.length + 64 * 4 + 3);
  });
});
