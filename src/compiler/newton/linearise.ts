// Forward-mode linearisation of one step of a nonlinear cell (issue 16, Newton iterations à la ParaRNN).
//
// A step `s_t = f(s_{t-1}, x_t)` is linearised around a guess s*: `s_t ≈ J_t s_{t-1} + b_t` with
// `J_t = ∂f/∂s` at s*_{t-1} and `b_t = f(s*_{t-1}, x_t) − J_t s*_{t-1}`. `linearise` builds that as
// an IR module with no state: it reads the guessed old state as an *input* (under the state's own
// name, as the backward step's primal does) and outputs, per step, f (one tensor per state), the
// blocks of J, b, and the cell's own outputs at the guess. Every definition reads inputs and params
// only, so a backend runs it time-parallel.
//
// The step is first put in the primal normal form of src/compiler/grad/primal.ts (every statement a
// let, every reduction its own let). Then each state-dependent let L gets one tangent let per state q
// it depends on: dL_q = ∂L/∂q, built node by node from the builtin table's partials (the same data
// reverse mode reads). Two structures:
// - diagonal: every state has the same dims D and every state-dependent let is over D and reads the
//   state (and other state-dependent lets) only through its own indices. Then ∂L[v]/∂q[m] is 0 for
//   m ≠ v, and dL_q[v] holds the diagonal. With P states the Jacobian is, per index v, a P×P block.
// - dense: otherwise. dL_q[v, m] over L's indices and q's; a load q[idx] seeds with `eye_q[idx, m]`,
//   an identity param the driver fills (an IR has no Kronecker delta), so the Jacobian of a
//   contraction `sum(j: U[k, j] * h[j])` is `sum(j: U[k, j] * eye[j, m])`.
import { builtin, reduction, type DerivativeForm } from '../builtins.js';
import { depRank, tensorsOf, type Def, type Dep, type IndexVar, type Module, type Node, type Source, type Tensor } from '../ir/ir.js';
import { DefBuilder, Names, phaseRule, primalValues } from '../grad/build.js';
import { primalOf, varDims } from '../grad/primal.js';

/** A cell the linearisation does not take, with the reason (the driver makes it a user error). */
export class NewtonError extends Error {}

export type JacobianStructure = 'diagonal' | 'dense';

export interface LinearState {
  name: string;
  dims: string[];
  /** The output holding f(s*_{t-1}, x_t) for this state. */
  value: string;
  /** The output holding b_t. */
  affine: string;
}

/** One block ∂new[row]/∂old[col] of J: an output, or the identity (a state the step does not update). Absent blocks are 0. */
export type JacobianBlock = { row: string; col: string } & ({ kind: 'output'; output: string } | { kind: 'identity' });

export interface Linearisation {
  /** The stateless module: inputs = the cell's inputs and the states (the guess before the step), params = the cell's and `eyes`. */
  module: Module;
  structure: JacobianStructure;
  /** Why the structure is what it is, as a sentence. */
  why: string;
  /** The states, in the order they are stacked. */
  states: LinearState[];
  blocks: JacobianBlock[];
  /** Dense only: per state, the identity param [dims, dims] the driver fills. */
  eyes: { state: string; param: string }[];
  /** The cell's outputs (same names), at the guess. */
  outputs: string[];
}


