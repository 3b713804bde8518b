// How the death of the Dawn host process is reported (issue 12): a kill from outside (kill -9, the
// OOM killer) is said to be one, not blamed on the known webgpu crash (docs/dawn-crash.md), and the
// CLI adds that nothing was written. The last test forks a real host and kills it with SIGKILL right
// after it starts: no GPU is opened (the unit project has no Vulkan driver; the host dies first).
import { describe, expect, it } from 'vitest';
import { hostDeathError, killedFromOutside } from '../../src/runtime/dawn/death.js';
import { Host } from '../../src/runtime/dawn/runtime.js';
import { gpuFailure } from '../../src/driver/run.js';
import { GpuError } from '../../backends/job.js';

const CRASH = "most likely the known crash in npm webgpu 0.6.2's event pump, see docs/dawn-crash.md";
const AFTER = 'Only the job in flight was lost: the next job starts a fresh host.';

describe('hostDeathError', () => {
  it('a kill from outside names the signal and blames no crash', () => {
    const e = hostDeathError({ pid: 4242, exitCode: null, signal: 'SIGKILL', stderr: 'noise\n' });
    expect(e.kind).toBe('host-crashed');
    expect(e.message).toBe(
      `the Dawn host process (pid 4242) was killed by signal SIGKILL from outside rnnc (a user's \`kill -9\`, or the system's out-of-memory killer); this is not a crash of rnnc or Dawn. ${AFTER}`,
    );
    expect(e.details).toEqual({ exitCode: null, signal: 'SIGKILL', stderr: 'noise' });
    expect(killedFromOutside(e)).toBe(true);
    for (const [signal, who] of [
      ['SIGTERM', 'a user or the system asked it to stop'],
      ['SIGINT', 'an interrupt, such as Ctrl-C'],
      ['SIGHUP', 'its terminal went away'],
    ]) {
      const t = hostDeathError({ pid: 7, exitCode: null, signal: signal!, stderr: '' });
      expect(t.message).toBe(`the Dawn host process (pid 7) was killed by signal ${signal} from outside rnnc (${who}); this is not a crash of rnnc or Dawn. ${AFTER}`);
      expect(killedFromOutside(t)).toBe(true);
    }
  });

  it.each(['SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGILL', 'SIGTRAP'])('%s is the known crash: the message points to docs/dawn-crash.md', (signal) => {
    const e = hostDeathError({ pid: 9, exitCode: null, signal, stderr: 'a\nstd::system_error: Invalid argument\n' });
    expect(e.message).toBe(`the Dawn host process died (signal ${signal}); ${CRASH}. ${AFTER}\nlast output of the host:\na\nstd::system_error: Invalid argument`);
    expect(killedFromOutside(e)).toBe(false);
  });

  it('an exit code is reported as it is, with the host output, and not as the known crash', () => {
    const e = hostDeathError({ exitCode: 1, signal: null, stderr: 'Error: boom' });
    expect(e.message).toBe(`the Dawn host process ended unexpectedly (exit code 1). ${AFTER}\nlast output of the host:\nError: boom`);
    expect(killedFromOutside(e)).toBe(false);
  });
});

describe('gpuFailure (what the CLI prints)', () => {
  it('a kill from outside: exit 2, nothing was written, and the memory hint for SIGKILL', () => {
    const killed = gpuFailure(hostDeathError({ pid: 5, exitCode: null, signal: 'SIGKILL', stderr: '' }));
    expect(killed.kind).toBe('internal');
    expect(killed.message).toBe(
      `rnnc: the GPU run failed: the Dawn host process (pid 5) was killed by signal SIGKILL from outside rnnc (a user's \`kill -9\`, or the system's out-of-memory killer); this is not a crash of rnnc or Dawn. ${AFTER} Nothing was written. If memory ran out (the kernel log, \`dmesg\`, says so), lower --batch, --T or a --dim.`,
    );
    const term = gpuFailure(hostDeathError({ pid: 5, exitCode: null, signal: 'SIGTERM', stderr: '' }));
    expect(term.message).toMatch(/ Nothing was written\.$/);
    expect(term.message).not.toContain('intermittent');
  });

  it('the known crash keeps its message: intermittent, run again', () => {
    const crashed = gpuFailure(hostDeathError({ pid: 5, exitCode: null, signal: 'SIGSEGV', stderr: '' }));
    expect(crashed.message).toBe(`rnnc: the GPU run failed: the Dawn host process died (signal SIGSEGV); ${CRASH}. ${AFTER}\nThe crash is intermittent: running the command again usually succeeds.`);
  });
});

describe('a real host killed by SIGKILL', () => {
  it('right after it starts: the request in flight fails with the kill named', { timeout: 30_000 }, async () => {
    const host = new Host({});
    const pid = host.child.pid!;
    const opening = host.request({ type: 'open', options: {} }, 'opening the GPU device');
    // From outside, as `kill -9` or the OOM killer would: not through the ChildProcess object.
    process.kill(pid, 'SIGKILL');
    const e = await opening.then(
      () => expect.fail('the request succeeded'),
      (err: unknown) => err as GpuError,
    );
    expect(e).toBeInstanceOf(GpuError);
    expect(e.kind).toBe('host-crashed');
    expect(e.message).toBe(
      `the Dawn host process (pid ${pid}) was killed by signal SIGKILL from outside rnnc (a user's \`kill -9\`, or the system's out-of-memory killer); this is not a crash of rnnc or Dawn. ${AFTER}`,
    );
    await host.exited;
    expect(host.dead).toBe(true);
    // A later request to the dead host fails the same way, at once.
    await expect(host.request({ type: 'close' }, 'closing')).rejects.toThrow(/killed by signal SIGKILL from outside rnnc/);
  });
});
