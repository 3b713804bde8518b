// Writing a command's output files: checked before any work (so `rnnc run --save` under a regular
// file fails at once, not after the GPU run) and written all or nothing (each file under a temporary
// name first, renamed into place once every one is written; on a failure the temporaries and any
// folders made for them are removed), so a failed command leaves no partial output behind. A file
// an earlier run left at a name is unlinked just before the rename (see moveInto).
import { accessSync, closeSync, constants, openSync, renameSync, rmdirSync, statSync, unlinkSync, writeFileSync, writeSync, writev } from 'node:fs';
import { dirname, join, normalize } from 'node:path';
import { makeDirectory } from './files.js';
import { RnncError } from './errors.js';

export interface OutputFile {
  name: string;
  /** The contents, or its pieces in order (a header and a view of an array's memory, written without joining them). */
  data: string | Uint8Array | Uint8Array[];
}

/** Writes a file's contents, piece by piece. */
function writeContents(path: string, data: OutputFile['data']): void {
  if (!Array.isArray(data)) return writeFileSync(path, data);
  const fd = openSync(path, 'w');
  try {
    for (const piece of data) for (let done = 0; done < piece.length; ) done += writeSync(fd, piece, done, piece.length - done);
  } finally {
    closeSync(fd);
  }
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
  ENOENT: 'no such file or directory',
  ENOTDIR: 'not a directory',
  EISDIR: 'is a directory',
  EEXIST: 'already exists',
  ENAMETOOLONG: 'name too long',
};

/** A file system error in words: `mkdir /proc/x: no such file or directory`, not `ENOENT: no such ..., mkdir '/proc/x'`. */
export function fsReason(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  const reason = err.code ? REASONS[err.code] : undefined;
  if (!reason) return err.message;
  return err.syscall && err.path ? `${err.syscall} ${err.path}: ${reason}` : reason;
}

/** The folders `dir` lacks, outermost first, and the nearest one that exists (which must be a folder). */
function missingFolders(dir: string): { missing: string[]; existing: string } {
  const missing: string[] = [];
  // The path as the user gave it (relative stays relative), so messages name what they typed.
  let at = normalize(dir);
  for (;;) {
    let isDir: boolean;
    try {
      isDir = statSync(at).isDirectory();
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new Error(fsReason(e));
      missing.unshift(at);
      const parent = dirname(at);
      if (parent === at) throw new Error(fsReason(e));
      at = parent;
      continue;
    }
    if (!isDir) throw new Error(`${at} is not a directory`);
    return { missing, existing: at };
  }
}

/**
 * Throws a RnncError (exit 1) unless `dir` can be made and written: its nearest existing ancestor is
 * a writable folder, and none of `names` is a folder there. `what` names it: `-o out`, `--save out`.
 */
export function checkOutputDir(dir: string, what: string, names: string[] = []): void {
  try {
    const { missing, existing } = missingFolders(dir);
    try {
      accessSync(existing, constants.W_OK);
    } catch {
      throw new Error(`no permission to write in ${existing}`);
    }
    if (missing.length === 0)
      for (const name of names) {
        const path = join(dir, name);
        let folder = false;
        try {
          folder = statSync(path).isDirectory();
        } catch {
          // absent: fine
        }
        if (folder) throw new Error(`${path} is a directory`);
      }
  } catch (e) {
    throw new RnncError(`rnnc: cannot write to ${what}: ${(e as Error).message}`);
  }
}

/**
 * Renames `from` to `to`, removing an existing `to` first. On ext4 (auto_da_alloc) a rename over an
 * existing file makes the kernel write the new file's data back before the rename returns: 14–21 ms
 * for 16 MiB on this machine, where unlinking the old file and renaming onto a free name takes ~1 ms
 * (docs/bench-notes.md). A file that cannot be unlinked is renamed over, as before.
 */
function moveInto(from: string, to: string): void {
  try {
    unlinkSync(to);
  } catch {
    // absent, or not ours to unlink: the rename says which
  }
  renameSync(from, to);
}

/** Writes `files` into `dir` (made if need be) all or nothing; returns their paths. */
export function writeAllOrNothing(dir: string, files: OutputFile[], what: string): string[] {
  const out = startOutput(dir, files, what);
  try {
    for (const [k, f] of files.entries()) writeContents(out.temporary(k), f.data);
    return out.commit();
  } catch (e) {
    throw out.abandon(e);
  }
}

/**
 * writeAllOrNothing with the writes on libuv's thread pool. Every file is opened and its write
 * handed to the pool before this returns its promise, so the writes proceed while the caller's
 * thread works (`rnnc run` can checksum the results meanwhile); a write that the pool could only
 * start after an `await` would wait for that work to end. The same checks, names and clean-up.
 */
export async function writeAllOrNothingAsync(dir: string, files: OutputFile[], what: string): Promise<string[]> {
  const out = startOutput(dir, files, what);
  const fds: number[] = [];
  try {
    try {
      for (const k of files.keys()) fds.push(openSync(out.temporary(k), 'w'));
      const writes = files.map((f, k) => writeFully(fds[k]!, typeof f.data === 'string' ? [Buffer.from(f.data)] : Array.isArray(f.data) ? f.data : [f.data]));
      // Every write settled before the descriptors close, the first failure thrown.
      const failed = (await Promise.allSettled(writes)).find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
    } finally {
      for (const fd of fds) closeSync(fd);
    }
    return out.commit();
  } catch (e) {
    throw out.abandon(e);
  }
}

/** Writes the pieces in order at the file's position, one `writev` on the thread pool (more only after a short write). */
async function writeFully(fd: number, pieces: Uint8Array[]): Promise<void> {
  let rest = pieces.filter((p) => p.length > 0);
  while (rest.length > 0) {
    let n = await new Promise<number>((resolve, reject) => writev(fd, rest, (e, written) => (e ? reject(e) : resolve(written))));
    const next: Uint8Array[] = [];
    for (const p of rest) {
      if (n >= p.length) n -= p.length;
      else {
        next.push(p.subarray(n));
        n = 0;
      }
    }
    rest = next;
  }
}

/**
 * The steps around the writes: checks `dir`, makes it, names each file's temporary (recording it
 * for clean-up), renames them all into place once every one is written (`commit`), or removes the
 * temporaries and the folders it made and says why (`abandon`).
 */
function startOutput(dir: string, files: OutputFile[], what: string) {
  checkOutputDir(dir, what, files.map((f) => f.name));
  const { missing } = missingFolders(dir);
  const temporaries: string[] = [];
  const paths = files.map((f) => join(dir, f.name));
  let made = false;
  return {
    temporary(k: number): string {
      if (!made) makeDirectory(dir);
      made = true;
      const temporary = join(dir, `.${files[k]!.name}.rnnc-${process.pid}.tmp`);
      temporaries.push(temporary);
      return temporary;
    },
    commit(): string[] {
      if (!made) makeDirectory(dir);
      // Renames within one folder: the step that could fail (space, permissions) is behind us.
      files.forEach((_, k) => moveInto(temporaries[k]!, paths[k]!));
      return paths;
    },
    abandon(e: unknown): RnncError {
      for (const t of temporaries)
        try {
          unlinkSync(t);
        } catch {
          // renamed already, or never written
        }
      for (const folder of [...missing].reverse())
        try {
          rmdirSync(folder);
        } catch {
          // not made, or not empty: leave it
        }
      return new RnncError(`rnnc: cannot write to ${what}: ${e instanceof RnncError ? e.message : fsReason(e)}`);
    },
  };
}
