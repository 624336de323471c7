import { closeSync, constants, fchmodSync, fchownSync, fstatSync, futimesSync, mkdirSync, opendirSync, openSync, utimesSync } from 'node:fs';
import { chmod, link, lchown, lstat, lutimes, mkdir, rm, symlink } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fsPath } from './byteNames.js';
import { fsNative } from './fsNative.js';
import { LayerApplyError, currentUmask, keepParentTimes, lstatOrNull, recordWritten, type ApplyState } from './applyState.js';
import { KnownDirectories, SETGID_BIT, parentOf } from './knownDirectories.js';
import type { LayerChange, LayerEntry } from './layerEntry.js';
import { MAX_BUFFERED_FILE, collectContent, prepareContent, writeContent, type PreparedContent } from './fileContent.js';
import { readLayer } from './layerReader.js';
import { makeOpaque, removeWhiteout } from './layerWhiteouts.js';
import { escapeOverlayXattr } from './overlayXattrs.js';
import { resolveInRoot } from './securePath.js';
import { BatchedFileError, MAX_BATCHED_FILE, SmallFileBatches, type BatchedFile } from './smallFileBatches.js';



export { LayerApplyError } from './applyState.js';

export interface ApplyLayerOptions {
  /** Set owners from the layer (lchown). Default: when running as root. */
  sameOwner?: boolean;
  /**
   * The target is an overlay mount, which escapes `trusted.overlay.*` xattrs
   * written through it by itself. Otherwise (a plain directory) unpack
   * escapes them (see overlayXattrs.ts).
   */
  throughOverlayMount?: boolean;
}

/**
 * Applies one layer blob (gzip, zstd or plain tar) on top of `rootfs`, the
 * way `umoci unpack` stacks layers into one directory.
 *
 * Containment: member names are confined lexically (`../x` and `/x` both
 * mean `<rootfs>/x`), and every lookup follows symlinks as if `rootfs` were
 * `/` (see resolveInRoot). The final component is never followed: an entry
 * replaces whatever is at its path, metadata is set on the object itself
 * (never through a symlink), hard link targets are resolved inside the root.
 * Each entry is resolved and written in one step, so no later entry can
 * change the path in between; the one deferred write, directory times, goes
 * through a descriptor opened at the end without following any symlink.
 *
 * Layer semantics as umoci's: a whiteout or opaque marker removes only what
 * lower layers had (this layer's own entries stay), a lower directory this
 * layer changes keeps its times, and a non-directory where a directory is
 * needed is replaced by one. Names are bytes (byteNames.ts) at every fs call;
 * sparse files are written as data at offsets and holes.
 *
 * Speed without giving that up: directories this unpack created or checked
 * are remembered (KnownDirectories) and forgotten as soon as it removes or
 * replaces them, so entries below them skip the lookup. Small files in such
 * directories are created in batches on the thread pool (SmallFileBatches)
 * while the next entries are parsed; every other change first waits for the
 * batches (so none works in a directory that a later entry removes or
 * replaces, nor sees a path out of layer order), and a failure in a batch
 * names its entry as any other.
 */
export async function applyLayer(rootfs: string, blob: Readable, opts: ApplyLayerOptions = {}): Promise<{ entries: number }> {
  // The reader starts on the blob at once, so it is made only when the loop is there to take its errors.
  return withApplyState(rootfs, opts, (state) => applyEach(state, readLayer(blob, { wholeFilesUpTo: MAX_BUFFERED_FILE })));
}

/** Applies a layer given as its changes (see applyLayer). */
export async function applyChanges(
  rootfs: string,
  changes: AsyncIterable<LayerChange> | Iterable<LayerChange>,
  opts: ApplyLayerOptions = {},
): Promise<{ entries: number }> {
  return withApplyState(rootfs, opts, (state) => applyEach(state, changes));
}

async function withApplyState(rootfs: string, opts: ApplyLayerOptions, apply: (state: ApplyState) => Promise<number>): Promise<{ entries: number }> {
  // Absolute and normalised, so a resolved path can be compared with it.
  const root = resolve(rootfs);
  const directories = await KnownDirectories.of(root);
  const rootFd = openSync(root, constants.O_RDONLY | constants.O_DIRECTORY);
  let state: ApplyState | undefined;
  try {
    state = {
      rootfs: root,
      rootFd,
      sameOwner: opts.sameOwner ?? process.getuid?.() === 0,
      escapeOverlayXattrs: opts.throughOverlayMount !== true,
      creator: { uid: process.geteuid?.() ?? -1, gid: process.getegid?.() ?? -1 },
      umask: currentUmask(),
      startedEmpty: isEmptyDirectory(root),
      written: new Set(),
      writtenAncestors: new Set(),
      directoryTimes: new Map(),
      directories,
      batches: new SmallFileBatches(rootFd, root, (file) => createBatchedFile(state!, file)),
    };
    const entries = await apply(state);
    setDirectoryTimes(state);
    return { entries };
  } finally {
    // After a failure, batches may still be on the pool, working below rootFd.
    await state?.batches.abandon();
    closeSync(rootFd);
  }
}

