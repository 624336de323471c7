import { FAILURE_EXIT_CODE, ToolError } from './toolError.js';

/**
 * A write that failed because its filesystem is full, naming what was being
 * written: Node's own ENOSPC error from a write on a handle names no path.
 */
export class NoSpaceLeftError extends ToolError<'no-space-left'> {
  readonly code = 'ENOSPC';

  constructor(readonly path: string) {
    super('no-space-left', `no space left on device writing ${path}`, FAILURE_EXIT_CODE);
  }
}

/** Whether `e`, or an error it wraps (`cause`), is ENOSPC. */
function isNoSpace(e: unknown): boolean {
  for (let at = e, depth = 0; at && depth < 8; at = (at as { cause?: unknown }).cause, depth++) {
    if ((at as NodeJS.ErrnoException).code === 'ENOSPC') return true;
  }
  return false;
}

/** `e` as a NoSpaceLeftError about `path` when it is (or wraps) ENOSPC; any other error as it is. */
export function withNoSpacePath(e: unknown, path: string): unknown {
  if (e instanceof NoSpaceLeftError) return e;
  return isNoSpace(e) ? new NoSpaceLeftError(path) : e;
}
