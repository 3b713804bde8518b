// What the chunked kernels need to know about a cell: its one state seen as rows × K, where K is the
// dim the transition mixes along (deltanet's j) and the rows are the other state positions (its i),
// and the plan's fields that give one step's transition M_t = diag(d) + A (K × K, shared by every
// row) and offset b_t (one K-vector per row). The structure analysis plans dense and
// diagonal-plus-low-rank (+, ×) transitions in this dense (d, A, b) form (src/compiler/analyse/element.ts).
import { analyse } from '../../src/compiler/analyse/analyse.js';
import type { Analysis, LowRankPlan } from '../../src/compiler/analyse/types.js';
import { Lowerer } from '../lower/expr.js';
import { isBidirectional, timeAxisOf, type TimeAxis } from '../lower/time.js';
import { id, lit } from '../wgsl/ast.js';
import { printExpr } from '../wgsl/print.js';
import type { Def, Module, Node, Tensor } from '../../src/compiler/ir/ir.js';
import { tensorsOf } from '../../src/compiler/ir/ir.js';
import { strides, type DimSizes } from '../../src/compiler/ir/dims.js';

export class ChunkUnsupported extends Error {}

export interface ChunkShape {
  /** Which way time runs (a reversed cell reads and writes step t at position len-1-t, backends/lower/time.ts). */
  time: TimeAxis;
  state: Tensor;
  /** Position of the mixed dim in the state's dims. */
  position: number;
  /** Size of the mixed dim. */
  K: number;
  /** The other state positions, in order: one row per coordinate on them. */
  rowPositions: number[];
  rowDims: string[];
  rowStrides: number[];
  /** Rows per sequence (product of the row dims' sizes; 1 for a vector state). */
  R: number;
  /** Strides of the state's own (row-major) layout. */
  stateStrides: number[];
  /** d over [] or [the mixed dim's variable]; A over [target, source]; b over the state's variables. */
  d: Def;
  A: Def;
  b: Def;
  /** Step lets (any a field or an output loads). */
  lets: Map<string, Def>;
  outputs: Def[];
  kind: 'dense' | 'lowrank';
  rank?: number;
  /**
   * How the chunks are computed: 'wy' (the transition's low-rank factors, wy.ts) when the analysis
   * factors it and its offset and every output reads only its own row of the state; else 'dense'
   * (K × K aggregates, emit.ts), with `whyNotWy` saying why.
   */
  form: 'dense' | 'wy';
  wy?: WyFactors;
  whyNotWy?: string;
}

export interface WyFactors {
  plan: LowRankPlan & { offset: NonNullable<LowRankPlan['offset']> };
  /** The diagonal when it is a constant (DeltaNet's 1): not stored per step. */
  dConst?: number;
  /** Per output, per row position: the output variable bound to that row coordinate, or -1 (the output is written by the row with coordinate 0 there). */
  outputRows: number[][];
  /** Per output, whether it reads the state before the step's update (then it is written before the step: a backward core's carried adjoint, a saved state). */
  before: boolean[];
}

/**
 * Per output, which of its variables range over each row coordinate, when every state load the
 * output makes (through its lets) reads the invocation's own row; otherwise a reason.
 */
function outputRows(outputs: Def[], lets: Map<string, Def>, rowDims: string[], rowPositions: number[], sizes: DimSizes): number[][] | string {
  const result: number[][] = [];
  for (const o of outputs) {
    const taken = new Set<number>();
    const map = rowDims.map((dim) => {
      const k = o.vars.findIndex((v, k) => v.dim === dim && !taken.has(k));
      if (k >= 0) taken.add(k);
      return k;
    });
    let bad: string | undefined;
    const ev = new Lowerer({
      lets,
      sizes,
      prefix: 'v',
      resolve: (n, values) => {
        if (n.source === 'state' && rowPositions.some((pos, k) => { const v = values[pos]!; return typeof v === 'number' || printExpr(v) !== `row_${k}`; })) bad ??= `output \`${o.target}\` reads rows of \`${n.tensor}\` other than its own`;
        return lit.f32(0);
      },
    });
    ev.evaluate(o, o.vars.map((_, k) => (map.includes(k) ? id(`row_${map.indexOf(k)}`) : id(`o_${k}`))));
    if (bad) return bad;
    result.push(map);
  }
  return result;
}

/** Whether a definition, through the lets it loads, reads the state before this step's update (`old`) or after it (`new`). */
function readsState(def: Def, lets: Map<string, Def>, version: 'old' | 'new', seen = new Set<string>()): boolean {
  return def.nodes.some((n: Node) => {
    if (n.op !== 'load') return false;
    if (n.source === 'state') return (n.version === 'new') === (version === 'new');
    if (n.source !== 'let' || seen.has(n.tensor)) return false;
    seen.add(n.tensor);
    const l = lets.get(n.tensor);
    return l !== undefined && readsState(l, lets, version, seen);
  });
}

