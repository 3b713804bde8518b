// Renders the parser's own grammar (chevrotain's serialized GAST) as EBNF, so the documented grammar
// is the implemented one. Notation: `x?` optional, `x*` zero or more, `x+` one or more, `( a | b )`.
import { Lexer, type ISerializedGast, type TokenType } from 'chevrotain';

interface Gast extends ISerializedGast {
  name?: string;
  label?: string;
  separator?: Gast;
  definition?: Gast[];
}

/** Keywords and punctuation print as their quoted text; names and numbers as their token's name. */
function terminal(t: Gast): string {
  return t.label?.startsWith("'") ? t.label : t.name!;
}

function sequence(items: Gast[]): string {
  return items.map(element).join(' ');
}

/** A sequence of more than one element needs parentheses before a postfix operator. */
const group = (items: Gast[], suffix: string): string => (items.length === 1 ? `${element(items[0]!)}${suffix}` : `( ${sequence(items)} )${suffix}`);
const isAlternation = (g: Gast) => g.type === 'Alternation';

function element(g: Gast): string {
  const items = g.definition ?? [];
  switch (g.type) {
    case 'Terminal':
      return terminal(g);
    case 'NonTerminal':
      return g.name!;
    case 'Option':
      return group(items, '?');
    case 'Repetition':
      return group(items, '*');
    case 'RepetitionMandatory':
      return group(items, '+');
    case 'RepetitionMandatoryWithSeparator':
      return `${sequence(items)} ( ${terminal(g.separator!)} ${sequence(items)} )*`;
    case 'RepetitionWithSeparator':
      return `( ${sequence(items)} ( ${terminal(g.separator!)} ${sequence(items)} )* )?`;
    case 'Alternation':
      return `( ${items.map((alt) => sequence(alt.definition ?? [])).join(' | ')} )`;
    case 'Alternative':
      return sequence(items);
    default:
      throw new Error(`unexpected GAST node ${g.type}`);
  }
}

/** One rule: a top-level alternation is written one alternative per line. */
function rule(r: Gast): string {
  const body = r.definition ?? [];
  const pad = ' '.repeat(r.name!.length);
  if (body.length === 1 && isAlternation(body[0]!)) {
    const alternatives = body[0]!.definition!.map((alt) => sequence(alt.definition ?? []));
    return `${r.name} ::= ${alternatives.join(`\n${pad}   | `)}`;
  }
  return `${r.name} ::= ${sequence(body)}`;
}

export function grammarToEbnf(rules: ISerializedGast[]): string {
  return (rules as Gast[]).map(rule).join('\n');
}

/** The lexical rules: each named token with its pattern, the skipped tokens, and each category as its members. */
export function tokensToEbnf(tokens: TokenType[]): string {
  const lexical = (t: TokenType) => {
    if (t.PATTERN !== Lexer.NA) return `${t.name} ::= /${(t.PATTERN as RegExp).source}/${t.GROUP === Lexer.SKIPPED ? '    (skipped)' : ''}`;
    return `${t.name} ::= ${tokens.filter((m) => m.CATEGORIES?.includes(t)).map((m) => m.name).join(' | ')}`;
  };
  return tokens
    .filter((t) => !(t.LABEL ?? '').startsWith("'"))
    .map(lexical)
    .join('\n');
}
