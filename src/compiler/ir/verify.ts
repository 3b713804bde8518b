// An IR verifier, run after lowering in tests: a broken pass fails here, not three stages later.
import { depRank, joinDep, type Def, type Module } from './ir.js';

export function verifyModule(m: Module): string[] {
  const problems: string[] = [];
  const defs = [...m.step, ...(m.monoid ? [...m.monoid.element, ...m.monoid.identity, ...m.monoid.combine] : [])];
  for (const def of defs) problems.push(...verifyDef(def).map((p) => `${def.kind} ${def.target}: ${p}`));
  return problems;
}

function verifyDef(def: Def): string[] {
  const problems: string[] = [];
  const vars = new Set(def.vars.map((v) => v.name));
  def.nodes.forEach((n, i) => {
    if (n.id !== i) problems.push(`node %${i} has id ${n.id}`);
    const args: number[] = 'args' in n ? n.args : [];
    for (const a of args) if (a >= i) problems.push(`%${i} uses %${a}, which is not defined before it`);
    const argNodes = args.map((a) => def.nodes[a]!).filter(Boolean);
    if (n.op !== 'load' && n.op !== 'const') {
      const expected = joinDep(...argNodes.map((a) => a.dep));
      if (depRank[expected] !== depRank[n.dep]) problems.push(`%${i} has dep ${n.dep}, its operands give ${expected}`);
    }
    if (n.op === 'select' && argNodes[0]?.type !== 'bool') problems.push(`%${i}: select condition is not bool`);
    if (n.op === 'reduce' && n.space.includes(n.over.name)) problems.push(`%${i}: reduction index ${n.over.name} escapes`);
  });
  const root = def.nodes[def.root];
  if (!root) problems.push('root is missing');
  else {
    for (const s of root.space) if (!vars.has(s)) problems.push(`index ${s} is free in the result but not on the left side`);
    if (root.type !== 'f32') problems.push('result is not f32');
  }
  return problems;
}
