import { closeSync, constants, type Stats } from 'node:fs';
import { lstat, open as openFile, readdir, readlink } from 'node:fs/promises';
import { decodeName, fsNative, fsPath, type LayerEntry } from '@tsbuild/oci-layout';
import { deviceNumbers } from '../layers/deviceNumbers.js';

/** `name` in the directory that descriptor `dirFd` holds: the directory is pinned, the name is one component. */
function inDirectory(dirFd: number, name: string): string | Buffer {
  return fsPath(`/proc/self/fd/${dirFd}/${name}`);
}

/** The tree changed under the walk in a way it cannot follow safely. */
export class TreeChangedError extends Error {}

export interface TreeOptions {
  /** Owner every entry gets instead of its own (docker cp without -a). */
  owner?: { uid: number; gid: number };
}

/** What is at `name` in the directory `dirFd`, not following a symlink there; undefined when nothing is. */
export async function statBeneath(dirFd: number, name: string): Promise<Stats | undefined> {
  try {
    return await lstat(inDirectory(dirFd, name));
  } catch (e) {
    // The one error expected: nothing by that name.
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

/**
 * The tree at `name` in the directory `dirFd` as layer entries named
 * `prefix` and below (with prefix '' the top directory itself is left out
 * and its contents are named from their own names). Every step is made
 * from a descriptor: directories are opened beneath their parent without
 * following a symlink (openDirectoryBeneath), files with O_NOFOLLOW, so a
 * symlink in the tree, or one swapped in meanwhile, is read as a symlink
 * and never followed out. Entries come one at a time: memory does not grow
 * with the number of files (only with multiply linked ones).
 */
export async function* readTreeBeneath(dirFd: number, name: string, prefix: string, opts: TreeOptions = {}): AsyncGenerator<LayerEntry> {
  const links = new Map<string, string>();
  const named = (rel: string) => (prefix === '' ? rel : rel === '' ? prefix : `${prefix}/${rel}`);

  async function* visit(parentFd: number, base: string, rel: string): AsyncGenerator<LayerEntry> {
    const st = await lstat(inDirectory(parentFd, base));
    const path = named(rel);
    const owner = opts.owner ?? { uid: st.uid, gid: st.gid };
    const header = { path, mode: st.mode & 0o7777, ...owner, mtime: Math.floor(st.mtimeMs / 1000), size: 0 };
    if (st.isDirectory()) {
      if (path !== '') yield { ...header, type: 'directory' };
      const fd = fsNative().openDirectoryBeneath(parentFd, fsPath(base));
      try {
        const names = (await readdir(fsPath(`/proc/self/fd/${fd}`), { encoding: 'buffer' })).map((raw) => decodeName(raw)).sort();
        for (const child of names) yield* visit(fd, child, rel === '' ? child : `${rel}/${child}`);
      } finally {
        closeSync(fd);
      }
      return;
    }
    if (st.isSymbolicLink()) {
      yield { ...header, type: 'symlink', mode: 0o777, linkname: decodeName(await readlink(inDirectory(parentFd, base), { encoding: 'buffer' })) };
    } else if (st.isFile()) {
      const key = `${st.dev}:${st.ino}`;
      const first = st.nlink > 1 ? links.get(key) : undefined;
      if (first !== undefined) {
        yield { ...header, type: 'hardlink', linkname: first };
        return;
      }
      if (st.nlink > 1) links.set(key, path);
      // Opened now, while its directory is held: readers take entries ahead of their content. O_NONBLOCK: a FIFO swapped in must not hang us.
      const handle = await openFile(inDirectory(parentFd, base), constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
      const opened = await handle.stat();
      if (!opened.isFile()) {
        await handle.close();
        throw new TreeChangedError(`${path} is no longer a regular file`);
      }
      // The stream closes the handle when it ends.
      yield { ...header, type: 'file', size: opened.size, open: () => handle.createReadStream() };
    } else if (st.isCharacterDevice() || st.isBlockDevice()) {
      yield { ...header, type: st.isCharacterDevice() ? 'character-device' : 'block-device', ...deviceNumbers(st.rdev) };
    } else if (st.isFIFO()) {
      yield { ...header, type: 'fifo' };
    }
    // Sockets cannot travel in a tar; like docker, leave them out.
  }
  yield* visit(dirFd, name, '');
}
