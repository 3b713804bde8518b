// The IR as text (`rnnc explain`): stable, one node per line, with type, index space and dependence.
import type { Def, Module, Node, Tensor } from './ir.js';

export const formatNumber = (v: number): string => (v === Infinity ? 'inf' : v === -Infinity ? '-inf' : String(v));

const subscript = (index: string[]) => (index.length ? `[${index.join(', ')}]` : '');

function nodeText(n: Node): string {
  switch (n.op) {
    case 'const':
      return `const ${formatNumber(n.value)}`;
    case 'load':
      return `load ${n.source}${n.version ? `.${n.version}` : ''}${n.reversed ? '.reversed' : ''}${n.neighbour ? `.${n.neighbour}` : ''} ${n.tensor}${subscript(n.index)}`;
    case 'unary':
    case 'binary':
    case 'select':
      return `${n.op === 'select' ? 'select' : n.fn} ${n.args.map((a) => `%${a}`).join(', ')}`;
    case 'reduce':
      return `reduce.${n.fn} ${n.over.name}:${n.over.dim} %${n.args[0]}`;
  }
}

const phaseNote: Record<Def['phase'], string> = {
  invariant: 'time-invariant: computed once',
  parallel: 'state-independent: hoisted, time-parallel',
  core: 'recurrent core',
  after: 'after the update',
};

/** `showPhase` is off for a combine's definitions: they run inside the scan, not at a point of the time loop. */
export function printDef(def: Def, indent = '', showPhase = true): string[] {
  const vars = def.vars.map((v) => `${v.name}: ${v.dim}`).join(', ');
  const lines = [`${indent}${def.kind} ${def.target}${def.vars.length ? `[${vars}]` : ''}${showPhase ? `    ; ${phaseNote[def.phase]}` : ''}`];
  for (const n of def.nodes) {
    const text = `%${n.id} = ${nodeText(n)}`;
    lines.push(`${indent}  ${text.padEnd(40)} : ${n.type} ${subscript(n.space) || '[]'} ${n.dep}`);
  }
  lines.push(`${indent}  return %${def.root}`);
  return lines;
}

function tensorLine(t: Tensor): string {
  const init = t.init ? ` = ${t.init.kind === 'const' ? formatNumber(t.init.value) : t.init.name}` : '';
  return `  ${t.role} ${t.name}${subscript(t.dims)}${init}${t.reversed ? '    ; reversed' : ''}`;
}

export function printModule(m: Module): string {
  const lines = [`rnn ${m.name}${m.reversed ? ' reversed' : ''}${m.grid ? ' grid' : ''}`];
  for (const d of m.dims) lines.push(`  dim ${d.name}${d.size !== undefined ? ` = ${d.size}` : ''}`);
  for (const role of ['input', 'param', 'state'] as const) for (const t of m.tensors) if (t.role === role) lines.push(tensorLine(t));
  for (const s of m.structures) {
    lines.push(`  structure ${s.state ? `${s.state}: ` : ''}${s.kind}${s.rank !== undefined ? `(${s.rank})` : ''}${s.semiring ? ` over ${s.semiring}` : ''}`);
  }
  lines.push('');
  for (const def of m.step) lines.push(...printDef(def));
  if (m.monoid) {
    lines.push('', `monoid combine(${m.monoid.left}, ${m.monoid.right})`);
    for (const def of [...m.monoid.element, ...m.monoid.identity]) lines.push(...printDef(def, '  '));
    for (const def of m.monoid.combine) lines.push(...printDef(def, '  ', false));
  }
  return lines.join('\n') + '\n';
}
