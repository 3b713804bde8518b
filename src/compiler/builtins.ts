// The functions and reductions a .rnn expression may call, with their arities.
export const unaryFunctions = ['exp', 'log', 'sigmoid', 'tanh', 'softplus', 'relu', 'sqrt', 'abs'] as const;
export const binaryFunctions = ['min', 'max', 'logaddexp'] as const;
export const reducers = ['sum', 'max', 'min', 'logsumexp'] as const;

export type UnaryFn = (typeof unaryFunctions)[number];
export type BinaryFn = (typeof binaryFunctions)[number];
export type Reducer = (typeof reducers)[number];

export const functionArity: Record<string, number> = {
  ...Object.fromEntries(unaryFunctions.map((f) => [f, 1])),
  ...Object.fromEntries(binaryFunctions.map((f) => [f, 2])),
  select: 3,
};

export const isReducer = (name: string): name is Reducer => (reducers as readonly string[]).includes(name);

/** (⊕, ⊗) with their identities: sum_prod (+, ×), max_plus (max, +), max_min (max, min), log (logaddexp, +). */
export const semirings = ['sum_prod', 'max_plus', 'max_min', 'log'] as const;
export type Semiring = (typeof semirings)[number];

/**
 * What `structure [state:] kind[(rank)] [over semiring]` may declare; `sequential` asserts the state is
 * not a scan. A monoid is declared by the cell's `monoid` block itself (and `monoid` is a keyword).
 */
export const structureKinds = ['diagonal', 'dense', 'lowrank', 'sequential'] as const;
export type StructureKind = (typeof structureKinds)[number];