export function linearise(m: Module): Linearisation {
  if (m.monoid) throw new NewtonError(`\`${m.name}\` is a monoid cell: it is associative already, so the scan runs it directly (--mode scan); newton is for cells whose update is not`);
  const states = tensorsOf(m, 'state');
  const names = new Names([...m.tensors.map((t) => t.name), ...m.dims.map((d) => d.name)]);
  const primal = primalOf(m, names);
  const stateNames = new Set(states.map((s) => s.name));
  const isStateLoad = (n: Node): boolean => n.op === 'load' && n.source === 'input' && stateNames.has(n.tensor);

  // Which states each primal let depends on (transitively).
  const dependsOn = new Map<string, Set<string>>();
  const depsOfDef = (d: Def): Set<string> => {
    const out = new Set<string>();
    for (const n of d.nodes) {
      if (n.op === 'load' && isStateLoad(n)) out.add(n.tensor);
      else if (n.op === 'load' && n.source === 'let') for (const q of dependsOn.get(n.tensor) ?? []) out.add(q);
    }
    return out;
  };
  for (const d of primal.defs) dependsOn.set(d.target, depsOfDef(d));
  // Only the lets the new states read (transitively) need tangents: an output reading the state does not shape J.
  const needed = new Set<string>([...primal.newState.values()].filter((h) => h.source === 'let').map((h) => h.tensor));
  for (const d of [...primal.defs].reverse()) if (needed.has(d.target)) for (const n of d.nodes) if (n.op === 'load' && n.source === 'let') needed.add(n.tensor);
  for (const d of primal.defs) if (!needed.has(d.target)) dependsOn.set(d.target, new Set());
  const stateDependent = (n: Node) => isStateLoad(n) || (n.op === 'load' && n.source === 'let' && (dependsOn.get(n.tensor)?.size ?? 0) > 0);

  const { structure, why } = classify(m, states, primal.defs, dependsOn, stateDependent);
  const diagonal = structure === 'diagonal';

  const forward = new Map(m.tensors.map((t) => [t.name, t]));
  const letDeps = new Map<string, Dep>(primal.letDeps);
  const depOf = (source: Source, tensor: string): Dep => (source === 'input' ? 'input' : source === 'param' ? 'param' : (letDeps.get(tensor) ?? 'const'));
  const phase = phaseRule(new Set());
  const tensors: Tensor[] = [];
  const span = m.tensors[0]?.span ?? m.step[0]!.span;
  const tensor = (name: string, role: Tensor['role'], dims: string[]): Tensor => ({ name, role, dims, span: forward.get(name)?.span ?? span });
  const eyes = diagonal ? [] : states.map((s) => ({ state: s.name, param: names.fresh(`eye_${s.name}`) }));
  const eyeOf = new Map(eyes.map((e) => [e.state, e.param]));

  const out: Def[] = [];
  /** The tangent let of (let, direction state), where there is one. */
  const tangentOf = new Map<string, string>();
  const key = (letName: string, q: string) => `${letName}\u0000${q}`;
  const dimsOf = new Map(states.map((s) => [s.name, s.dims]));

  /** Fresh index names for the direction q's own indices, not clashing with any index of `def`. */
  const directionVars = (def: Def, q: string): IndexVar[] => {
    if (diagonal) return [];
    const taken = new Set(varDims(def).keys());
    return dimsOf.get(q)!.map((dim, p) => {
      let name = `m${p}`;
      for (let k = 2; taken.has(name); k++) name = `m${p}_${k}`;
      taken.add(name);
      return { name, dim };
    });
  };

  /** ∂R/∂q as a definition over R's indices (and q's in the dense structure), or undefined when it is 0. */
  const tangentDef = (R: Def, q: string, target: string): Def | undefined => {
    const M = directionVars(R, q);
    const mNames = M.map((v) => v.name);
    const b = new DefBuilder([...R.vars, ...M], depOf, R.span);
    const root = R.nodes[R.root]!;
    // The root's value is R's own let (not recomputed); a reduction's always is.
    const value = primalValues(b, R, (v) => v, (n) => n.op !== 'const' && n.op !== 'load');
    const form = (f: DerivativeForm, at: Node): number => {
      if ('arg' in f) return value((at as { args: number[] }).args[f.arg]!);
      if ('value' in f) return value(at.id);
      if ('const' in f) return b.constant(f.const);
      if ('term' in f) return value((at as { args: number[] }).args[0]!);
      if ('sumOverTerms' in f) throw new NewtonError(`${R.target}: a \`${(at as { fn: string }).fn}\` reduction over terms that read the state has a derivative shared by ties, which the linearisation does not build; use a sum or logsumexp`);
      const args = f.args.map((a) => form(a, at));
      const fb = builtin(f.fn);
      const consts = args.map((a) => b.constantValue(a));
      if (fb.result === 'f32' && fb.kind !== 'select' && consts.every((c) => c !== undefined)) return b.constant((fb.f64 as (...xs: number[]) => number)(...(consts as number[])));
      if (fb.kind === 'select') return b.select(args[0]!, args[1]!, args[2]!);
      if (fb.kind === 'unary') return b.unary(f.fn as 'neg', args[0]!);
      return b.binary(f.fn, args[0]!, args[1]!);
    };
    const tangents = new Map<number, number | undefined>();
    const tangent = (id: number): number | undefined => {
      if (tangents.has(id)) return tangents.get(id);
      const n = R.nodes[id]!;
      let t: number | undefined;
      switch (n.op) {
        case 'const':
          t = undefined;
          break;
        case 'load':
          if (isStateLoad(n)) t = n.tensor !== q ? undefined : diagonal ? b.constant(1) : b.load('param', eyeOf.get(q)!, [...n.index, ...mNames]);
          else if (n.source === 'let' && tangentOf.has(key(n.tensor, q))) t = b.load('let', tangentOf.get(key(n.tensor, q))!, [...n.index, ...mNames]);
          else t = undefined;
          break;
        case 'unary':
        case 'binary':
        case 'select': {
          const partials: readonly DerivativeForm[] = builtin(n.op === 'select' ? 'select' : n.fn).partials;
          const terms: number[] = [];
          n.args.forEach((a, position) => {
            const da = tangent(a);
            if (da === undefined) return;
            const p = form(partials[position]!, n);
            if (b.constantValue(p) === 0) return;
            terms.push(b.mul(p, da));
          });
          t = terms.length ? b.sum(terms) : undefined;
          break;
        }
        case 'reduce': {
          const dt = tangent(n.args[0]);
          t = dt === undefined ? undefined : b.reduce('sum', n.over, b.mul(form(reduction(n.fn).partial, n), dt));
          break;
        }
      }
      tangents.set(id, t);
      return t;
    };
    const t = tangent(root.id);
    if (t === undefined || b.constantValue(t) === 0) return undefined;
    return b.def('let', target, t, phase('let', target));
  };

  // The primal's lets, and after each state-dependent one its tangents.
  const outputNames = new Set(tensorsOf(m, 'output').map((t) => t.name));
  for (const d of primal.defs) {
    if (outputNames.has(d.target)) out.push({ ...d, kind: 'output', phase: phaseOf(d) });
    else {
      out.push(d);
      tensors.push(tensor(d.target, 'let', d.vars.map((v) => v.dim)));
    }
    for (const q of dependsOn.get(d.target) ?? []) {
      const name = names.fresh(`d_${d.target}_${q}`);
      const def = tangentDef(d, q, name);
      if (!def) continue;
      tangentOf.set(key(d.target, q), name);
      letDeps.set(name, def.dep);
      out.push(def);
      tensors.push(tensor(name, 'let', def.vars.map((v) => v.dim)));
    }
  }

  // Outputs: f and the blocks of J per state, then b = f − J s*.
  const linear: LinearState[] = [];
  const blocks: JacobianBlock[] = [];
  const newOutputs: Tensor[] = [];
  for (const s of states) {
    const vars = s.dims.map((dim, p) => ({ name: `i${p}`, dim }));
    const index = vars.map((v) => v.name);
    const holder = primal.newState.get(s.name)!;
    const valueName = names.fresh(`f_${s.name}`);
    const copy = (target: string, source: Source, from: string, defVars: IndexVar[]) => {
      const b = new DefBuilder(defVars, depOf, s.span);
      const def = b.def('output', target, b.load(source, from, defVars.map((v) => v.name)), () => 'parallel');
      out.push({ ...def, phase: phaseOf(def) });
      newOutputs.push(tensor(target, 'output', defVars.map((v) => v.dim)));
    };
    copy(valueName, holder.source, holder.tensor, vars);
    // The blocks of this row.
    const row: { col: string; tensor: string }[] = [];
    for (const q of states) {
      if (holder.source === 'input') {
        if (q.name === s.name) blocks.push({ row: s.name, col: q.name, kind: 'identity' });
        continue;
      }
      const t = tangentOf.get(key(holder.tensor, q.name));
      if (t === undefined) continue;
      const output = names.fresh(`J_${s.name}_${q.name}`);
      const colVars = diagonal ? [] : q.dims.map((dim, p) => ({ name: `m${p}`, dim }));
      copy(output, 'let', t, [...vars, ...colVars]);
      blocks.push({ row: s.name, col: q.name, kind: 'output', output });
      row.push({ col: q.name, tensor: t });
    }
    // b = f − Σ_q J_sq s*_q.
    const affineName = names.fresh(`b_${s.name}`);
    const b = new DefBuilder(vars, depOf, s.span);
    const terms = row.map(({ col, tensor: t }) => {
      if (diagonal) return b.mul(b.load('let', t, index), b.load('input', col, index));
      const colVars = dimsOf.get(col)!.map((dim, p) => ({ name: `m${p}`, dim }));
      let body = b.mul(b.load('let', t, [...index, ...colVars.map((v) => v.name)]), b.load('input', col, colVars.map((v) => v.name)));
      for (const v of [...colVars].reverse()) body = b.reduce('sum', v, body);
      return body;
    });
    const fNode = b.load(holder.source, holder.tensor, index);
    const root = terms.length ? b.binary('sub', fNode, b.sum(terms)) : fNode;
    const affine = b.def('output', affineName, root, () => 'parallel');
    out.push({ ...affine, phase: phaseOf(affine) });
    newOutputs.push(tensor(affineName, 'output', s.dims));
    linear.push({ name: s.name, dims: s.dims, value: valueName, affine: affineName });
  }

  const module: Module = {
    name: `${m.name}_linearised`,
    dims: m.dims,
    tensors: [
      ...tensorsOf(m, 'input').map((t) => tensor(t.name, 'input', t.dims)),
      ...states.map((s) => tensor(s.name, 'input', s.dims)),
      ...tensorsOf(m, 'param').map((t) => tensor(t.name, 'param', t.dims)),
      ...eyes.map((e) => tensor(e.param, 'param', [...dimsOf.get(e.state)!, ...dimsOf.get(e.state)!])),
      ...tensors,
      ...tensorsOf(m, 'output').map((t) => tensor(t.name, 'output', t.dims)),
      ...newOutputs,
    ],
    step: out,
    structures: [],
  };
  return { module, structure, why, states: linear, blocks, eyes, outputs: tensorsOf(m, 'output').map((t) => t.name) };
}

