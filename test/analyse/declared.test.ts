// Declared structures against the inferred ones, through the front end (frontEnd's contract: an
// analysis error removes `module`, and `analysis` still shows what was inferred).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { renderDiagnostics, SourceFile } from '../../src/compiler/diagnostics/render.js';

const withStructure = (file: string, structure: string) => readFileSync(`examples/${file}.rnn`, 'utf8').replace(/\n\s*structure [^\n]*/, '').replace(/\n}\s*$/, `\n  ${structure}\n}\n`);

function render(text: string) {
  const r = frontEnd(text);
  return { r, text: renderDiagnostics(r.diagnostics, new SourceFile('cell.rnn', text), { color: false }) };
}

describe('declared structure', () => {
  it.each([
    ['mamba_s6', 'structure diagonal over sum_prod'],
    ['mamba_s6', 'structure h: diagonal'],
    ['gla', 'structure diagonal'],
    ['deltanet', 'structure lowrank(1) over sum_prod'],
    ['deltaproduct2', 'structure S: lowrank(2)'],
    ['maxplus', 'structure dense over max_plus'],
    ['minmax', 'structure dense over max_min'],
    ['lstm', 'structure sequential'],
    ['lstm', 'structure c: sequential'],
    ['gru', 'structure h: sequential'],
  ])('%s accepts `%s`', (file, structure) => {
    const { r } = render(withStructure(file, structure));
    expect(r.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
    expect(r.module).toBeDefined();
    expect(r.analysis).toBeDefined();
  });

  it('a mismatch is RNN0601 at the declaration, showing both, with the update labelled; no module, but the analysis', () => {
    const { r, text } = render(withStructure('mamba_s6', 'structure dense over max_plus'));
    expect(r.module).toBeUndefined();
    expect(r.analysis!.states[0]!.scan).toBe(true);
    expect(text).toBe(`cell.rnn:13:3: error RNN0601: declared structure \`dense over max_plus\` does not match the inferred \`diagonal over sum_prod\`
13 |   structure dense over max_plus
   |   ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^
  cell.rnn:11:3: the update of \`h\` is diagonal over sum_prod
11 |   h[d, n] <- exp(-step[d] * exp(A_log[d, n])) * h[d, n] + step[d] * B[n] * x[d]
   |   -----------------------------------------------------------------------------`);
  });

  it('a sequential state declared diagonal gets the reason as a note, per state', () => {
    const { r } = render(withStructure('lstm', 'structure diagonal'));
    expect(r.diagnostics.map((d) => [d.code, d.message])).toEqual([
      ['RNN0601', 'declared structure `diagonal` does not match the inferred `sequential` of state `h`'],
      ['RNN0601', 'declared structure `diagonal` does not match the inferred `sequential` of state `c`'],
    ]);
    expect(r.diagnostics[1]!.notes).toEqual([
      'the update of `c` reads `h` inside `sigmoid`: a nonlinear function of another state',
      'a structure without a state applies to every state; write `structure c: ...` for one',
    ]);
  });

  it('the rank must match exactly, and the semiring when given', () => {
    expect(frontEnd(withStructure('deltanet', 'structure lowrank(2)')).diagnostics[0]!.message).toBe('declared structure `lowrank(2)` does not match the inferred `lowrank(1) over sum_prod`');
    expect(frontEnd(withStructure('minmax', 'structure dense over max_plus')).diagnostics[0]!.message).toBe('declared structure `dense over max_plus` does not match the inferred `dense over max_min`');
    expect(frontEnd(withStructure('mamba_s6', 'structure sequential')).diagnostics[0]!.message).toBe('declared structure `sequential` does not match the inferred `diagonal over sum_prod`');
  });

  it('unknown kinds and semirings: RNN0602 / RNN0603 with did-you-mean; a monoid cell is no diagonal', () => {
    const r1 = frontEnd(withStructure('lstm', 'structure sequentail'));
    expect(r1.diagnostics.map((d) => [d.code, d.notes])).toEqual([['RNN0602', ['did you mean `sequential`?']]]);
    expect(r1.diagnostics[0]!.message).toBe('unknown structure `sequentail`; expected one of diagonal, dense, lowrank, sequential');
    const r2 = frontEnd(withStructure('aaren', 'structure diagonal'));
    expect(r2.diagnostics.map((d) => d.message)).toEqual(['declared structure `diagonal` does not match the inferred `monoid` of state `m`', 'declared structure `diagonal` does not match the inferred `monoid` of state `u`', 'declared structure `diagonal` does not match the inferred `monoid` of state `w`']);
    const r3 = frontEnd(withStructure('maxplus', 'structure dense over max_pluss'));
    expect(r3.diagnostics.map((d) => [d.code, d.notes])).toEqual([['RNN0603', ['did you mean `max_plus`?']]]);
  });
});
