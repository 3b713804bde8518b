// The structure analysis: classify every state update, derive its scan plan, check the combines,
// and compare with what the file declares. One entry point, `analyse(module)`.
import type { Def, Module } from '../ir/ir.js';
import { tensorsOf } from '../ir/ir.js';
import type { Diagnostic } from '../diagnostics/diagnostic.js';
import { diagnostic } from '../diagnostics/diagnostic.js';
import type { Analysis, Classification, LawReport, Reason, ScanPlan, StateReport } from './types.js';
import { interpret, type AbstractValue, type AffineForm } from './classify.js';
import { semiringOps, semiringOrder } from './semirings.js';
import { expand, ExpansionTooLarge, NameSupply, type Term } from './terms.js';
import { shapeOf } from './structure.js';
import { diagonalPlan, elementFloats, mixingPlan, monoidPlan, stateVars, type StatePlan } from './element.js';
import { checkLaws, lawDiagnostics } from './laws.js';
import { checkDeclared } from './declared.js';

export interface AnalyseResult {
  analysis: Analysis;
  /** Errors only: a declared structure that does not match (RNN0601), a combine that breaks a law (RNN0608/RNN0609). */
  diagnostics: Diagnostic[];
}

export interface AnalyseOptions {
  /** Random float32 triples per combine in the law check (default 200; 0 skips the check). */
  lawTriples?: number;
}

interface StateResult {
  report: StateReport;
  plan?: StatePlan;
}

const sameFn = (s: string) => semiringOps[s as keyof typeof semiringOps];

/**
 * Tries every semiring; the first that explains the update wins. Otherwise the failure reported is
 * one over a semiring the update combines its own state with (mLSTM's `c` is multiplied by a gate
 * and summed: (+, ×), whatever its stabiliser `m` does), or over any semiring when none explains even
 * that; among those, the one closest to the root.
 */
function classifyTerm(term: Term, target: string): { semiring: (typeof semiringOrder)[number]; form: AffineForm } | { indep: Term } | { fail: Reason } {
  const failures: { semiring: (typeof semiringOrder)[number]; value: Extract<AbstractValue, { kind: 'fail' }> }[] = [];
  for (const s of semiringOrder) {
    const v = interpret(term, semiringOps[s], { target });
    if (v.kind === 'indep') return { indep: v.term };
    if (v.kind === 'affine') return { semiring: s, form: v.form };
    failures.push({ semiring: s, value: v });
  }
  const own = failures.filter((f) => interpret(term, semiringOps[f.semiring], { target, onlyTarget: true }).kind !== 'fail');
  const closest = (list: typeof failures) => list.reduce((best, f) => (f.value.depth < best.value.depth ? f : best));
  return { fail: closest(own.length > 0 ? own : failures).value.reason };
}

function analyseState(module: Module, state: string): StateResult {
  const update = module.step.find((d) => d.kind === 'update' && d.target === state);
  const vars = stateVars(module, state, update);
  const none = { scan: false, elementSize: 0, fields: [] as string[] };
  if (!update) {
    // Never updated: h ↦ 1 ⊗ h, a diagonal scan whose elements are all the identity.
    const plan = diagonalPlan(module, state, vars, 'sum_prod', { op: 'const', value: 1, span: module.tensors[0]!.span }, { op: 'const', value: 0, span: module.tensors[0]!.span }, module.tensors.find((t) => t.name === state)!.span);
    return { report: { state, classification: { kind: 'affine', semiring: 'sum_prod', transition: { kind: 'diagonal' } }, scan: true, elementSize: 2, fields: plan.fieldText }, plan };
  }
  const readsState = (d: Def) => d.dep === 'state';
  const names = new NameSupply([...vars.map((v) => v.name), ...module.step.flatMap((d) => d.vars.map((v) => v.name))]);
  let term: Term;
  try {
    term = expand(module, update, { inline: readsState }, names);
  } catch (e) {
    if (!(e instanceof ExpansionTooLarge)) throw e;
    // Sequential is always correct: a cell too large to see through runs as a loop over time.
    const reason = { message: `the update of \`${state}\` is too large to analyse: ${e.message}`, span: e.inlined.span, detail: 'the analysis stops there' };
    return { report: { state, classification: { kind: 'nonlinear', reason, unanalysed: true }, ...none } };
  }
  const result = classifyTerm(term, state);

  if ('indep' in result) {
    const plan = diagonalPlan(module, state, vars, 'sum_prod', { op: 'const', value: 0, span: update.span }, result.indep, update.span);
    return { report: { state, classification: { kind: 'independent' }, scan: true, elementSize: 2, fields: plan.fieldText }, plan };
  }
  if ('fail' in result) {
    const note = whatIfGatesReadInputs(module, update, state);
    return { report: { state, classification: { kind: 'nonlinear', reason: result.fail, ...(note ? { note } : {}) }, ...none } };
  }
  const shape = shapeOf(result.form, state, vars, result.semiring, names);
  switch (shape.kind) {
    case 'coupled': {
      const note = whatIfGatesReadInputs(module, update, state);
      return { report: { state, classification: { kind: 'coupled', reason: shape.reason, ...(note ? { note } : {}) }, ...none } };
    }
    case 'general':
      return { report: { state, classification: { kind: 'affine', semiring: result.semiring, transition: shape.transition }, ...none, unplanned: shape.reason } };
    case 'diagonal': {
      const plan = diagonalPlan(module, state, vars, result.semiring, shape.a, shape.b, update.span);
      return { report: { state, classification: { kind: 'affine', semiring: result.semiring, transition: { kind: 'diagonal' } }, scan: true, elementSize: 2, fields: plan.fieldText }, plan };
    }
    case 'mixing': {
      const plan = mixingPlan(module, state, vars, result.semiring, shape, update.span);
      return {
        report: { state, classification: { kind: 'affine', semiring: result.semiring, transition: shape.transition }, scan: true, elementSize: elementFloats(module, plan.fields), fields: plan.fieldText },
        plan,
      };
    }
  }
}

