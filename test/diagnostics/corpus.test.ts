// The diagnostics corpus: every malformed or ill-typed spec under cases/ has its rendered diagnostics
// pinned in a baseline next to it (cases/NAME.errors.txt, the full text with code frames, as NO_COLOR
// prints it), and its codes and positions pinned in the table below so a reviewer sees them here.
import { readdirSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { frontEnd } from '../../src/driver/front-end.js';
import { renderDiagnostics, SourceFile } from '../../src/compiler/diagnostics/render.js';

const casesDir = join(import.meta.dirname, 'cases');
const caseNames = readdirSync(casesDir)
  .filter((f) => f.endsWith('.rnn'))
  .map((f) => basename(f, '.rnn'))
  .sort();

type Expected = [code: string, line: number, column: number][];

/** Per case: each diagnostic's code, 1-based line and column, in the order they are reported. */
const expected: Record<string, Expected> = {
  direction_block_misplaced: [['RNN0505', 6, 3]],
  direction_block_reads_other_part: [['RNN0506', 10, 14], ['RNN0506', 10, 23], ['RNN0507', 11, 5]],
  direction_unknown: [['RNN0504', 2, 19]],
  grid_bare_state_before_update: [['RNN0508', 5, 14]],
  grid_neighbour_outside_grid: [['RNN0509', 5, 8]],
  grid_neighbour_unknown: [['RNN0510', 5, 19]],
  grid_with_monoid: [['RNN0511', 5, 3]],
  index_dim_size_invalid: [['RNN0308', 3, 12], ['RNN0308', 3, 19]],
  index_dim_size_too_large: [['RNN0312', 3, 12]],
  index_constant: [['RNN0314', 6, 23], ['RNN0314', 7, 12]],
  index_constant_in_declaration: [['RNN0203', 4, 14]],
  index_named_like_dim: [['RNN0311', 6, 5]],
  index_named_like_tensor: [['RNN0311', 6, 9]],
  index_reduction_rebinds: [['RNN0304', 6, 22]],
  index_reduction_unused: [['RNN0309', 6, 22]],
  index_repeated_in_subscript: [['RNN0310', 6, 30]],
  index_twice_on_left: [['RNN0305', 6, 12], ['RNN0310', 6, 22]],
  index_two_dims: [['RNN0302', 6, 27]],
  index_used_as_value: [['RNN0313', 6, 25], ['RNN0313', 6, 30]],
  index_unbound: [['RNN0303', 6, 14]],
  index_unused_on_left: [['RNN0306', 6, 9]],
  index_update_shape: [['RNN0307', 6, 3]],
  index_wrong_rank: [['RNN0301', 7, 18]],
  monoid_identity_not_constant: [['RNN0614', 7, 18]],
  monoid_missing_field: [['RNN0605', 7, 14]],
  monoid_field_twice: [['RNN0616', 6, 20], ['RNN0202', 10, 11]],
  monoid_let_used_before_defined: [['RNN0208', 9, 11]],
  monoid_missing_parts: [['RNN0604', 5, 3], ['RNN0604', 5, 3]],
  monoid_non_state_field: [['RNN0606', 6, 20]],
  monoid_operands_same_name: [['RNN0617', 8, 16]],
  monoid_second_part: [['RNN0615', 9, 5], ['RNN0615', 11, 3]],
  monoid_with_update: [['RNN0607', 5, 3]],
  name_assign_to_declared: [['RNN0206', 5, 9], ['RNN0502', 6, 7], ['RNN0502', 7, 10]],
  name_dim_used_as_value: [['RNN0201', 6, 25]],
  name_duplicate: [['RNN0202', 5, 9]],
  name_field_outside_combine: [['RNN0211', 5, 8]],
  name_let_named_like_dim: [['RNN0202', 6, 7]],
  name_reduction_called_as_function: [['RNN0204', 6, 12], ['RNN0303', 6, 18]],
  name_state_never_updated: [['RNN0206', 4, 16]],
  name_unknown_dim: [['RNN0203', 4, 11]],
  name_unknown_field: [['RNN0210', 9, 17]],
  name_unknown_function: [['RNN0204', 6, 11]],
  name_unknown_function_lists_builtins: [['RNN0204', 6, 18]],
  name_unknown_reduction: [['RNN0209', 6, 12]],
  name_unknown_suggests: [['RNN0201', 6, 11]],
  name_update_of_input: [['RNN0205', 6, 3]],
  name_updated_twice: [['RNN0207', 6, 3]],
  name_used_before_defined: [['RNN0208', 5, 12]],
  recovery_checker_across_sections: [['RNN0308', 3, 12], ['RNN0203', 4, 11], ['RNN0501', 5, 16], ['RNN0404', 6, 14], ['RNN0602', 8, 13]],
  recovery_checker_errors: [['RNN0204', 7, 14], ['RNN0302', 8, 33], ['RNN0201', 9, 25], ['RNN0301', 10, 17]],
  recovery_in_monoid: [['RNN0106', 7, 17], ['RNN0106', 9, 23], ['RNN0106', 12, 17]],
  recovery_lexer_and_parser: [['RNN0106', 4, 18], ['RNN0101', 6, 16]],
  recovery_three_syntax_errors: [['RNN0106', 6, 26], ['RNN0102', 7, 21], ['RNN0102', 8, 23]],
  state_init_from_input: [['RNN0501', 5, 16]],
  state_init_param_shape: [['RNN0501', 6, 16]],
  state_none: [['RNN0503', 2, 5]],
  structure_rank: [['RNN0611', 7, 13], ['RNN0612', 8, 13], ['RNN0610', 8, 16]],
  structure_unknown_names: [['RNN0602', 7, 13], ['RNN0603', 7, 27]],
  syntax_dim_size_not_a_number: [['RNN0102', 3, 12]],
  syntax_empty_file: [['RNN0107', 1, 1]],
  syntax_equals_instead_of_arrow: [['RNN0102', 6, 8]],
  syntax_file_ends_after_token: [['RNN0104', 4, 11]],
  syntax_keyword_as_name: [['RNN0102', 5, 7]],
  syntax_missing_bracket_in_declaration: [['RNN0106', 4, 12]],
  syntax_missing_name: [['RNN0106', 6, 9]],
  syntax_missing_operand_at_line_end: [['RNN0106', 6, 17]],
  syntax_missing_paren_at_line_end: [['RNN0106', 6, 23]],
  syntax_nested_too_deeply: [['RNN0108', 5, 76]],
  syntax_number_out_of_range: [['RNN0105', 5, 12], ['RNN0201', 5, 20]],
  syntax_text_after_cell: [['RNN0103', 7, 1]],
  syntax_unexpected_character: [['RNN0101', 6, 16]],
  syntax_unexpected_token: [['RNN0102', 6, 23]],
  syntax_unfinished_file: [['RNN0104', 6, 22]],
  type_comparison_in_arithmetic: [['RNN0401', 5, 12]],
  type_let_is_comparison: [['RNN0404', 5, 18]],
  type_select_condition: [['RNN0402', 5, 15]],
  type_wrong_arity: [['RNN0403', 5, 8], ['RNN0403', 5, 17]],
};

function compile(name: string) {
  const path = `test/diagnostics/cases/${name}.rnn`;
  const source = new SourceFile(path, readFileSync(join(casesDir, `${name}.rnn`), 'utf8'));
  return { source, result: frontEnd(source.text) };
}

describe('diagnostics corpus', () => {
  it('has at least 40 cases, each listed in the table', () => {
    expect(caseNames.length).toBeGreaterThanOrEqual(40);
    expect(Object.keys(expected).sort()).toEqual(caseNames);
  });

  it('has at least 5 recovery cases reporting several errors on different lines', () => {
    const recovery = caseNames.filter((n) => n.startsWith('recovery_'));
    expect(recovery.length).toBeGreaterThanOrEqual(5);
    for (const name of recovery) expect(new Set(expected[name]!.map(([, line]) => line)).size, name).toBeGreaterThanOrEqual(2);
  });

  it.each(caseNames)('%s: codes and positions', (name) => {
    const { source, result } = compile(name);
    const found = result.diagnostics.map((d) => {
      const { line, column } = source.position(d.span.start);
      return [d.code, line, column];
    });
    expect(found).toEqual(expected[name]);
    // An error never lets the file through to the IR; a warning alone does.
    expect(result.module === undefined).toBe(result.diagnostics.some((d) => d.severity === 'error'));
  });

  it.each(caseNames)('%s: rendered baseline', async (name) => {
    const { source, result } = compile(name);
    await expect(renderDiagnostics(result.diagnostics, source, { color: false }) + '\n').toMatchFileSnapshot(`cases/${name}.errors.txt`);
  });
});