/** Reads one entry, not the whole listing: a root of lower layers can be large. */
function isEmptyDirectory(path: string): boolean {
  const dir = opendirSync(fsPath(path));
  try {
    return dir.readSync() === null;
  } finally {
    dir.closeSync();
  }
}

async function applyEach(state: ApplyState, changes: AsyncIterable<LayerChange> | Iterable<LayerChange>): Promise<number> {
  let entries = 0;
  for await (const change of changes) {
    entries++;
    try {
      if (change.kind === 'entry' && ((await addToBatch(state, change.entry)) || addDirectory(state, change.entry))) continue;
      await state.batches.flush();
      if (change.kind === 'entry') await writeEntry(state, change.entry);
      else if (change.kind === 'whiteout') await removeWhiteout(state, change.path);
      else await makeOpaque(state, change.path);
    } catch (error) {
      throw applyError(change.kind, change.kind === 'entry' ? change.entry.path : change.path, error);
    }
  }
  try {
    await state.batches.flush();
  } catch (error) {
    throw applyError('entry', '', error);
  }
  return entries;
}

/** The error of a change (a batched file's own when `error` comes from a batch). */
function applyError(kind: LayerChange['kind'], path: string, error: unknown): LayerApplyError {
  const [failedKind, failedPath, cause] = error instanceof BatchedFileError ? ['entry', error.path, error.cause] : [kind, path, error as Error];
  return new LayerApplyError(`cannot apply ${failedKind} "${failedPath}" of layer: ${cause.message}`, { cause });
}

/**
 * Writing children changes a directory's mtime, so directory times go last,
 * deepest first. By then later entries of the layer may have removed a
 * directory or replaced one of its parents (by a symlink to anywhere), so
 * each is opened again below the root without following any symlink, and
 * only if it is still the same directory does it get its time.
 */
function setDirectoryTimes(state: ApplyState): void {
  const directories = [...state.directoryTimes].sort(([a], [b]) => b.length - a.length);
  for (const [rootPath, times] of directories) {
    const fd = openDirectoryOrNull(state, rootPath);
    if (fd === null) continue;
    try {
      // An O_PATH descriptor takes no futimens; its /proc link leads to the directory itself.
      if (fstatSync(fd).ino === times.ino) utimesSync(`/proc/self/fd/${fd}`, times.atime, times.mtime);
    } finally {
      closeSync(fd);
    }
  }
}

/** null when `rootPath` is no longer a directory reached from the root without a symlink. */
function openDirectoryOrNull(state: ApplyState, rootPath: string): number | null {
  try {
    return fsNative().openDirectoryBeneath(state.rootFd, fsPath(rootPath));
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'ELOOP' || code === 'EXDEV') return null;
    throw error;
  }
}

/**
 * Where an entry lands (its final component not followed), creating its
 * parent directories: on the host, and relative to the root, which differs
 * from the entry's path when a parent is a symlink.
 */
async function entryLocation(state: ApplyState, path: string): Promise<{ hostPath: string; rootPath: string }> {
  if (await state.directories.ensure(parentOf(path))) {
    keepParentTimes(state, parentOf(path));
    return { hostPath: join(state.rootfs, path), rootPath: path };
  }
  const hostPath = await resolveInRoot(state.rootfs, path, { followFinal: false });
  const rootPath = relative(state.rootfs, hostPath);
  if (hostPath !== state.rootfs) {
    // Resolved: the parent's existing components are directories or end in a non-directory that ensure replaces.
    if (!(await state.directories.ensure(parentOf(rootPath)))) throw new LayerApplyError(`a parent of "${path}" changed while it was resolved`);
    keepParentTimes(state, parentOf(rootPath));
  }
  return { hostPath, rootPath };
}

