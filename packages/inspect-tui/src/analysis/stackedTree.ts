import { IMPLIED_DIRECTORY, type FileInfo } from './fileInfo.js';

/**
 * One path of the filesystem the layers so far add up to. A single instance
 * is updated layer by layer (never copied), and serves two readers:
 * - the real filesystem, where `hidden` paths (under an opaque directory, or
 *   under a directory a later layer replaced with a file) no longer exist;
 * - dive's view of it, which ignores opaque markers (so hidden paths still
 *   count) and where a parent that a layer only implied (`emptied`) has lost
 *   its attributes: dive overwrites it with an empty record, no longer a
 *   directory, of size 0.
 */
export interface StackedNode {
  info: FileInfo;
  emptied: boolean;
  hidden: boolean;
  /** The path's efficiency record (an EfficiencyTally index), -1 while it has none. */
  record: number;
  children?: Map<string, StackedNode>;
}

const newNode = (record: number): StackedNode => ({ info: IMPLIED_DIRECTORY, emptied: true, hidden: false, record });

export class StackedTree {
  readonly root: StackedNode = { info: IMPLIED_DIRECTORY, emptied: false, hidden: false, record: -1 };
  /**
   * Efficiency records of paths not in the tree (removed, or only ever
   * whited out): a path keeps its record for the whole image, so one that
   * comes back gets its record back when its node is made.
   */
  private readonly detachedRecords = new Map<string, number>();
  /**
   * The directory of the last lookup: a layer's paths come directory by
   * directory, so most lookups start there instead of at the root. Removals
   * forget it (the directory may be gone).
   */
  private lastDirectory: { path: string; node: StackedNode | undefined } = { path: '', node: this.root };

  /** `newRecord` makes a path's efficiency record, the first time the path needs one. */
  constructor(private readonly newRecord: (path: string) => number) {}

  /** The node at `path` as dive sees the tree (hidden nodes included). */
  find(path: string, name?: string): StackedNode | undefined {
    const slash = path.lastIndexOf('/');
    return this.parentOf(path, slash)?.children?.get(name ?? (slash < 0 ? path : path.slice(slash + 1)));
  }

  /** The node at `path` if it exists in the real filesystem. */
  findVisible(path: string, name?: string): StackedNode | undefined {
    const node = this.find(path, name);
    return node && !node.hidden ? node : undefined;
  }

  /**
   * Sets a path's record (`info` undefined: a parent the layer only implied),
   * creating missing parents as dive does, with empty records. `name` is the
   * path's last component, when the caller has it (a new node keeps it as its key).
   */
  put(path: string, info: FileInfo | undefined, name?: string): StackedNode {
    const slash = path.lastIndexOf('/');
    let parent = this.parentOf(path, slash);
    if (!parent) {
      const parentPath = path.slice(0, slash);
      parent = this.makeDirectory(parentPath);
      this.lastDirectory = { path: parentPath, node: parent };
    }
    const key = name ?? path.slice(slash + 1);
    let node = parent.children?.get(key);
    if (!node) {
      node = newNode(this.takeDetachedRecord(path));
      (parent.children ??= new Map()).set(key, node);
    }
    if (info === undefined) {
      node.emptied = true;
    } else {
      node.info = info;
      node.emptied = false;
    }
    node.hidden = false;
    return node;
  }

  /** Removes the path and everything below it (their efficiency records are kept aside). */
  remove(path: string): void {
    this.lastDirectory = { path: '', node: this.root };
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? this.root : this.find(path.slice(0, slash));
    const name = path.slice(slash + 1);
    const node = parent?.children?.get(name);
    if (!node) return;
    parent!.children!.delete(name);
    if (node.record >= 0) this.detachedRecords.set(path, node.record);
    for (const [p, n] of descendants(node, path)) if (n.record >= 0) this.detachedRecords.set(p, n.record);
  }

  /** The efficiency record of `path` (whose node, if it has one, is `node`), made if it has none yet. */
  recordOf(path: string, node: StackedNode | undefined): number {
    if (node) {
      if (node.record < 0) node.record = this.newRecord(path);
      return node.record;
    }
    let record = this.detachedRecords.get(path);
    if (record === undefined) this.detachedRecords.set(path, (record = this.newRecord(path)));
    return record;
  }

  private takeDetachedRecord(path: string): number {
    if (this.detachedRecords.size === 0) return -1;
    const record = this.detachedRecords.get(path);
    if (record === undefined) return -1;
    this.detachedRecords.delete(path);
    return record;
  }

  private parentOf(path: string, slash: number): StackedNode | undefined {
    if (slash < 0) return this.root;
    const last = this.lastDirectory;
    // Compared in place: slicing the parent's path off every path would cost a string each.
    if (last.path.length === slash && path.startsWith(last.path)) return last.node;
    return this.directory(path.slice(0, slash));
  }

  private directory(path: string): StackedNode | undefined {
    let node: StackedNode | undefined = this.root;
    let at = 0;
    while (node && at < path.length) {
      const slash = path.indexOf('/', at);
      const end = slash < 0 ? path.length : slash;
      node = node.children?.get(path.slice(at, end));
      at = end + 1;
    }
    this.lastDirectory = { path, node };
    return node;
  }

  private makeDirectory(path: string): StackedNode {
    let node = this.root;
    let at = 0;
    while (at < path.length) {
      const slash = path.indexOf('/', at);
      const end = slash < 0 ? path.length : slash;
      const name = path.slice(at, end);
      let next = node.children?.get(name);
      if (!next) {
        next = newNode(this.takeDetachedRecord(path.slice(0, end)));
        (node.children ??= new Map()).set(name, next);
      }
      node = next;
      at = end + 1;
    }
    return node;
  }
}

/** Every descendant of `node` (not `node` itself) with its root-relative path. */
export function* descendants(node: StackedNode, path: string): Generator<[string, StackedNode]> {
  const stack: [string, StackedNode][] = [[path, node]];
  while (stack.length > 0) {
    const [p, n] = stack.pop()!;
    if (!n.children) continue;
    for (const [name, c] of n.children) {
      const childPath = p === '' ? name : `${p}/${name}`;
      yield [childPath, c];
      stack.push([childPath, c]);
    }
  }
}

/** dive's size of a whited-out path: a directory counts everything below it, a file counts 0. */
export function diveRemovedSize(node: StackedNode): number {
  if (node.emptied || node.info.type !== 'directory') return 0;
  let total = node.info.size;
  for (const [, d] of descendants(node, '')) total += d.emptied ? 0 : d.info.size;
  return total;
}
