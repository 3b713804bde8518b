// The WGSL printer: one walk in a fixed order (header, enables, structs, constants, globals,
// functions, entry points), 4-space indentation, attributes on their own line (naga/Tint style).
// Nothing here depends on Map iteration order or the locale, so output is byte-identical everywhere.
import type { BinaryOp, Constant, EntryPoint, Expr, Function, Global, Module, Stmt, Struct, Type } from './ast.js';

export const INDENT = '    ';

export function printType(t: Type): string {
  switch (t.kind) {
    case 'scalar':
      return t.name;
    case 'vec':
      return `vec${t.size}<${printType(t.elem)}>`;
    case 'array':
      return t.size === undefined ? `array<${printType(t.elem)}>` : `array<${printType(t.elem)}, ${typeof t.size === 'number' ? `${t.size}` : t.size}>`;
    case 'atomic':
      return `atomic<${printType(t.elem)}>`;
    case 'named':
      return t.name;
  }
}

/**
 * An f32 literal: the shortest decimal that rounds back to the same f32, with `.0` added when it
 * would otherwise read as an integer, and an `f` suffix. WGSL has no literal for infinity or NaN.
 */
export function formatF32(v: number): string {
  const f = Math.fround(v);
  if (!Number.isFinite(f)) throw new Error(`formatF32: ${v} has no WGSL literal (use a bitcast)`);
  if (Object.is(f, -0)) return '-0.0f';
  let digits = String(f);
  // Tint rejects a literal whose exact decimal value lies beyond the largest f32, even one that
  // rounds to it (3.4028235e38): take the shortest decimal that round-trips and stays in range.
  for (let p = 1; p <= 17; p++) {
    const candidate = Number(f.toPrecision(p));
    if (Math.fround(candidate) === f && Math.abs(candidate) <= 3.4028234663852886e38) {
      digits = String(candidate);
      break;
    }
  }
  if (!/[.e]/.test(digits)) digits += '.0';
  return digits + 'f';
}

function formatLiteral(e: Extract<Expr, { kind: 'literal' }>): string {
  switch (e.type) {
    case 'f32':
      return formatF32(e.value as number);
    case 'f16':
      // Only emitted for values exact in f16 (the storage rewrite narrows with f16(...) instead).
      return formatF32(e.value as number).slice(0, -1) + 'h';
    case 'u32':
      if (!Number.isInteger(e.value) || (e.value as number) < 0 || (e.value as number) > 0xffffffff) throw new Error(`formatLiteral: bad u32 ${e.value}`);
      return `${e.value}u`;
    case 'i32':
      if (!Number.isInteger(e.value)) throw new Error(`formatLiteral: bad i32 ${e.value}`);
      return `${e.value}i`;
    case 'bool':
      return e.value ? 'true' : 'false';
  }
}

// WGSL's expression grammar: multiplicative > additive > shift > relational > bitwise/logical.
// Shift and bitwise operands must be unary expressions, relational operands may not be relational,
// and `&&`/`||` chains may not mix: the printer adds parentheses exactly where the grammar needs them
// (and where a right operand of the same level would otherwise re-associate).
const level: Record<BinaryOp, number> = {
  '*': 5, '/': 5, '%': 5,
  '+': 4, '-': 4,
  '<<': 3, '>>': 3,
  '<': 2, '>': 2, '<=': 2, '>=': 2, '==': 2, '!=': 2,
  '&': 1, '|': 1, '^': 1,
  '&&': 0, '||': 0,
};

function needsParens(parent: BinaryOp, child: Expr, side: 'left' | 'right'): boolean {
  if (child.kind !== 'binary') return false;
  const p = level[parent];
  const c = level[child.op];
  if (p === 3 || p === 1) return !(p === 1 && side === 'left' && child.op === parent);
  if (p === 0) return c === 0 && !(side === 'left' && child.op === parent);
  if (p === 2) return c <= 2;
  return c < p || (c === p && side === 'right');
}

export function printExpr(e: Expr): string {
  switch (e.kind) {
    case 'literal':
      return formatLiteral(e);
    case 'ident':
      return e.name;
    case 'unary': {
      const arg = printExpr(e.arg);
      const wrapped = e.arg.kind === 'binary' || (e.arg.kind === 'unary' && e.arg.op === e.op) || (e.arg.kind === 'literal' && arg.startsWith('-')) ? `(${arg})` : arg;
      return `${e.op}${wrapped}`;
    }
    case 'binary': {
      const l = printExpr(e.left);
      const r = printExpr(e.right);
      return `${needsParens(e.op, e.left, 'left') ? `(${l})` : l} ${e.op} ${needsParens(e.op, e.right, 'right') ? `(${r})` : r}`;
    }
    case 'call':
      return `${e.fn}${e.template ? `<${printType(e.template)}>` : ''}(${e.args.map(printExpr).join(', ')})`;
    case 'index':
    case 'member': {
      const base = printExpr(e.base);
      const b = e.base.kind === 'binary' || e.base.kind === 'unary' ? `(${base})` : base;
      return e.kind === 'index' ? `${b}[${printExpr(e.index)}]` : `${b}.${e.name}`;
    }
  }
}

