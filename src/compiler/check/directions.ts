// The rules of a bidirectional cell: statements outside a `reversed { ... }` block run forward in
// time, those inside it backward, and the two parts meet only where a value does not depend on the
// position: inputs (each part reads them at its own step's position), params, and lets of params.
// A let or output that reads an input or a state holds one step's value at that step's position, so
// the other part, at another position in the same logical step, cannot read it; a state is updated
// by the part that declares it.
import type * as A from '../syntax/ast.js';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import type { RnnSymbol } from './symbols.js';

type Part = 'forward' | 'reversed';

const partOf = (reversed: true | undefined): Part => (reversed ? 'reversed' : 'forward');
const where = (p: Part) => (p === 'reversed' ? 'inside the `reversed` block' : 'outside the `reversed` block');

/** Names an expression reads (not index names, not a combine's operand fields). */
function refsOf(e: A.Expr, out: A.Name[] = []): A.Name[] {
  switch (e.kind) {
    case 'ref':
      if (!e.field) out.push(e.name);
      break;
    case 'neg':
      refsOf(e.operand, out);
      break;
    case 'binary':
      refsOf(e.left, out);
      refsOf(e.right, out);
      break;
    case 'call':
      for (const a of e.args) refsOf(a, out);
      break;
    case 'reduce':
      refsOf(e.body, out);
      break;
  }
  return out;
}

export function checkDirections(file: A.RnnFile, symbols: Map<string, RnnSymbol>): Diagnostic[] {
  const blocks = file.reversedBlocks ?? [];
  if (blocks.length === 0) return [];
  const ds: Diagnostic[] = [];
  const block = (span: A.Span, what: string) => ds.push(diagnostic('RNN0505', span, { what }, { notes: ['a cell has at most one `reversed { ... }` block, at its top level, beside the statements that run forward'] }));
  if (file.direction?.name === 'grid') block(blocks[0]!.span, 'a grid cell');
  else if (file.direction) block(blocks[0]!.span, 'a cell that is itself reversed');
  else if (file.monoid) block(blocks[0]!.span, 'a cell with a monoid');
  for (const b of blocks.slice(1)) block(b.span, b.nested ? 'another `reversed` block' : 'a cell that already has one');
  if (ds.length) return ds;

  const statePart = new Map(file.tensors.filter((t) => t.role === 'state').map((t) => [t.shape.name.name, partOf(t.reversed)]));
  /** Lets and outputs that depend on the position (read an input or a state), with their part. */
  const positional = new Map<string, Part>();
  for (const s of file.stmts) {
    const part = partOf(s.reversed);
    const target = s.lhs.name.name;
    const misplaced = s.kind === 'update' && statePart.has(target) && statePart.get(target) !== part;
    if (misplaced) ds.push(diagnostic('RNN0507', s.lhs.name.span, { name: target, declared: where(statePart.get(target)!), here: where(part) }));
    let dependsOnPosition = false;
    for (const ref of refsOf(s.rhs)) {
      if (misplaced && ref.name === target) continue; // said once, by RNN0507
      const sym = symbols.get(ref.name);
      if (!sym || sym.kind === 'dim' || sym.kind === 'param') continue;
      if (sym.kind === 'input') {
        dependsOnPosition = true;
        continue;
      }
      const other = sym.kind === 'state' ? statePart.get(ref.name) : positional.get(ref.name);
      if (sym.kind === 'state' || other) dependsOnPosition = true;
      if (other && other !== part)
        ds.push(
          diagnostic('RNN0506', ref.span, { name: ref.name, what: sym.kind, there: where(other), here: where(part) }, {
            notes: ['the forward statements and the `reversed` block meet only in inputs, params and lets of params: each part computes its own lets from the inputs, and a per-step sum of both parts is left to the caller'],
          }),
        );
    }
    if (s.kind !== 'update' && dependsOnPosition) positional.set(target, part);
  }
  return ds;
}
