// The library's own errors. A driver call fails with an RnncError when the user can act on the cause
// (bad input data, limits the sizes exceed, a mode the cell cannot take); `kind` says which, and the
// CLI maps it to an exit code. Anything else thrown is a bug in rnnc.

/** `input`: something in the user's files or sizes (exit 1); `usage`: a flag or mode (exit 2); `internal`: rnnc or the GPU failed (exit 2). */
export type FailureKind = 'input' | 'usage' | 'internal';

export class RnncError extends Error {
  constructor(
    message: string,
    readonly kind: FailureKind = 'input',
    /** For a failure of the GPU runtime: which (a job past its time limit is 'timeout'). */
    readonly gpu?: 'no-adapter' | 'limits' | 'shader' | 'validation' | 'host-crashed' | 'device-lost' | 'timeout',
  ) {
    super(message);
  }
}