/** A statement that fits on one line, without its `;` (for-loop headers reuse it). */
function simpleStmt(s: Stmt): string {
  switch (s.kind) {
    case 'let':
      return `let ${s.name}${s.type ? `: ${printType(s.type)}` : ''} = ${printExpr(s.init)}`;
    case 'var':
      return `var ${s.name}${s.type ? `: ${printType(s.type)}` : ''}${s.init ? ` = ${printExpr(s.init)}` : ''}`;
    case 'assign':
      return `${printExpr(s.target)} ${s.op} ${printExpr(s.value)}`;
    case 'increment':
      return `${printExpr(s.target)}${s.op}`;
    case 'return':
      return s.value ? `return ${printExpr(s.value)}` : 'return';
    case 'break':
    case 'continue':
      return s.kind;
    case 'call':
      return printExpr(s.call);
    default:
      throw new Error(`simpleStmt: ${s.kind} is not a simple statement`);
  }
}

function printBlock(body: Stmt[], depth: number, out: string[]): void {
  for (const s of body) printStmt(s, depth, out);
}

function printStmt(s: Stmt, depth: number, out: string[]): void {
  const pad = INDENT.repeat(depth);
  switch (s.kind) {
    case 'comment':
      for (const line of s.text.split('\n')) out.push(`${pad}// ${line}`.trimEnd());
      return;
    case 'blank':
      out.push('');
      return;
    case 'if': {
      out.push(`${pad}if ${printExpr(s.cond)} {`);
      printBlock(s.then, depth + 1, out);
      let rest = s.else;
      // `else if` chains print flat.
      while (rest && rest.length === 1 && rest[0]!.kind === 'if') {
        const inner = rest[0] as Extract<Stmt, { kind: 'if' }>;
        out.push(`${pad}} else if ${printExpr(inner.cond)} {`);
        printBlock(inner.then, depth + 1, out);
        rest = inner.else;
      }
      if (rest) {
        out.push(`${pad}} else {`);
        printBlock(rest, depth + 1, out);
      }
      out.push(`${pad}}`);
      return;
    }
    case 'for':
      out.push(`${pad}for (${s.init ? simpleStmt(s.init) : ''}; ${s.cond ? printExpr(s.cond) : ''}; ${s.update ? simpleStmt(s.update) : ''}) {`);
      printBlock(s.body, depth + 1, out);
      out.push(`${pad}}`);
      return;
    case 'loop':
    case 'block':
      out.push(`${pad}${s.kind === 'loop' ? 'loop ' : ''}{`);
      printBlock(s.body, depth + 1, out);
      out.push(`${pad}}`);
      return;
    default:
      out.push(`${pad}${simpleStmt(s)};`);
  }
}

const commentLines = (text: string | undefined, out: string[]) => {
  if (text) for (const line of text.split('\n')) out.push(`// ${line}`.trimEnd());
};

function printStruct(s: Struct, out: string[]): void {
  out.push(`struct ${s.name} {`);
  for (const m of s.members) out.push(`${INDENT}${(m.attributes ?? []).map((a) => `@${a} `).join('')}${m.name}: ${printType(m.type)},`);
  out.push('}');
}

function printConstant(c: Constant, out: string[]): void {
  commentLines(c.comment, out);
  const type = c.type ? `: ${printType(c.type)}` : '';
  out.push(`${c.override ? 'override' : 'const'} ${c.name}${type}${c.value ? ` = ${printExpr(c.value)}` : ''};`);
}

function printGlobal(g: Global, out: string[]): void {
  commentLines(g.comment, out);
  if (g.group !== undefined || g.binding !== undefined) out.push(`@group(${g.group ?? 0}) @binding(${g.binding ?? 0})`);
  const space = g.space === 'storage' ? `storage, ${g.access ?? 'read'}` : g.space;
  out.push(`var<${space}> ${g.name}: ${printType(g.type)}${g.init ? ` = ${printExpr(g.init)}` : ''};`);
}

function printFunction(f: Function | EntryPoint, out: string[]): void {
  commentLines(f.comment, out);
  if ('stage' in f) out.push(`@${f.stage} @workgroup_size(${f.workgroupSize.filter((n) => n !== undefined).join(', ')})`);
  const params = f.params.map((p) => `${(p.attributes ?? []).map((a) => `@${a} `).join('')}${p.name}: ${printType(p.type)}`).join(', ');
  out.push(`fn ${f.name}(${params})${f.returnType ? ` -> ${printType(f.returnType)}` : ''} {`);
  printBlock(f.body, 1, out);
  out.push('}');
}

/** Renders a module; sections are separated by one blank line, ending with a newline. */
export function printModule(m: Module): string {
  const sections: string[][] = [];
  const section = (fill: (out: string[]) => void) => {
    const out: string[] = [];
    fill(out);
    if (out.length) sections.push(out);
  };
  section((out) => commentLines(m.header, out));
  section((out) => m.enables.forEach((e) => out.push(`enable ${e};`)));
  for (const s of m.structs) section((out) => printStruct(s, out));
  section((out) => m.constants.forEach((c) => printConstant(c, out)));
  for (const g of m.globals) section((out) => printGlobal(g, out));
  for (const f of m.functions) section((out) => printFunction(f, out));
  for (const e of m.entryPoints) section((out) => printFunction(e, out));
  return sections.map((s) => s.join('\n')).join('\n\n') + '\n';
}
