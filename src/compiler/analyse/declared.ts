// `structure [state:] kind[(rank)] [over semiring]` against what the analysis inferred. A declaration
// without a state applies to every state. The kinds (src/compiler/analyse/types.ts `structureKinds`):
//   diagonal            affine with a diagonal transition (a state-independent update counts: a = 0)
//   dense               affine with a dense transition along one index
//   lowrank(k)          affine, diagonal plus rank k (exactly k) along one index, over (+, ×)
//   sequential          not a parallel scan (nonlinear, coupled, or not planned)
// `over S` additionally requires the semiring S. A mismatch is RNN0601, showing both. A monoid cell
// declares its structure with its `monoid` block; any `structure` it also declares must say what a
// monoid is not (so it is reported as a mismatch), except `sequential` when its laws fail.
import type { Module } from '../ir/ir.js';
import { diagnostic, type Diagnostic } from '../diagnostics/diagnostic.js';
import type { Reason, StateReport } from './types.js';

/** The structure a report amounts to, in the syntax of a declaration: `lowrank(1) over sum_prod`. */
export function structureText(r: StateReport): string {
  const c = r.classification;
  switch (c.kind) {
    case 'independent':
      return 'diagonal (independent of the state)';
    case 'monoid':
      return r.scan ? 'monoid' : 'monoid (its laws fail)';
    case 'nonlinear':
    case 'coupled':
      return 'sequential';
    case 'affine': {
      const t = c.transition;
      const kind = t.kind === 'lowrank' ? `lowrank(${t.rank})` : t.kind;
      return `${kind} over ${c.semiring}${r.scan ? '' : ' (not planned: sequential)'}`;
    }
  }
}

function matches(decl: Module['structures'][number], r: StateReport): boolean {
  const c = r.classification;
  if (decl.semiring && !(c.kind === 'affine' && c.semiring === decl.semiring) && c.kind !== 'independent') return false;
  switch (decl.kind) {
    case 'sequential':
      return !r.scan;
    case 'diagonal':
      return c.kind === 'independent' || (c.kind === 'affine' && c.transition.kind === 'diagonal');
    case 'dense':
      return c.kind === 'affine' && c.transition.kind === 'dense';
    case 'lowrank':
      return c.kind === 'affine' && c.transition.kind === 'lowrank' && c.transition.rank === decl.rank;
    default:
      return false;
  }
}

const reasonNote = (r: Reason) => `${r.message}${r.detail ? `: ${r.detail}` : ''}`;

export function checkDeclared(module: Module, reports: StateReport[]): Diagnostic[] {
  const out: Diagnostic[] = [];
  for (const decl of module.structures) {
    const declared = `${decl.state ? `${decl.state}: ` : ''}${decl.kind}${decl.rank !== undefined ? `(${decl.rank})` : ''}${decl.semiring ? ` over ${decl.semiring}` : ''}`;
    for (const r of reports.filter((x) => !decl.state || x.state === decl.state)) {
      if (matches(decl, r)) continue;
      const update = module.step.find((d) => d.kind === 'update' && d.target === r.state);
      const c = r.classification;
      const notes = [
        ...(c.kind === 'nonlinear' || c.kind === 'coupled' ? [reasonNote(c.reason)] : []),
        ...(r.unplanned ? [reasonNote(r.unplanned)] : []),
        ...(reports.length > 1 && !decl.state ? [`a structure without a state applies to every state; write \`structure ${r.state}: ...\` for one`] : []),
      ];
      out.push(
        diagnostic('RNN0601', decl.span, { declared: `\`${declared}\``, inferred: `\`${structureText(r)}\`${reports.length > 1 ? ` of state \`${r.state}\`` : ''}` }, {
          labels: update ? [{ span: update.span, message: `the update of \`${r.state}\` is ${structureText(r)}` }] : [],
          notes,
        }),
      );
    }
  }
  return out;
}
