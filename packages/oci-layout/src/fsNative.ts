import { createRequire } from 'node:module';

/**
 * Node has no mknod, xattr, mount or namespace API; these come from a small N-API addon in
 * `native/` (built by the package's install script: `node-gyp rebuild --directory native`).
 * Errors carry `code` (e.g. 'EPERM'), `errno`, `syscall` and `path` like Node's fs errors.
 * Paths are strings or, for names that are not UTF-8, their bytes (see `fsPath`).
 */
export interface FsNative {
  /** `mode` includes the file type (fs.constants.S_IFCHR, S_IFBLK, S_IFIFO). */
  mknod(path: string | Buffer, mode: number, major: number, minor: number): void;
  lsetxattr(path: string | Buffer, name: string, value: Buffer): void;
  /** null when the attribute is not set. */
  lgetxattr(path: string | Buffer, name: string): Buffer | null;
  llistxattr(path: string | Buffer): string[];
  /**
   * An O_PATH descriptor (close it) of the directory `relPath` below the
   * directory `rootFd`, reached without following any symlink and without
   * leaving `rootFd` (openat2 RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS, or an
   * O_NOFOLLOW openat per component where openat2 is missing). A symlink on
   * the way fails with ELOOP or ENOTDIR, `..` with EXDEV. '' is `rootFd` itself.
   */
  openDirectoryBeneath(rootFd: number, relPath: string | Buffer): number;
  /** The [offset, length] of each stretch of data of an open file, in order (lseek SEEK_DATA/SEEK_HOLE); the rest is holes. */
  dataRegions(fd: number): [number, number][];
  /** A connected, blocking SOCK_SEQPACKET socket (conmon's attach socket); any path length. */
  seqpacketConnect(path: string): number;
  /** shutdown(fd, SHUT_WR), or SHUT_RDWR with `both` (which also ends a read blocked on it). */
  shutdownSocket(fd: number, both: boolean): void;
  /**
   * A directory's entry names (readdir order, no `.` or `..`) and, per entry,
   * LISTED_STAT_FIELDS numbers of its lstat: see `listDirectoryStats`, which reads them.
   * The names come as one string, each followed by a NUL, when all are UTF-8;
   * otherwise as an array in which a name that is not UTF-8 is a Buffer of its bytes.
   */
  listDirectory(path: string | Buffer): [string | (string | Buffer)[], Float64Array];
  /** `listDirectory` done on libuv's thread pool; errors reject, Node-shaped. */
  listDirectoryAsync(path: string | Buffer): Promise<[string | (string | Buffer)[], Float64Array]>;
  /** Reads the file at `path` (not through a symlink) into `buffer` from its start; see `readFileInto`. */
  readFile(path: string | Buffer, buffer: Buffer): number;
  /** Reads each file of `dir` (`names`: each ended by a NUL) into a slot of `lengths[i]` bytes on libuv's thread pool, with its ctime (s, ns) after and, with `sha256`, its digest; see `readSmallFiles`. */
  readFiles(dir: string | Buffer, names: string | Buffer, lengths: Float64Array, sha256: boolean): Promise<[Buffer, Float64Array, Float64Array, Buffer | undefined]>;
  /** A new SHA-256 whose updates run on libuv's thread pool; see PoolSha256, which wraps the three. */
  sha256Stream(): NativeSha256;
  /** Hashes `buffers` in order on the pool; one update at a time per hash. */
  sha256Update(hash: NativeSha256, buffers: Buffer[]): Promise<void>;
  /** The 32-byte digest; the hash cannot be used after. */
  sha256Digest(hash: NativeSha256): Buffer;
  /** The SHA-256 (32 bytes) and gzip's CRC-32 of `bytes`, worked out in one job on the pool. */
  blockDigests(bytes: Buffer): Promise<[Buffer, number]>;
  /**
   * Creates files of the directory `dir` below `rootFd` (opened as openDirectoryBeneath opens it) on
   * libuv's thread pool, in order: `names` each ended by a NUL, their contents back to back in `data`,
   * and per file 6 numbers in `fields` (length, mode to create with, uid and gid or -1, mode to set
   * or -1, mtime in seconds). It stops at the first failure: [files made, -errno, syscall]
   * ([count, 0, ''] when all were made). See SmallFileBatches, which wraps it.
   */
  createFiles(rootFd: number, dir: string | Buffer, names: string | Buffer, data: Buffer, fields: Float64Array): Promise<[number, number, string]>;
  /** The system's page size: mount(2) takes `data` shorter than this (its NUL ends the page). */
  readonly pageSize: number;
  /** mount(2) on the thread pool; `data` of a page or more is refused (E2BIG), since the kernel would cut it. */
  mount(source: string, target: string, fstype: string, flags: number, data: string): Promise<void>;
  /**
   * mount() with relative paths in its arguments (overlay's lowerdir list) resolved from the
   * directory `dir`: a thread of its own unshares its working directory (CLONE_FS) and changes
   * to `dir`, so the process's stays where it is. A failure there rejects with syscall
   * 'unshare' or 'chdir' and path `dir`.
   */
  mountFrom(dir: string, source: string, target: string, fstype: string, flags: number, data: string): Promise<void>;
  /** umount2(2) on the thread pool (`flags`: MNT_DETACH). */
  unmount(target: string, flags: number): Promise<void>;
  /** A new network namespace (a down `lo` only) bind-mounted on the existing file `target`, as `unshare --net=TARGET true` makes one. */
  mountNewNetns(target: string): Promise<void>;
  /** posix_spawn on a thread of its own, run to its end; see `runProcess`, which wraps it. */
  runProcess(argv: string[], env: string[], input: Buffer, timeoutMs: number): Promise<NativeProcessOutcome>;
  /** posix_spawn of a daemon in a session of its own, at once; see `spawnDetached`, which wraps it. */
  spawnDetached(argv: string[], env: string[], cwd: string, ends: ('read' | 'write')[]): { pid: number; stderr: number; fds: number[] };
}

declare const nativeSha256: unique symbol;
/** The addon's hash state (an external): only the sha256 functions take it. */
export interface NativeSha256 {
  readonly [nativeSha256]: true;
}

/** mount(2)'s MS_RDONLY. */
export const MS_RDONLY = 1;
/** umount2(2)'s MNT_DETACH: the mount goes now, the file system when its last user lets go. */
export const MNT_DETACH = 2;

/** How a child of `runProcess` ended: `status` when it exited, `signal` (a number) when a signal ended it. */
export interface NativeProcessOutcome {
  status: number | null;
  signal: number | null;
  stdout: Buffer;
  stderr: Buffer;
  /** It outlived its deadline and was killed (SIGKILL). */
  timedOut: boolean;
  /** It wrote more than 16 MiB to stdout or stderr and was killed. */
  overflowed: boolean;
}

let loaded: FsNative | undefined;

/** Loaded on first use so that code paths needing no device nodes or xattrs work without the addon. */
export function fsNative(): FsNative {
  if (!loaded) {
    // Named through the package (its exports map), which works from src/ (vitest), dist/ and the
    // CLI's bundle alike.
    const require = createRequire(import.meta.url);
    try {
      loaded = require('@tsbuild/oci-layout/fsnative.node') as FsNative;
    } catch (error) {
      throw new Error(
        `native addon fsnative.node is not built (${(error as Error).message}); ` +
          'run `npm rebuild @tsbuild/oci-layout` in the repository root',
      );
    }
  }
  return loaded;
}
