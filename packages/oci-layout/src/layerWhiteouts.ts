import { lstat, readdir, rm } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { decodeName, fsPath } from './byteNames.js';
import { LayerApplyError, keepParentTimes, lstatOrNull, wasWritten, type ApplyState } from './applyState.js';
import { parentOf } from './knownDirectories.js';
import { resolveInRoot } from './securePath.js';

/**
 * Deletes what the layers below have at `path`. What this layer itself
 * wrote there stays, before or after the whiteout (image spec; umoci does
 * the same): a directory this layer wrote into loses only its lower children.
 */
export async function removeWhiteout(state: ApplyState, path: string): Promise<void> {
  const hostPath = await resolveInRoot(state.rootfs, path, { followFinal: false });
  if (hostPath === state.rootfs) throw new LayerApplyError('whiteout resolves to the root directory itself');
  const rootPath = relative(state.rootfs, hostPath);
  const stat = await lstatOrNull(hostPath);
  if (!stat) return;
  keepParentTimes(state, parentOf(rootPath));
  if (wasWritten(state, rootPath)) {
    if (stat.isDirectory()) await removeLowerChildren(state, hostPath, rootPath);
    return;
  }
  // rm does not follow a symlink at hostPath nor symlinks inside a removed directory.
  await rm(fsPath(hostPath), { recursive: true, force: true });
  state.directories.forget(rootPath);
}

/** Hides what lower layers put below `path`, keeping what this layer wrote there (before or after the marker). */
export async function makeOpaque(state: ApplyState, path: string): Promise<void> {
  const hostPath = path === '' ? state.rootfs : await resolveInRoot(state.rootfs, path, { followFinal: false });
  const stat = await lstatOrNull(hostPath);
  if (!stat?.isDirectory()) return;
  const rootPath = relative(state.rootfs, hostPath);
  keepParentTimes(state, rootPath);
  await removeLowerChildren(state, hostPath, rootPath);
}

async function removeLowerChildren(state: ApplyState, hostDir: string, rootDir: string): Promise<void> {
  for (const rawName of await readdir(fsPath(hostDir), { encoding: 'buffer' })) {
    const name = decodeName(rawName);
    const rootPath = rootDir === '' ? name : `${rootDir}/${name}`;
    const hostPath = join(hostDir, name);
    if (wasWritten(state, rootPath)) {
      const stat = await lstat(fsPath(hostPath));
      if (stat.isDirectory()) await removeLowerChildren(state, hostPath, rootPath);
    } else {
      await rm(fsPath(hostPath), { recursive: true, force: true });
      state.directories.forget(rootPath);
    }
  }
}