async function writeEntry(state: ApplyState, entry: LayerEntry): Promise<void> {
  const { hostPath, rootPath } = await entryLocation(state, entry.path);
  if (hostPath === state.rootfs) throw new LayerApplyError('entry resolves to the root directory itself');
  recordWritten(state, rootPath);
  if (entry.type === 'file') {
    await createFile(state, hostPath, rootPath, entry, await prepareContent(entry));
    return;
  }

  const knownDirectory = state.directories.has(rootPath);
  const existing = knownDirectory ? null : await lstatOrNull(hostPath);
  const isDirectory = knownDirectory || existing?.isDirectory() === true;
  if ((knownDirectory || existing) && !(isDirectory && entry.type === 'directory')) {
    await rm(fsPath(hostPath), { recursive: isDirectory, force: true });
    state.directories.forget(rootPath);
  }

  switch (entry.type) {
    case 'directory':
      if (!isDirectory) await mkdir(fsPath(hostPath), { mode: 0o700 });
      setUpDirectory(state, hostPath, rootPath, entry);
      return;
    case 'symlink':
      await symlink(fsPath(entry.linkname ?? ''), fsPath(hostPath));
      state.directories.forget(rootPath);
      if (state.sameOwner) await lchown(fsPath(hostPath), entry.uid, entry.gid);
      break;
    case 'hardlink': {
      const target = await resolveInRoot(state.rootfs, entry.linkname ?? '', { followFinal: false });
      const targetStat = await lstatOrNull(target);
      if (!targetStat) throw new LayerApplyError(`hard link target "${entry.linkname}" does not exist in the layer or below it`);
      if (targetStat.isDirectory()) throw new LayerApplyError(`hard link target "${entry.linkname}" is a directory`);
      // link(2) does not follow a symlink target: the link shares the symlink's inode.
      await link(fsPath(target), fsPath(hostPath));
      // A hard link shares its target's inode, so its metadata is the target's.
      return;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const typeBits = { 'character-device': constants.S_IFCHR, 'block-device': constants.S_IFBLK, fifo: constants.S_IFIFO }[entry.type];
      fsNative().mknod(fsPath(hostPath), typeBits | (entry.mode & 0o777), entry.devmajor ?? 0, entry.devminor ?? 0);
      // Opening a device to use fd-based calls could have side effects; it was just created, so path calls are safe.
      if (state.sameOwner) await lchown(fsPath(hostPath), entry.uid, entry.gid);
      await chmod(fsPath(hostPath), entry.mode & 0o7777);
      break;
    }
  }
  setXattrs(state, hostPath, entry);
  await lutimes(fsPath(hostPath), entry.mtime, entry.mtime);
}

/**
 * Creates a regular file at `hostPath` (root-relative `rootPath`), replacing
 * whatever is there, and sets its metadata through the open descriptor.
 * O_EXCL|O_NOFOLLOW: never opens an existing object, so never writes through
 * a symlink; only when something is there does it cost a removal and retry.
 */
async function createFile(state: ApplyState, hostPath: string, rootPath: string, entry: LayerEntry, content: PreparedContent): Promise<void> {
  const { createMode, owner, mode } = fileCreation(state, rootPath, entry);
  const fd = await createExclusive(state, hostPath, rootPath, createMode);
  try {
    await writeContent(fd, entry, content);
    // chown before chmod: chown clears setuid/setgid bits.
    if (owner) fchownSync(fd, owner.uid, owner.gid);
    if (mode !== undefined) fchmodSync(fd, mode);
    futimesSync(fd, entry.mtime, entry.mtime);
  } finally {
    closeSync(fd);
  }
  // Setting an xattr does not change the mtime.
  setXattrs(state, hostPath, entry);
}

/** How a new file gets its entry's owner and mode: the mode to create it with, then a chown (owner) and a chmod (mode) if needed. */
function fileCreation(state: ApplyState, rootPath: string, entry: LayerEntry): Pick<BatchedFile, 'createMode' | 'owner' | 'mode'> {
  const chown = state.sameOwner && !ownedAsCreated(state, rootPath, entry);
  // The final mode at creation saves a chmod, unless a chown is still to come (the file would briefly
  // have the mode with the wrong owner) or the umask or setuid/setgid/sticky bits get in the way.
  const modeAtCreation = !chown && state.umask !== undefined && (entry.mode & (0o7000 | state.umask)) === 0;
  return {
    createMode: modeAtCreation ? entry.mode : 0o600,
    owner: chown ? { uid: entry.uid, gid: entry.gid } : undefined,
    mode: modeAtCreation ? undefined : entry.mode & 0o7777,
  };
}

