// Every example in f16-storage mode on Dawn, --mode chunk where the planner offers it (examples.ts).
import { it, expect } from 'vitest';
import { examples, f16Examples, KERNEL_BOUND } from './examples.js';

it('has a bound for every example', () => expect(Object.keys(KERNEL_BOUND).sort()).toEqual(examples));

f16Examples('chunk');
