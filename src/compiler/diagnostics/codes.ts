// Every diagnostic rnnc can report, in one table: a stable code, a severity and a message
// template. Templates take named arguments: `{name}`. Codes are grouped by phase:
// 01xx syntax, 02xx names, 03xx indices and shapes, 04xx types, 05xx state and statement order,
// 06xx structure and monoids, 07xx run-time inputs, 08xx cost and limits, 09xx internal.

export type Severity = 'error' | 'warning' | 'note';

export const codes = {
  RNN0101: { severity: 'error', message: 'unexpected character {text}' },
  RNN0102: { severity: 'error', message: 'expected {expected} but found {found}' },
  RNN0103: { severity: 'error', message: 'unexpected {found} here: {hint}' },
  RNN0104: { severity: 'error', message: 'the file is not finished: expected {expected}' },
  RNN0105: { severity: 'error', message: 'the number {text} is too large for a float32' },
  RNN0106: { severity: 'error', message: 'expected {expected} at the end of the line' },
  RNN0107: { severity: 'error', message: 'the file is empty: a .rnn file holds one cell, `rnn NAME { ... }`' },
  RNN0108: { severity: 'error', message: 'this expression is nested too deeply (the limit is {limit} levels)' },

  RNN0201: { severity: 'error', message: 'unknown name `{name}`' },
  RNN0202: { severity: 'error', message: '`{name}` is already declared' },
  RNN0203: { severity: 'error', message: 'unknown dim `{name}`' },
  RNN0204: { severity: 'error', message: 'unknown function `{name}`; the builtins are: {builtins}' },
  RNN0205: { severity: 'error', message: '`{name}` is {what}, not a state: only a state can be updated with `<-`' },
  RNN0206: { severity: 'warning', message: 'state `{name}` is never updated' },
  RNN0207: { severity: 'error', message: 'state `{name}` is updated more than once' },
  RNN0208: { severity: 'error', message: '`{name}` is used before it is defined' },
  RNN0209: { severity: 'error', message: 'unknown reduction `{name}`' },
  RNN0210: { severity: 'error', message: '`{name}` has no field `{field}`' },
  RNN0211: { severity: 'error', message: '`{name}.{field}` can only be used inside a monoid `combine`' },

  RNN0301: { severity: 'error', message: '`{name}` has {expected} but is used with {found}' },
  RNN0302: { severity: 'error', message: 'index `{index}` ranges over `{first}` here but over `{second}` elsewhere in this statement' },
  RNN0303: { severity: 'error', message: 'index `{index}` is not bound: it is neither on the left side nor bound by an enclosing reduction' },
  RNN0304: { severity: 'error', message: 'reduction index `{index}` is already bound in this statement' },
  RNN0305: { severity: 'error', message: 'index `{index}` appears twice on the left side' },
  RNN0306: { severity: 'error', message: 'index `{index}` is never used on the right side, so its range is unknown' },
  RNN0307: { severity: 'error', message: 'the update of `{name}` must cover its shape [{expected}] but covers [{found}]' },
  RNN0308: { severity: 'error', message: 'dim `{name}` must be a positive integer, got {value}' },
  RNN0309: { severity: 'error', message: 'a reduction over `{index}` must use it in its body' },
  RNN0310: { severity: 'error', message: 'the same index `{index}` is used twice in one subscript of `{name}`' },
  RNN0311: { severity: 'error', message: 'index `{index}` has the same name as {what} `{name}`' },
  RNN0312: { severity: 'error', message: 'dim `{name}` is {value}, more than the largest size a kernel can index ({max})' },
  RNN0313: { severity: 'error', message: 'index `{index}` cannot be used as a value: indices only index tensors' },
  RNN0314: { severity: 'error', message: 'constant index `{index}`: indices must be names bound by the definition' },

  RNN0401: { severity: 'error', message: 'a comparison result (boolean) cannot be used in arithmetic: {hint}' },
  RNN0402: { severity: 'error', message: 'the condition of `select` must be a comparison' },
  RNN0403: { severity: 'error', message: '`{name}` takes {expected} but is given {found}' },
  RNN0404: { severity: 'error', message: 'the value of `{name}` must be a number, not a comparison' },

  RNN0501: { severity: 'error', message: 'the initial value of `{name}` must be a constant or a param of the same shape' },
  RNN0502: { severity: 'error', message: '{what} `{name}` cannot be assigned' },
  RNN0503: { severity: 'error', message: 'the cell `{name}` declares no state: a recurrent cell needs at least one `state`' },
  RNN0504: { severity: 'error', message: 'unknown axis `{name}`: only `reversed` or `grid` may follow the cell name' },
  RNN0505: { severity: 'error', message: 'a `reversed { ... }` block cannot be in {what}' },
  RNN0506: { severity: 'error', message: '{what} `{name}` runs {there}, in the other direction of time: it cannot be read {here}' },
  RNN0507: { severity: 'error', message: 'state `{name}` is declared {declared}, so it cannot be updated {here}' },
  RNN0508: { severity: 'error', message: 'in a grid cell, state `{name}` is read before its update: say which neighbour, `{name}.left` or `{name}.up`' },
  RNN0509: { severity: 'error', message: '`{name}.{field}` reads a neighbour on a grid, but `{cell}` is not a grid cell' },
  RNN0510: { severity: 'error', message: 'unknown neighbour `{name}.{field}`: a grid cell reads a state at `{name}.left` or `{name}.up`' },
  RNN0511: { severity: 'error', message: 'a grid cell cannot have a monoid: its states are updated with `<-` from their neighbours' },
  RNN0512: { severity: 'error', message: '{name} is a grid cell: {what} runs over one time axis only; the wavefront kernel (--mode seq) and the reference interpreter run it' },

  RNN0601: { severity: 'error', message: 'declared structure {declared} does not match the inferred {inferred}' },
  RNN0602: { severity: 'error', message: 'unknown structure `{name}`; expected one of {expected}' },
  RNN0603: { severity: 'error', message: 'unknown semiring `{name}`; expected one of {expected}' },
  RNN0604: { severity: 'error', message: 'the monoid must declare {what}' },
  RNN0605: { severity: 'error', message: 'the monoid {part} does not assign state `{name}`' },
  RNN0606: { severity: 'error', message: '`{name}` is not a state, so it cannot be a monoid field' },
  RNN0607: { severity: 'error', message: 'a cell with a monoid cannot also update its states with `<-`' },
  RNN0608: { severity: 'error', message: 'the combine is not associative: {detail}' },
  RNN0609: { severity: 'error', message: 'the identity is not an identity of the combine: {detail}' },
  RNN0610: { severity: 'error', message: '`lowrank` needs its rank, e.g. `lowrank(1)`' },
  RNN0611: { severity: 'error', message: 'structure `{name}` takes no rank; only `lowrank(k)` does' },
  RNN0612: { severity: 'error', message: '`{name}` is not a state, so no structure can be declared for it' },
  RNN0613: { severity: 'error', message: 'a rank must be a positive integer, got {value}' },
  RNN0614: { severity: 'error', message: '{what} `{name}` cannot be read in the monoid {part}' },
  RNN0615: { severity: 'error', message: 'a second {what}: {owner} has only one' },
  RNN0616: { severity: 'error', message: 'the monoid {part} assigns state `{name}` twice' },
  RNN0617: { severity: 'error', message: 'both operands of `combine` are named `{name}`: give them two names, e.g. `combine(a, b)`' },

  RNN0701: { severity: 'error', message: '{message}' },

  RNN0801: { severity: 'error', message: 'one step of this cell costs about {ops} operations per sequence, over the limit of {limit}; most of them here ({hottest} a step)' },
  RNN0803: { severity: 'error', message: 'the wavefront kernel of a grid cell keeps `{name}` for each position in an array of {count} floats, over the {limit} a WGSL array holds' },
  RNN0802: { severity: 'error', message: '{name} cannot take --precision {precision}: {why}; {verb} it with --precision f32 or auto' },

  RNN0901: { severity: 'error', message: 'internal compiler error: {message}' },
} as const satisfies Record<string, { severity: Severity; message: string }>;

export type Code = keyof typeof codes;

export function formatMessage(code: Code, args: Record<string, string | number>): string {
  return codes[code].message.replace(/\{(\w+)\}/g, (_, key: string) => (key in args ? String(args[key]) : `{${key}}`));
}
