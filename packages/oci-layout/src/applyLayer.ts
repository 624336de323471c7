import { constants } from 'node:fs';
import { chmod, link, lchown, lstat, lutimes, mkdir, open, readdir, rm, symlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { fsNative } from './fsNative.js';
import type { LayerEntry } from './layerEntry.js';
import { readLayer } from './layerReader.js';
import { resolveInRoot } from './securePath.js';

export interface ApplyLayerOptions {
  /** Set owners from the layer (lchown). Default: when running as root. */
  sameOwner?: boolean;
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
 */
export async function applyLayer(rootfs: string, blob: Readable, opts: ApplyLayerOptions = {}): Promise<{ entries: number }> {
  const state: ApplyState = {
    // Absolute and normalised, so a resolved path can be compared with it.
    rootfs: resolve(rootfs),
    sameOwner: opts.sameOwner ?? process.getuid?.() === 0,
    written: new Set(),
    writtenAncestors: new Set(),
    directoryTimes: new Map(),
  };
  let entries = 0;
  for await (const change of readLayer(blob)) {
    entries++;
    try {
      if (change.kind === 'entry') await writeEntry(state, change.entry);
      else if (change.kind === 'whiteout') await removeWhiteout(state, change.path);
      else await makeOpaque(state, change.path);
    } catch (error) {
      const path = change.kind === 'entry' ? change.entry.path : change.path;
      throw new Error(`cannot apply ${change.kind} "${path}" of layer: ${(error as Error).message}`, { cause: error });
    }
  }
  // Writing children changes a directory's mtime, so directory times go last, deepest first.
  const directories = [...state.directoryTimes].sort(([a], [b]) => b.length - a.length);
  for (const [hostPath, mtime] of directories) {
    // A later whiteout or entry of the same layer may have removed or replaced the directory.
    if ((await lstatOrNull(hostPath))?.isDirectory()) await lutimes(hostPath, mtime, mtime);
  }
  return { entries };
}

interface ApplyState {
  rootfs: string;
  sameOwner: boolean;
  /** Paths this layer wrote, so an opaque marker later in the layer keeps them. */
  written: Set<string>;
  writtenAncestors: Set<string>;
  directoryTimes: Map<string, number>;
}

async function writeEntry(state: ApplyState, entry: LayerEntry): Promise<void> {
  const hostPath = await resolveInRoot(state.rootfs, entry.path, { followFinal: false });
  if (hostPath === state.rootfs) throw new Error('entry resolves to the root directory itself');
  await mkdir(dirname(hostPath), { recursive: true });
  const existing = await lstatOrNull(hostPath);
  if (existing && !(existing.isDirectory() && entry.type === 'directory')) {
    await rm(hostPath, { recursive: existing.isDirectory(), force: true });
  }
  recordWritten(state, entry.path);

  switch (entry.type) {
    case 'directory': {
      if (!existing?.isDirectory()) await mkdir(hostPath, { mode: 0o700 });
      await withNoFollowHandle(hostPath, constants.O_RDONLY | constants.O_DIRECTORY, (handle) => setHandleMetadata(state, handle, entry));
      setXattrs(hostPath, entry);
      state.directoryTimes.set(hostPath, entry.mtime);
      return;
    }
    case 'file': {
      const handle = await open(hostPath, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
      try {
        await writeContent(handle, entry);
        await setHandleMetadata(state, handle, entry);
      } finally {
        await handle.close();
      }
      break;
    }
    case 'symlink':
      await symlink(entry.linkname ?? '', hostPath);
      if (state.sameOwner) await lchown(hostPath, entry.uid, entry.gid);
      break;
    case 'hardlink': {
      const target = await resolveInRoot(state.rootfs, entry.linkname ?? '', { followFinal: false });
      const targetStat = await lstatOrNull(target);
      if (!targetStat) throw new Error(`hard link target "${entry.linkname}" does not exist in the layer or below it`);
      if (targetStat.isDirectory()) throw new Error(`hard link target "${entry.linkname}" is a directory`);
      // link(2) does not follow a symlink target: the link shares the symlink's inode.
      await link(target, hostPath);
      // A hard link shares its target's inode, so its metadata is the target's.
      return;
    }
    case 'character-device':
    case 'block-device':
    case 'fifo': {
      const typeBits = { 'character-device': constants.S_IFCHR, 'block-device': constants.S_IFBLK, fifo: constants.S_IFIFO }[entry.type];
      fsNative().mknod(hostPath, typeBits | (entry.mode & 0o777), entry.devmajor ?? 0, entry.devminor ?? 0);
      // Opening a device to use fd-based calls could have side effects; it was just created, so path calls are safe.
      if (state.sameOwner) await lchown(hostPath, entry.uid, entry.gid);
      await chmod(hostPath, entry.mode & 0o7777);
      break;
    }
  }
  setXattrs(hostPath, entry);
  await lutimes(hostPath, entry.mtime, entry.mtime);
}

async function writeContent(handle: FileHandle, entry: LayerEntry): Promise<void> {
  if (!entry.content) return;
  for await (const chunk of entry.content as AsyncIterable<Buffer>) {
    await handle.write(chunk);
  }
}

/** chown before chmod: chown clears setuid/setgid bits. */
async function setHandleMetadata(state: ApplyState, handle: FileHandle, entry: LayerEntry): Promise<void> {
  if (state.sameOwner) await handle.chown(entry.uid, entry.gid);
  await handle.chmod(entry.mode & 0o7777);
}

/** After chown and content: both drop security.capability. */
function setXattrs(hostPath: string, entry: LayerEntry): void {
  for (const [name, value] of Object.entries(entry.xattrs ?? {})) fsNative().lsetxattr(hostPath, name, value);
}

async function withNoFollowHandle(path: string, flags: number, use: (handle: FileHandle) => Promise<void>): Promise<void> {
  const handle = await open(path, flags | constants.O_NOFOLLOW);
  try {
    await use(handle);
  } finally {
    await handle.close();
  }
}

async function removeWhiteout(state: ApplyState, path: string): Promise<void> {
  const hostPath = await resolveInRoot(state.rootfs, path, { followFinal: false });
  if (hostPath === state.rootfs) throw new Error('whiteout resolves to the root directory itself');
  if (!(await lstatOrNull(hostPath))) return;
  // rm does not follow a symlink at hostPath nor symlinks inside a removed directory.
  await rm(hostPath, { recursive: true, force: true });
}

/** Hides what lower layers put below `path`, keeping what this layer wrote there (before or after the marker). */
async function makeOpaque(state: ApplyState, path: string): Promise<void> {
  const hostPath = path === '' ? state.rootfs : await resolveInRoot(state.rootfs, path, { followFinal: false });
  const stat = await lstatOrNull(hostPath);
  if (!stat?.isDirectory()) return;
  await removeLowerChildren(state, hostPath, path);
}

async function removeLowerChildren(state: ApplyState, hostDir: string, layerDir: string): Promise<void> {
  for (const name of await readdir(hostDir)) {
    const layerPath = layerDir === '' ? name : `${layerDir}/${name}`;
    const hostPath = join(hostDir, name);
    if (state.written.has(layerPath) || state.writtenAncestors.has(layerPath)) {
      const stat = await lstat(hostPath);
      if (stat.isDirectory()) await removeLowerChildren(state, hostPath, layerPath);
    } else {
      await rm(hostPath, { recursive: true, force: true });
    }
  }
}

function recordWritten(state: ApplyState, path: string): void {
  state.written.add(path);
  for (let slash = path.lastIndexOf('/'); slash > 0; slash = path.lastIndexOf('/', slash - 1)) {
    state.writtenAncestors.add(path.slice(0, slash));
  }
}

/** null when nothing is there, also when a parent is not a directory. */
async function lstatOrNull(path: string) {
  try {
    return await lstat(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return null;
    throw error;
  }
}
