import { lstat, readlink } from 'node:fs/promises';
import { join } from 'node:path';
import { decodeName, fsPath } from './byteNames.js';

/** Linux's own limit on symlinks followed in one lookup. */
const MAX_SYMLINKS = 40;

export class PathResolutionError extends Error {}

/**
 * The host path of `relPath` inside `root`, resolved component by component
 * as if `root` were `/`: symlinks are read and followed with their absolute
 * targets re-rooted at `root`, and `..` never climbs above it. So no input
 * (names with `..`, absolute names, symlinks to `/` or `../../..`) can give a
 * path outside `root`. Components that do not exist are taken as they are.
 * With `followFinal: false` the last component is not followed, so callers
 * can create, replace or remove it without touching what a symlink there
 * points to. This is a check-then-use walk: it assumes nothing else changes
 * the tree under `root` at the same time (true while a layer is unpacked).
 * Names are strings as `decodeName` makes them (bytes that are not UTF-8
 * escaped), and so is the result.
 */
export async function resolveInRoot(root: string, relPath: string, opts: { followFinal: boolean }): Promise<string> {
  const pending = splitPath(relPath);
  const resolved: string[] = [];
  let symlinksFollowed = 0;
  while (pending.length > 0) {
    const component = pending.shift()!;
    if (component === '..') {
      resolved.pop();
      continue;
    }
    const candidate = join(root, ...resolved, component);
    if (pending.length === 0 && !opts.followFinal) {
      resolved.push(component);
      break;
    }
    let isSymlink = false;
    try {
      isSymlink = (await lstat(fsPath(candidate))).isSymbolicLink();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw error;
    }
    if (!isSymlink) {
      resolved.push(component);
      continue;
    }
    if (++symlinksFollowed > MAX_SYMLINKS) {
      throw new PathResolutionError(`too many levels of symbolic links resolving "${relPath}" in ${root}`);
    }
    const target = decodeName(await readlink(fsPath(candidate), { encoding: 'buffer' }));
    if (target.startsWith('/')) resolved.length = 0;
    pending.unshift(...splitPath(target));
  }
  return join(root, ...resolved);
}

function splitPath(path: string): string[] {
  return path.split('/').filter((component) => component !== '' && component !== '.');
}
