// How a Dawn host process ended, in words: the error the jobs in flight fail with. Three cases that
// call for different actions from a user (docs/dawn-crash.md):
//  - killed by a signal from outside (SIGKILL from the out-of-memory killer or `kill -9`, SIGTERM,
//    SIGINT, SIGHUP): nothing went wrong inside rnnc or Dawn, so no crash is blamed;
//  - the known crash's signature (SIGSEGV, SIGBUS, SIGABRT, SIGILL, SIGTRAP): the npm webgpu 0.6.2
//    crash the child-process design exists for;
//  - any other end (an exit code, another signal): reported as it is, with the host's last output.
// A host that rnnc itself killed (a job past its time limit) is reported by the caller, not here.
import { GpuError } from '../../../backends/job.js';

export const CRASH_HINT = "most likely the known crash in npm webgpu 0.6.2's event pump, see docs/dawn-crash.md";

/** Signals that only ever come from outside the host: a user, a supervisor, or the kernel's OOM killer. */
export const EXTERNAL_SIGNALS: ReadonlySet<string> = new Set(['SIGKILL', 'SIGTERM', 'SIGINT', 'SIGHUP']);
/** How the known crash ends the process (a fault, or abort() from a C++ exception). */
export const CRASH_SIGNALS: ReadonlySet<string> = new Set(['SIGSEGV', 'SIGBUS', 'SIGABRT', 'SIGILL', 'SIGTRAP']);

export interface HostDeath {
  pid?: number | undefined;
  exitCode: number | null;
  signal: string | null;
  /** The tail of the host's stdout and stderr. */
  stderr: string;
}

/** True for a host-crashed error whose host was killed by a signal from outside (not the known crash). */
export const killedFromOutside = (e: GpuError): boolean => e.kind === 'host-crashed' && EXTERNAL_SIGNALS.has(e.details?.signal ?? '');

const WHO: Record<string, string> = {
  SIGKILL: "a user's `kill -9`, or the system's out-of-memory killer",
  SIGTERM: 'a user or the system asked it to stop',
  SIGINT: 'an interrupt, such as Ctrl-C',
  SIGHUP: 'its terminal went away',
};

/** The GpuError (kind 'host-crashed') for a host process that ended while jobs were in flight. */
export function hostDeathError(d: HostDeath): GpuError {
  const stderr = d.stderr.trim();
  const details = { exitCode: d.exitCode, signal: d.signal, stderr };
  const host = 'the Dawn host process';
  const tail = stderr ? `\nlast output of the host:\n${stderr.split('\n').slice(-8).join('\n')}` : '';
  const after = 'Only the job in flight was lost: the next job starts a fresh host.';
  if (d.signal && EXTERNAL_SIGNALS.has(d.signal))
    return new GpuError('host-crashed', `${host}${d.pid !== undefined ? ` (pid ${d.pid})` : ''} was killed by signal ${d.signal} from outside rnnc (${WHO[d.signal]}); this is not a crash of rnnc or Dawn. ${after}`, details);
  if (d.signal && CRASH_SIGNALS.has(d.signal)) return new GpuError('host-crashed', `${host} died (signal ${d.signal}); ${CRASH_HINT}. ${after}${tail}`, details);
  const how = d.signal ? `signal ${d.signal}` : `exit code ${d.exitCode}`;
  return new GpuError('host-crashed', `${host} ended unexpectedly (${how}). ${after}${tail}`, details);
}
