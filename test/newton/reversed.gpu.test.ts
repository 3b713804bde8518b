// --mode newton on Dawn for a cell that runs time backward: gru_diag reversed, solved in logical time by
// the driver (inputs read and outputs written at each logical step's position) with the linearisation's
// kernel and the system's scan on the device, = the float64 reference of the reversed cell, with variable
// lengths (each sequence reverses over its own length) and given initial states.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fileGpu } from '../helpers/file-gpu.js';
import { runNewtonOnDevice } from '../../src/driver/newton.js';
import { interpret } from '../../src/runtime/reference/interpreter.js';
import { bindDims } from '../../src/compiler/ir/dims.js';
import { reversedText } from '../axes/helpers.js';
import { cellFrom, maxRelDiff, runCases } from './helpers.js';

const gpu = fileGpu();

describe('newton on Dawn, reversed cell', () => {
  it('gru_diag reversed = reference (T = 41, variable lengths, given initial states)', async () => {
    const { module: m } = cellFrom(reversedText(readFileSync(new URL('../../examples/gru_diag.rnn', import.meta.url), 'utf8')));
    const sizes = bindDims(m);
    const c = runCases(m, sizes, [], [41])[0]!;
    const got = await runNewtonOnDevice(gpu, m, c.arrays, { tol: 1e-6 });
    const want = interpret(m, { batch: c.arrays.batch, T: c.arrays.T, sizes, lengths: c.lengths! }, c.data);
    expect(got.residual).toBeLessThanOrEqual(1e-6);
    expect(maxRelDiff(got, want)).toBeLessThan(1e-5);
  });
});