/**
 * The note for a sequential update: if the lets that read the state (the gates) read only the input,
 * would the update be a scan? Answered by classifying it again with those lets held fixed.
 */
function whatIfGatesReadInputs(module: Module, update: Def, state: string): string | undefined {
  const gates = [...new Set(update.nodes.flatMap((n) => (n.op === 'load' && n.source === 'let' && module.step.find((d) => d.target === n.tensor)?.dep === 'state' ? [n.tensor] : [])))];
  if (gates.length === 0) return undefined;
  const vars = update.vars;
  const names = new NameSupply(vars.map((v) => v.name));
  const result = classifyTerm(expand(module, update, { inline: () => false }, names), state);
  if (!('form' in result)) return undefined;
  const shape = shapeOf(result.form, state, vars, result.semiring, names);
  if (shape.kind !== 'diagonal' && shape.kind !== 'mixing') return undefined;
  const structure = shape.kind === 'diagonal' ? 'diagonal' : shape.transition.kind === 'lowrank' ? `diagonal-plus-rank-${shape.transition.rank}` : 'dense';
  const list = gates.map((g) => `\`${g}\``).join(', ');
  return `if ${list} read${gates.length === 1 ? 's' : ''} only the inputs and params (as the gates of minGRU do), the update of \`${state}\` would be a ${structure} scan over ${sameFn(result.semiring).text}`;
}

export function analyse(module: Module, options: AnalyseOptions = {}): AnalyseResult {
  const diagnostics: Diagnostic[] = [];
  const laws: LawReport[] = [];
  const states = tensorsOf(module, 'state').map((t) => t.name);
  const triples = options.lawTriples ?? 200;
  const backward = tensorsOf(module, 'state').filter((t) => t.reversed).map((t) => t.name);
  const direction = module.reversed ? { direction: 'reversed' as const } : module.tensors.some((t) => t.reversed) ? { direction: 'bidirectional' as const, backward } : {};

  if (module.monoid) {
    const plan = monoidPlan(module);
    const check = checkLaws(module, plan, { triples });
    laws.push({ states, ...check.report });
    diagnostics.push(...lawDiagnostics(check, plan, module.monoid.span, 'monoid'));
    const ok = check.failures.length === 0;
    const element = elementFloats(module, plan.fields);
    const reports: StateReport[] = states.map((state) => ({ state, classification: { kind: 'monoid' } as Classification, scan: ok, elementSize: element, fields: ok ? plan.fieldText : [] }));
    const { fieldText: _f, ...scanPlan } = plan;
    diagnostics.push(...checkDeclared(module, reports));
    return { analysis: { ...direction, states: reports, ...(ok ? { plan: scanPlan, statePlans: Object.fromEntries(states.map((s) => [s, scanPlan])) } : { statePlans: {} }), laws }, diagnostics };
  }

  const results = states.map((s) => analyseState(module, s));
  const statePlans: Record<string, ScanPlan> = {};
  for (const r of results) {
    if (!r.plan) continue;
    // A derived combine is associative by construction; checking it keeps a derivation bug from reaching a kernel.
    const check = checkLaws(module, r.plan, { triples: Math.min(triples, 100) });
    laws.push({ states: [r.report.state], ...check.report });
    if (check.failures.length) {
      diagnostics.push(...lawDiagnostics(check, r.plan, module.step.find((d) => d.target === r.report.state)?.span ?? module.tensors[0]!.span, 'derived'));
      r.report.scan = false;
      continue;
    }
    const { fieldText: _f, ...scanPlan } = r.plan;
    statePlans[r.report.state] = scanPlan;
  }
  const reports = results.map((r) => r.report);
  diagnostics.push(...checkDeclared(module, reports));
  const all = states.every((s) => statePlans[s]);
  const plan: ScanPlan | undefined = all
    ? { fields: states.flatMap((s) => statePlans[s]!.fields), combine: states.flatMap((s) => statePlans[s]!.combine), identity: states.flatMap((s) => statePlans[s]!.identity), apply: states.flatMap((s) => statePlans[s]!.apply) }
    : undefined;
  void diagnostic;
  return { analysis: { ...direction, states: reports, ...(plan ? { plan } : {}), statePlans, laws }, diagnostics };
}
