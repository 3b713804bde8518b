// An unexpected exception inside the compiler is reported as an internal error: exit 2, no stack trace
// unless RNNC_DEBUG is set.
import { afterEach, expect, it, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

vi.mock('../../src/driver/front-end.js', () => ({
  frontEnd: () => {
    throw new TypeError('boom');
  },
}));

async function capture(args: string[]) {
  const err: string[] = [];
  vi.spyOn(process.stderr, 'write').mockImplementation(((chunk: string) => (err.push(String(chunk)), true)) as typeof process.stderr.write);
  try {
    return { code: await main(args), stderr: err.join('') };
  } finally {
    process.exitCode = undefined;
    vi.restoreAllMocks();
  }
}

afterEach(() => {
  delete process.env['RNNC_DEBUG'];
});

it('reports an internal error with exit 2 and no stack trace', async () => {
  const r = await capture(['check', 'examples/gla.rnn']);
  expect(r.code).toBe(2);
  expect(r.stderr).toBe('rnnc: internal error: boom\nset RNNC_DEBUG=1 for a stack trace, and please report it\n');
});

it('prints the stack trace with RNNC_DEBUG=1', async () => {
  process.env['RNNC_DEBUG'] = '1';
  const r = await capture(['check', 'examples/gla.rnn']);
  expect(r.code).toBe(2);
  expect(r.stderr).toMatch(/^rnnc: internal error: boom\nTypeError: boom\n\s+at /);
});
