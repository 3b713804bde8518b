// Central differences against the tape, and the pass against the tape, on cells the fuzzer's
// generator makes (test/fuzz/generate.ts): every family of update it knows (diagonal over each
// semiring, dense, low-rank, nonlinear, monoids), with lets, reductions and builtins in combinations
// no example has. Tame cells (no edge constants, no
// division), so that both reverse modes see finite numbers.
import { describe, expect, it } from 'vitest';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { verifyModule } from '../../src/compiler/ir/verify.js';
import { frontEnd } from '../../src/driver/front-end.js';
import { differentiate } from '../../src/compiler/grad/reverse.js';
import { interpretGrad } from '../../src/runtime/reference/grad.js';
import { interpretBackward } from '../../src/runtime/reference/grad-step.js';
import { caseSeed, sampleOne } from '../fuzz/choices.js';
import { tameCellArbitrary } from '../fuzz/cases.js';
import { casesFor, checkFiniteDifferences } from './helpers.js';

const CELLS = Number(process.env.GRAD_CELLS ?? 40);

describe('generated cells: the tape gives central differences, the backward step the tape\'s gradients', () => {
  it.each(Array.from({ length: CELLS }, (_, k) => [k] as const))('cell %i', async (k) => {
    const cell = sampleOne(tameCellArbitrary, caseSeed(0x9bad, k));
    const { module: m, diagnostics } = frontEnd(cell.text);
    if (!m) throw new Error(`generated cell does not compile:\n${cell.text}\n${diagnostics.map((d) => d.message).join('\n')}`);
    const backward = differentiate(m);
    expect(verifyModule(backward.module), cell.text).toEqual([]);
    const c = casesFor(m, bindDims(m, cell.dimSizes))[1]!; // T = 7, lengths, given initial states
    const reference = interpretGrad(m, c.shape, c.data, c.upstream);
    checkFiniteDifferences(m, c, reference, `generated cell ${k}`, { someNonzero: false });
    const pass = await interpretBackward(m, c.shape, c.data, c.upstream, backward);
    for (const kind of ['inputs', 'params', 'initial'] as const) {
      for (const [name, a] of Object.entries(reference[kind])) {
        const b = pass[kind][name]!;
        const scale = Math.max(1, ...Array.from(a, (v) => (Number.isFinite(v) ? Math.abs(v) : 0)));
        a.forEach((v, i) => {
          const w = b[i]!;
          if (Number.isNaN(v) && Number.isNaN(w)) return;
          if (!(v === w || Math.abs(v - w) <= 1e-12 * scale)) throw new Error(`${kind} ${name}[${i}]: tape ${v}, pass ${w}\n${cell.text}`);
        });
      }
    }
  });
});
