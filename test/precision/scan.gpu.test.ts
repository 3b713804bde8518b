// Every example in f16-storage mode on Dawn, --mode scan where the planner offers it (examples.ts).
import { it, expect } from 'vitest';
import { examples, f16Examples, gridExamples, KERNEL_BOUND } from './examples.js';

it('has a bound for every example', () => expect(Object.keys(KERNEL_BOUND).sort()).toEqual(examples));
it('leaves out exactly the grid examples', () => expect(gridExamples).toEqual(['mamba_rows.rnn', 'plstm.rnn', 'ssm2d.rnn']));

f16Examples('scan', { ciHalf: 0 });

// The chained single pass (vec4 loads and stores of f16 tiles): one float per step (every dim 1), planned
// for an adapter where a look-back is safe, full lengths (a multiple of 4).
f16Examples('scan', { unitDims: true, target: { subgroups: true, lookBack: true }, only: (c) => (c.plan.decision as { tile?: { chained?: boolean } }).tile?.chained === true, runs: [[1, 1000, undefined], [2, 1024, undefined]] });

