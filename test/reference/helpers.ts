// Shared by the reference tests: specs from text, and data from plain number lists.
import { readFileSync } from 'node:fs';
import { frontEnd } from '../../src/driver/front-end.js';
import type { Module } from '../../src/compiler/ir/ir.js';

export function moduleOf(text: string): Module {
  const { module, diagnostics } = frontEnd(text);
  if (!module) throw new Error(`spec does not compile:\n${diagnostics.map((d) => `${d.code} ${d.message}`).join('\n')}`);
  return module;
}

export const exampleModule = (name: string): Module => moduleOf(readFileSync(new URL(`../../examples/${name}.rnn`, import.meta.url), 'utf8'));

/** A Float64Array from nested lists, flattened in row-major order (e.g. [batch][T][dims]). */
export const f64 = (values: unknown[]): Float64Array => Float64Array.from(values.flat(Infinity as 1) as number[]);

/** Rows of `n` values: an output [batch, T, n] as a list of per-step lists. */
export function rows(a: Float64Array, n: number): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < a.length; i += n) out.push(Array.from(a.subarray(i, i + n)));
  return out;
}