/**
 * The chunk shape of a module, or a ChunkUnsupported saying why the chunked kernels do not apply. The
 * compiler passes the Compilation's analysis; callers without one (tests, scripts) get it computed here.
 */
export function chunkShape(module: Module, sizes: DimSizes, given?: Analysis): ChunkShape {
  if (isBidirectional(module)) throw new ChunkUnsupported(`the chunked kernels run one direction of time; ${module.name} has a \`reversed\` block beside its forward statements`);
  const states = tensorsOf(module, 'state');
  if (states.length !== 1) throw new ChunkUnsupported(`the chunked kernels handle one state; ${module.name} has ${states.length}`);
  const state = states[0]!;
  const analysis = given ?? analyse(module, { lawTriples: 0 }).analysis;
  const report = analysis.states[0]!;
  const c = report.classification;
  if (c.kind !== 'affine' || c.semiring !== 'sum_prod' || c.transition.kind === 'diagonal')
    throw new ChunkUnsupported(`\`${state.name}\` is not a dense or low-rank (+, ×) transition (the chunked kernels are for matrix-affine updates; see rnnc check)`);
  const statePlan = analysis.plan ?? analysis.statePlans[state.name];
  if (!statePlan) throw new ChunkUnsupported(`\`${state.name}\` has no scan plan`);
  const field = (name: string) => statePlan.fields.find((f) => f.target === `${state.name}.${name}`)!;
  const [d, A, b] = [field('d'), field('A'), field('b')];
  if (A.vars.length !== 2) throw new ChunkUnsupported(`the transition of \`${state.name}\` differs between rows (A over ${A.vars.map((v) => v.dim).join(', ')}); the chunked kernels share one transition across rows`);
  const update = module.step.find((x) => x.kind === 'update' && x.target === state.name)!;
  const position = update.vars.findIndex((v) => v.name === A.vars[0]!.name);
  if (position < 0 || d.vars.some((v) => v.name !== A.vars[0]!.name)) throw new ChunkUnsupported(`unexpected field indices in the plan of \`${state.name}\``);
  const rowPositions = state.dims.map((_, k) => k).filter((k) => k !== position);
  const rowDims = rowPositions.map((k) => state.dims[k]!);
  // Lets and outputs: an output may read another.
  const lets = new Map(module.step.filter((x) => x.kind === 'let' || x.kind === 'output').map((x) => [x.target, x]));
  const outputs = module.step.filter((x) => x.kind === 'output');
  // An output of the state before the update (a backward core's carried adjoint, a saving cell's saved
  // state) is written before the step in WY form; one that reads both the old and the new state is not.
  const before = outputs.map((o) => readsState(o, lets, 'old'));
  outputs.forEach((o, k) => {
    if (before[k] && readsState(o, lets, 'new')) throw new ChunkUnsupported(`output \`${o.target}\` reads the state both before and after the update; the chunked kernels compute an output from one of them`);
  });
  const rowPlan = analysis.statePlans[state.name]?.lowRank;
  let form: ChunkShape['form'] = 'dense';
  let wy: WyFactors | undefined;
  let whyNotWy: string | undefined;
  const rows = outputRows(outputs, lets, rowDims, rowPositions, sizes);
  if (!rowPlan) whyNotWy = `the transition of \`${state.name}\` has no low-rank factors shared by every row`;
  else if (!rowPlan.offset) whyNotWy = `the offset of \`${state.name}\` does not split into row parts times parts along ${state.dims[position]}`;
  else if (typeof rows === 'string') whyNotWy = rows;
  else {
    form = 'wy';
    const dRoot = rowPlan.d.nodes[rowPlan.d.root]!;
    wy = { plan: { ...rowPlan, offset: rowPlan.offset }, ...(dRoot.op === 'const' && typeof dRoot.value === 'number' ? { dConst: dRoot.value } : {}), outputRows: rows, before };
  }
  const oldOutput = outputs.find((_, k) => before[k]);
  if (oldOutput && form === 'dense')
    throw new ChunkUnsupported(`output \`${oldOutput.target}\` reads the state before the update; the dense chunked kernels compute outputs from the updated state (the WY form, which writes such outputs before the step, does not apply: ${whyNotWy})`);
  return {
    time: timeAxisOf(module),
    form,
    ...(wy ? { wy } : {}),
    ...(whyNotWy ? { whyNotWy } : {}),
    state,
    position,
    K: sizes[state.dims[position]!]!,
    rowPositions,
    rowDims,
    rowStrides: strides(rowDims, sizes),
    R: rowDims.reduce((n, dim) => n * sizes[dim]!, 1),
    stateStrides: strides(state.dims, sizes),
    d,
    A,
    b,
    lets,
    outputs,
    kind: c.transition.kind,
    ...(c.transition.kind === 'lowrank' ? { rank: c.transition.rank } : {}),
  };
}
