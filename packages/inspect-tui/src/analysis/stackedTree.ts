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
  children?: Map<string, StackedNode>;
}

export class StackedTree {
  readonly root: StackedNode = { info: IMPLIED_DIRECTORY, emptied: false, hidden: false };

  /** The node at `path` as dive sees the tree (hidden nodes included). */
  find(path: string): StackedNode | undefined {
    let node: StackedNode | undefined = this.root;
    for (const name of path.split('/')) {
      node = node.children?.get(name);
      if (!node) return undefined;
    }
    return node;
  }

  /** The node at `path` if it exists in the real filesystem. */
  findVisible(path: string): StackedNode | undefined {
    const node = this.find(path);
    return node && !node.hidden ? node : undefined;
  }

  /**
   * Sets a path's record (`info` undefined: a parent the layer only implied),
   * creating missing parents as dive does, with empty records.
   */
  put(path: string, info: FileInfo | undefined): StackedNode {
    let node = this.root;
    for (const name of path.split('/')) {
      node.children ??= new Map();
      let next = node.children.get(name);
      if (!next) {
        next = { info: IMPLIED_DIRECTORY, emptied: true, hidden: false };
        node.children.set(name, next);
      }
      node = next;
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

  remove(path: string): void {
    const slash = path.lastIndexOf('/');
    const parent = slash < 0 ? this.root : this.find(path.slice(0, slash));
    parent?.children?.delete(path.slice(slash + 1));
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
