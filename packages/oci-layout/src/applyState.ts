import { lstatSync } from 'node:fs';
import { lstat } from 'node:fs/promises';
import { join } from 'node:path';
import { fsPath } from './byteNames.js';
import type { KnownDirectories } from './knownDirectories.js';
import type { SmallFileBatches } from './smallFileBatches.js';

/**
 * A layer change that cannot be applied to the root: the layer contradicts
 * itself or what is below it (a hard link to nothing, an entry at the root
 * itself), or the filesystem refused the change (`cause`: its errno error,
 * e.g. ENOSPC or an xattr the kernel will not take). The message names the
 * change.
 */
export class LayerApplyError extends Error {}

/** What one unpack (applyLayer, applyChanges) keeps while it applies a layer's changes in order. */
export interface ApplyState {
  rootfs: string;
  /** The root, open for the whole unpack: deferred work finds its directories from here, never by a host path. */
  rootFd: number;
  sameOwner: boolean;
  escapeOverlayXattrs: boolean;
  /** Who owns a file this process creates (unless its directory is setgid). */
  creator: { uid: number; gid: number };
  /** undefined when it cannot be read (e.g. in a worker thread). */
  umask: number | undefined;
  /**
   * The root held nothing when the layer started: no lower layer shows
   * through, so whatever exists below it this layer wrote, and `written` is
   * not kept (a million paths held ~60 MB of heap in a bundle's first layer).
   */
  startedEmpty: boolean;
  /** Root-relative paths this layer wrote, so a whiteout or opaque marker later in the layer keeps them (unless `startedEmpty`). */
  written: Set<string>;
  writtenAncestors: Set<string>;
  /**
   * Root-relative directory -> the times it gets at the end: a directory
   * entry's own, or, for a directory of a lower layer this layer writes into,
   * the times it had before (as umoci keeps them).
   */
  directoryTimes: Map<string, DirectoryTimes>;
  directories: KnownDirectories;
  batches: SmallFileBatches;
}

interface DirectoryTimes {
  atime: number;
  mtime: number;
  /** The directory these times belong to: a later entry may have put another one at its path. */
  ino: number;
}

export function currentUmask(): number | undefined {
  try {
    return process.umask();
  } catch (e) {
    // Worker threads may not read the umask (ERR_WORKER_UNSUPPORTED_OPERATION).
    if ((e as NodeJS.ErrnoException).code === 'ERR_WORKER_UNSUPPORTED_OPERATION') return undefined;
    throw e;
  }
}

/**
 * A directory of a lower layer that this layer changes keeps its times, as
 * with umoci: noted once, before the first change, and set again at the end.
 */
export function keepParentTimes(state: ApplyState, rootPath: string): void {
  if (state.directoryTimes.has(rootPath)) return;
  // Blocking, like the small-file path: a quick call, and a file's content is listened to before any wait.
  const stat = lstatSync(fsPath(join(state.rootfs, rootPath)), { throwIfNoEntry: false });
  if (!stat?.isDirectory()) return;
  state.directoryTimes.set(rootPath, { atime: stat.atimeMs / 1000, mtime: stat.mtimeMs / 1000, ino: stat.ino });
}

/** Whether this layer wrote `rootPath`, a path that exists. */
export function wasWritten(state: ApplyState, rootPath: string): boolean {
  return state.startedEmpty || state.written.has(rootPath) || state.writtenAncestors.has(rootPath);
}

export function recordWritten(state: ApplyState, path: string): void {
  if (state.startedEmpty) return;
  state.written.add(path);
  for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) {
    const ancestor = path.slice(0, slash);
    // Its own ancestors were recorded with it.
    if (state.writtenAncestors.has(ancestor)) return;
    state.writtenAncestors.add(ancestor);
  }
}

/** null when nothing is there, also when a parent is not a directory. */
export async function lstatOrNull(path: string) {
  try {
    return await lstat(fsPath(path));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}
