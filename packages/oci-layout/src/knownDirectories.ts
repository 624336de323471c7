import { mkdir, rm, stat as statFollowing } from 'node:fs/promises';
import { join } from 'node:path';
import { fsPath } from './byteNames.js';
import { lstatIfExists } from './ifExists.js';

/** S_ISGID (Node's fs.constants lacks it). */
export const SETGID_BIT = 0o2000;

/**
 * The directories below a root that one unpack has created or checked
 * itself: `<root>/<path>` and each of its ancestors is a real directory, not
 * a symlink. Entries below a known directory need no lookup of their parents
 * (their host path is the lexical `<root>/<path>`), which saves an lstat per
 * path component and a mkdir per entry.
 *
 * Sound only while nothing but the owner changes the tree, and only if the
 * owner calls `forget` for every path it removes or replaces (including
 * replacing anything with a symlink). An ancestor of a known directory is
 * always known too, so forgetting a path forgets everything below it.
 *
 * Each directory also remembers whether it has the setgid bit, because then
 * a new file in it takes the directory's group instead of the creator's.
 */
export class KnownDirectories {
  /** Root-relative path ('' is the root) -> setgid. */
  private readonly directories = new Map<string, boolean>();

  private constructor(private readonly root: string) {}

  /** `root` must be an absolute, normalised path of an existing directory (the caller's to trust, symlink or not). */
  static async of(root: string): Promise<KnownDirectories> {
    const known = new KnownDirectories(root);
    const stat = await statFollowing(root);
    if (!stat.isDirectory()) throw new Error(`${root} is not a directory`);
    known.directories.set('', (stat.mode & SETGID_BIT) !== 0);
    return known;
  }

  has(path: string): boolean {
    return this.directories.has(path);
  }

  /** undefined when `path` is not known. */
  hasSetgid(path: string): boolean | undefined {
    return this.directories.get(path);
  }

  /** Records `path` as a real directory; its parent must already be known. */
  add(path: string, setgid: boolean): void {
    if (!this.directories.has(parentOf(path))) throw new Error(`cannot record "${path}": its parent is not a known directory`);
    this.directories.set(path, setgid);
  }

  /** `path` (root-relative) was removed or replaced: forget it and everything below it. */
  forget(path: string): void {
    if (!this.directories.delete(path)) return;
    const prefix = path === '' ? '' : `${path}/`;
    for (const known of this.directories.keys()) {
      if (known.startsWith(prefix)) this.directories.delete(known);
    }
  }

  /**
   * Makes sure `path` is a real directory, creating missing components
   * (mode 0777 before umask, like `mkdir -p`), and records every component.
   * A component that is neither a directory nor a symlink (a file, a device)
   * is replaced by a directory, as umoci does where a layer needs one.
   * Returns false, changing nothing further, when a component is a symlink:
   * the caller then has to resolve the path the slow way.
   */
  async ensure(path: string): Promise<boolean> {
    if (this.directories.has(path)) return true;
    const components = path.split('/');
    if (!this.directories.has('') || components.some((c) => c === '' || c === '.' || c === '..')) return false;
    let current = '';
    for (const component of components) {
      const next = current === '' ? component : `${current}/${component}`;
      if (!this.directories.has(next)) {
        const hostPath = fsPath(join(this.root, next));
        const stat = await lstatIfExists(hostPath);
        if (stat?.isDirectory()) {
          this.directories.set(next, (stat.mode & SETGID_BIT) !== 0);
        } else if (stat?.isSymbolicLink()) {
          return false;
        } else {
          if (stat) await rm(hostPath);
          await mkdir(hostPath);
          // Linux: a new directory inherits its parent's setgid bit.
          this.directories.set(next, this.directories.get(current) ?? true);
        }
      }
      current = next;
    }
    return true;
  }
}

/** The root-relative parent of a root-relative path ('' for a top-level name). */
export function parentOf(path: string): string {
  const slash = path.lastIndexOf('/');
  return slash < 0 ? '' : path.slice(0, slash);
}
