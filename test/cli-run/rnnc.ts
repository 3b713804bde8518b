// The CLI run in-process with stdout and stderr captured, for the tests of its commands.
import { afterEach, beforeEach, vi } from 'vitest';
import { main } from '../../src/cli/main.js';

/** Captures the output around every test of the file; returns `rnnc(...args)`: the exit code and what it printed. */
export function captureCli() {
  const out: string[] = [];
  const err: string[] = [];
  beforeEach(() => {
    process.exitCode = undefined;
    vi.spyOn(process.stdout, 'write').mockImplementation((s) => (out.push(String(s)), true));
    vi.spyOn(process.stderr, 'write').mockImplementation((s) => (err.push(String(s)), true));
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
  });
  return async (...args: string[]) => {
    out.length = 0;
    err.length = 0;
    const code = await main(args);
    return { code, stdout: out.join(''), stderr: err.join('') };
  };
}
