import { constants } from 'node:fs';
import { lstat, open as openFile, readdir, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import {
  compareLayerChanges,
  decodeName,
  fsNative,
  fsPath,
  unescapeOverlayXattr,
  type LayerChange,
  type LayerEntry,
} from '@tsbuild/oci-layout';
import { sortEntries } from './sortEntries.js';
import { deviceNumbers } from './deviceNumbers.js';
import { readRegions, sparseRegionsOf } from './sparseFiles.js';

export interface UpperOptions {
  /** SOURCE_DATE_EPOCH: mtimes later than this are clamped to it. */
  clampTo?: number;
  /** Root-relative paths to leave out (mount points the runtime created). */
  exclude?: Set<string>;
}

/** An image's xattrs as the upper directory holds them: overlay's own state left out, escaped names restored. */
function xattrsOf(path: string | Buffer): Record<string, Buffer> | undefined {
  const native = fsNative();
  const out: Record<string, Buffer> = {};
  for (const name of native.llistxattr(path)) {
    const imageName = unescapeOverlayXattr(name);
    if (imageName === undefined) continue;
    const value = native.lgetxattr(path, name);
    if (value) out[imageName] = value;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Reads an overlay upper directory as a layer: overlay whiteouts (0/0
 * character devices) become OCI whiteouts, opaque directories become
 * `.wh..wh..opq`, everything else an entry whose content is read lazily.
 * The upper directory is the diff, so nothing below it is scanned.
 */
export async function upperToChanges(upper: string, opts: UpperOptions = {}): Promise<LayerChange[]> {
  const entries: LayerEntry[] = [];
  const markers: LayerChange[] = [];
  const inodes = new Map<number, string>();
  const mtime = (ms: number) => {
    const t = Math.floor(ms / 1000);
    return opts.clampTo !== undefined ? Math.min(t, opts.clampTo) : t;
  };
  async function walk(dir: string, rel: string): Promise<void> {
    for (const name of (await readdir(fsPath(dir), { encoding: 'buffer' })).map((raw) => decodeName(raw)).sort()) {
      const path = rel ? `${rel}/${name}` : name;
      if (opts.exclude?.has(path)) continue;
      const abs = join(dir, name);
      const diskPath = fsPath(abs);
      const st = await lstat(diskPath);
      if (st.isCharacterDevice() && st.rdev === 0) {
        markers.push({ kind: 'whiteout', path });
        continue;
      }
      const base = { path, mode: st.mode & 0o7777, uid: st.uid, gid: st.gid, mtime: mtime(st.mtimeMs), size: 0 };
      const xattrs = xattrsOf(diskPath);
      const withXattrs = xattrs ? { xattrs } : {};
      if (st.isDirectory()) {
        entries.push({ ...base, ...withXattrs, type: 'directory' });
        if (fsNative().lgetxattr(diskPath, 'trusted.overlay.opaque')?.toString() === 'y') markers.push({ kind: 'opaque', path });
        await walk(abs, path);
      } else if (st.isSymbolicLink()) {
        entries.push({ ...base, ...withXattrs, type: 'symlink', mode: 0o777, linkname: decodeName(await readlink(diskPath, { encoding: 'buffer' })) });
      } else if (st.isFile()) {
        const first = st.nlink > 1 ? inodes.get(st.ino) : undefined;
        if (first !== undefined) {
          entries.push({ ...base, type: 'hardlink', linkname: first });
          continue;
        }
        if (st.nlink > 1) inodes.set(st.ino, path);
        const sparse = await sparseRegionsOf(diskPath, st);
        if (sparse) {
          entries.push({ ...base, ...withXattrs, type: 'file', size: st.size, sparse, open: () => readRegions(diskPath, sparse) });
          continue;
        }
        // Opened later, by path: never through a symlink that took the file's place.
        const open = async () => (await openFile(diskPath, constants.O_RDONLY | constants.O_NOFOLLOW)).createReadStream();
        entries.push({ ...base, ...withXattrs, type: 'file', size: st.size, open });
      } else if (st.isCharacterDevice() || st.isBlockDevice()) {
        entries.push({ ...base, type: st.isCharacterDevice() ? 'character-device' : 'block-device', ...deviceNumbers(st.rdev) });
      } else if (st.isFIFO()) {
        entries.push({ ...base, type: 'fifo' });
      }
      // Sockets cannot be stored in a layer; like docker, leave them out.
    }
  }
  await walk(upper, '');
  const changes: LayerChange[] = [...sortEntries(entries).map((entry) => ({ kind: 'entry' as const, entry })), ...markers];
  return changes.sort(compareLayerChanges);
}