/**
 * Queues a small plain file whose directory is known (so its host path is
 * lexical) and whose path holds no known directory; false, with nothing
 * done, for any other entry.
 */
async function addToBatch(state: ApplyState, entry: LayerEntry): Promise<boolean> {
  if (entry.type !== 'file' || entry.size > MAX_BATCHED_FILE || entry.sparse || entry.xattrs) return false;
  const directory = parentOf(entry.path);
  const name = directory === '' ? entry.path : entry.path.slice(directory.length + 1);
  if (name === '' || name === '.' || name === '..') return false;
  if (!state.directories.has(directory) || state.directories.has(entry.path)) return false;
  keepParentTimes(state, directory);
  recordWritten(state, entry.path);
  const content = await collectContent(entry);
  await state.batches.add({ path: entry.path, directory, name, content, mtime: entry.mtime, entry, ...fileCreation(state, entry.path, entry) });
  return true;
}

/** A batched file whose path held a directory, which only this path removes: created as any file is. */
async function createBatchedFile(state: ApplyState, file: BatchedFile): Promise<void> {
  await createFile(state, join(state.rootfs, file.path), file.path, file.entry, { kind: 'collected', chunks: file.content });
}

const CREATE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

async function createExclusive(state: ApplyState, hostPath: string, rootPath: string, mode: number): Promise<number> {
  const path = fsPath(hostPath);
  try {
    return openSync(path, CREATE_FLAGS, mode);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
  const existing = await lstat(path);
  await rm(path, { recursive: existing.isDirectory(), force: true });
  state.directories.forget(rootPath);
  return openSync(path, CREATE_FLAGS, mode);
}

/** A new file is owned by its creator, with its directory's group if that is setgid. */
function ownedAsCreated(state: ApplyState, rootPath: string, entry: LayerEntry): boolean {
  return entry.uid === state.creator.uid && entry.gid === state.creator.gid && state.directories.hasSetgid(parentOf(rootPath)) === false;
}

/**
 * A directory entry's metadata on the directory at `hostPath` (opened without
 * following a symlink), its times noted for the end, and it is known from now
 * on if its parent is. Blocking calls: each is quick, and a call on the thread
 * pool would queue behind the batches there.
 */
function setUpDirectory(state: ApplyState, hostPath: string, rootPath: string, entry: LayerEntry): void {
  const fd = openSync(fsPath(hostPath), constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW);
  let ino: number;
  try {
    // chown before chmod: chown clears setuid/setgid bits.
    if (state.sameOwner) fchownSync(fd, entry.uid, entry.gid);
    fchmodSync(fd, entry.mode & 0o7777);
    ino = fstatSync(fd).ino;
  } finally {
    closeSync(fd);
  }
  setXattrs(state, hostPath, entry);
  state.directoryTimes.set(rootPath, { atime: entry.mtime, mtime: entry.mtime, ino });
  // chmod may drop a setgid bit it was asked for (caller not in the group), never add one: so `true` is the safe guess.
  if (state.directories.has(parentOf(rootPath))) state.directories.add(rootPath, (entry.mode & SETGID_BIT) !== 0);
}

/**
 * A new directory in a known one, made while batches may still be on the
 * pool: only where nothing is (mkdir fails otherwise) and no queued file is
 * to be created (which would then find a directory in its way). false, with
 * nothing made, for any other entry.
 */
function addDirectory(state: ApplyState, entry: LayerEntry): boolean {
  if (entry.type !== 'directory') return false;
  const parent = parentOf(entry.path);
  const name = parent === '' ? entry.path : entry.path.slice(parent.length + 1);
  if (name === '' || name === '.' || name === '..' || !state.directories.has(parent) || state.directories.has(entry.path)) return false;
  if (state.batches.holds(parent, name)) return false;
  const hostPath = join(state.rootfs, entry.path);
  keepParentTimes(state, parent);
  try {
    mkdirSync(fsPath(hostPath), { mode: 0o700 });
  } catch (error) {
    // Something is there: the one-by-one path replaces or keeps it.
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw error;
  }
  recordWritten(state, entry.path);
  setUpDirectory(state, hostPath, entry.path, entry);
  return true;
}

/** After chown and content: both drop security.capability. */
function setXattrs(state: ApplyState, hostPath: string, entry: LayerEntry): void {
  if (!entry.xattrs) return;
  for (const [name, value] of Object.entries(entry.xattrs)) {
    fsNative().lsetxattr(fsPath(hostPath), state.escapeOverlayXattrs ? escapeOverlayXattr(name) : name, value);
  }
}