/** The phase of a definition of a module without state: what it depends on decides. */
function phaseOf(d: Def): Def['phase'] {
  return depRank[d.dep] <= depRank.param ? 'invariant' : 'parallel';
}

/** Diagonal when every state has the same dims and every state-dependent let reads state-dependent tensors only through its own indices. */
function classify(m: Module, states: Tensor[], defs: Def[], dependsOn: Map<string, Set<string>>, stateDependent: (n: Node) => boolean): { structure: JacobianStructure; why: string } {
  const first = states[0]!;
  const same = states.every((s) => s.dims.join() === first.dims.join());
  if (!same) return { structure: 'dense', why: `the states ${states.map((s) => `\`${s.name}\`[${s.dims.join(', ')}]`).join(' and ')} have different shapes, so J is one dense matrix over the stacked state` };
  for (const d of defs) {
    if (!(dependsOn.get(d.target)?.size ?? 0)) continue;
    const own = d.vars.map((v) => v.name).join();
    if (d.vars.map((v) => v.dim).join() !== first.dims.join())
      return { structure: 'dense', why: `\`${d.target}\` depends on the state but is over [${d.vars.map((v) => v.dim).join(', ')}], not the state's [${first.dims.join(', ')}], so J is dense` };
    for (const n of d.nodes) {
      if (!stateDependent(n) || n.op !== 'load' || n.index.join() === own) continue;
      const what = forwardName(m, n.tensor);
      return { structure: 'dense', why: `\`${what}\` is read through [${n.index.join(', ')}], not the element's own index, so each element of the new state reads other elements of the old one: J is dense` };
    }
  }
  const P = states.length;
  return {
    structure: 'diagonal',
    why: P === 1 ? 'each element of the new state reads the old state only through its own index, so J is diagonal' : `each element of the new states reads the old states only through its own index, so J is ${P}×${P} blocks on the diagonal`,
  };
}

/** A primal let's name in words: `h_new` is the update of h. */
function forwardName(m: Module, letName: string): string {
  return m.tensors.some((t) => t.name === letName) ? letName : letName.replace(/_new$/, '');
}
