// The CLI run in-process from a given directory, with stdout, stderr and the exit code captured.
import { vi } from 'vitest';
import { main } from '../../src/cli/main.js';

export interface CliRun {
  code: number;
  stdout: string;
  stderr: string;
}

export async function runCli(argv: string[], cwd: string): Promise<CliRun> {
  const out: string[] = [];
  const err: string[] = [];
  const capture = (sink: string[]) => (chunk: string | Uint8Array) => (sink.push(String(chunk)), true);
  vi.spyOn(process.stdout, 'write').mockImplementation(capture(out) as typeof process.stdout.write);
  vi.spyOn(process.stderr, 'write').mockImplementation(capture(err) as typeof process.stderr.write);
  const previous = process.cwd();
  process.chdir(cwd);
  process.exitCode = undefined;
  try {
    const code = await main(argv);
    return { code, stdout: out.join(''), stderr: err.join('') };
  } finally {
    // main() reads and commands set process.exitCode; leave none behind for vitest itself.
    process.exitCode = undefined;
    process.chdir(previous);
    vi.restoreAllMocks();
  }
}
