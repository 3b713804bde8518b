// What the checker knows about each name: its kind, its dims, and where it was declared.
import type { Span, Stmt } from '../syntax/ast.js';

export type SymbolKind = 'dim' | 'input' | 'param' | 'state' | 'let' | 'output';

export interface TensorSymbol {
  kind: Exclude<SymbolKind, 'dim'>;
  name: string;
  dims: string[];
  span: Span;
  /** Index of the statement that defines a let or output; -1 for declarations. */
  definedAt: number;
}

export interface DimSymbol {
  kind: 'dim';
  name: string;
  size?: number;
  span: Span;
}

export type RnnSymbol = TensorSymbol | DimSymbol;

export interface CheckedFile {
  symbols: Map<string, RnnSymbol>;
  /** Dims of each left-side index, positionally, for every statement that checked cleanly. */
  lhsDims: Map<Stmt, string[]>;
  /** Index of the statement that updates each state. */
  updateOf: Map<string, number>;
}
