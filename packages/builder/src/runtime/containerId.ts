import { nodeCrypto } from '@tsbuild/oci-layout';

/** A container ID as docker makes them: 64 hex digits, never all digits (so it never reads as a number). */
export function newContainerId(): string {
  for (;;) {
    const id = nodeCrypto().randomBytes(32).toString('hex');
    if (/[a-f]/.test(id.slice(0, 12))) return id;
  }
}

/** The 12-digit form `ps` shows and every command accepts. */
export function shortId(id: string): string {
  return id.slice(0, 12);
}

/** Docker's rule for names: a letter or digit, then letters, digits, `_`, `.` or `-`. */
export const CONTAINER_NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;
