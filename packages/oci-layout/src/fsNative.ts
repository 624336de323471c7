import { createRequire } from 'node:module';

/**
 * Node has no mknod or xattr API; these come from a small N-API addon in
 * `native/` (built by the package's install script: `node-gyp rebuild --directory native`).
 * Errors carry `code` (e.g. 'EPERM'), `errno`, `syscall` and `path` like Node's fs errors.
 */
export interface FsNative {
  /** `mode` includes the file type (fs.constants.S_IFCHR, S_IFBLK, S_IFIFO). */
  mknod(path: string, mode: number, major: number, minor: number): void;
  lsetxattr(path: string, name: string, value: Buffer): void;
  /** null when the attribute is not set. */
  lgetxattr(path: string, name: string): Buffer | null;
  llistxattr(path: string): string[];
  /** A connected, blocking SOCK_SEQPACKET socket (conmon's attach socket); any path length. */
  seqpacketConnect(path: string): number;
  /** shutdown(fd, SHUT_WR), or SHUT_RDWR with `both` (which also ends a read blocked on it). */
  shutdownSocket(fd: number, both: boolean): void;
}

let loaded: FsNative | undefined;

/** Loaded on first use so that code paths needing no device nodes or xattrs work without the addon. */
export function fsNative(): FsNative {
  if (!loaded) {
    // Same relative path from src/ (vitest) and dist/ (built): both sit one level below the package root.
    const require = createRequire(import.meta.url);
    try {
      loaded = require('../native/build/Release/fsnative.node') as FsNative;
    } catch (error) {
      throw new Error(
        `native addon fsnative.node is not built (${(error as Error).message}); ` +
          'run `npm rebuild @tsbuild/oci-layout` in the repository root',
      );
    }
  }
  return loaded;
}
