import { ChildIndex, grown, nextCapacity, type NameTable } from './columns.js';
import { FileColumns } from './fileColumns.js';

const EMPTIED = 1;
const HIDDEN = 2;
/** Removed from the filesystem; kept so the path's efficiency record comes back with it. */
const DETACHED = 4;

/** The attributes of a node before any layer gives it its own (dive's implied directory). */
const IMPLIED_ENTRY = { path: '', type: 'directory', size: 0, mode: 0o755, uid: 0, gid: 0, mtime: 0 } as const;

export const STACKED_ROOT = 0;

/**
 * The filesystem the layers so far add up to, one node per path, in columns
 * by node id (root 0). A single instance is updated layer by layer (never
 * copied), and serves two readers:
 * - the real filesystem, where `hidden` paths (under an opaque directory, or
 *   under a directory a later layer replaced with a file) no longer exist;
 * - dive's view of it, which ignores opaque markers (so hidden paths still
 *   count) and where a parent that a layer only implied (`emptied`) has lost
 *   its attributes: dive overwrites it with an empty record, no longer a
 *   directory, of size 0.
 * A path keeps its efficiency record for the whole image, so a removed node
 * stays, detached: a path that comes back gets its node, and so its record,
 * back. Node ids never change, and serve as the efficiency records' ids.
 */
export class StackedTree {
  parent = new Int32Array(0);
  name = new Int32Array(0);
  private flags = new Uint8Array(0);
  private firstChild = new Int32Array(0);
  private nextSibling = new Int32Array(0);
  readonly files = new FileColumns();
  private count = 1;
  private readonly index = new ChildIndex(this);

  constructor(private readonly names: NameTable) {
    this.grow(1024);
    this.parent[STACKED_ROOT] = -1;
    this.name[STACKED_ROOT] = names.intern('');
    this.firstChild[STACKED_ROOT] = -1;
    this.files.setEntry(STACKED_ROOT, IMPLIED_ENTRY);
  }

  /** The child named `name` (a name id) of `parent` as dive sees the tree (hidden nodes included), or -1. */
  child(parent: number, name: number): number {
    const id = this.index.find(parent, name);
    return id >= 0 && !(this.flags[id]! & DETACHED) ? id : -1;
  }

  /** The child if it exists in the real filesystem, or -1. */
  visibleChild(parent: number, name: number): number {
    const id = this.child(parent, name);
    return id >= 0 && !(this.flags[id]! & HIDDEN) ? id : -1;
  }

  isEmptied(id: number): boolean {
    return (this.flags[id]! & EMPTIED) !== 0;
  }

  isHidden(id: number): boolean {
    return (this.flags[id]! & HIDDEN) !== 0;
  }

  hide(id: number): void {
    this.flags[id]! |= HIDDEN;
  }

  /**
   * The child named `name` of `parent`, made if missing (as dive does, with
   * an empty record) and brought back if removed, so that a path's node, and
   * with it its record, is found again.
   */
  childOrNew(parent: number, name: number): number {
    const found = this.index.find(parent, name);
    if (found >= 0) {
      if (this.flags[found]! & DETACHED) this.revive(found);
      return found;
    }
    const id = this.count++;
    if (id >= this.parent.length) this.grow(nextCapacity(this.parent.length, id + 1));
    this.parent[id] = parent;
    this.name[id] = name;
    this.revive(id);
    this.firstChild[id] = -1;
    this.nextSibling[id] = this.firstChild[parent]!;
    this.firstChild[parent] = id;
    this.index.add(id);
    return id;
  }

  /** A node only recording a path's efficiency, for a path that is not in the tree: it is made detached. */
  detachedChild(parent: number, name: number): number {
    const found = this.index.find(parent, name);
    if (found >= 0) return found;
    const id = this.childOrNew(parent, name);
    this.flags[id] = DETACHED;
    return id;
  }

  /** Marks a node as a parent a layer only implied (its attributes lost, in dive's view); it is visible again. */
  putImplied(id: number): void {
    this.flags[id] = EMPTIED;
  }

  /** Sets a node's attributes to `from`'s node `fromId`; it is visible again. */
  put(id: number, from: FileColumns, fromId: number): void {
    this.files.copy(id, from, fromId);
    this.flags[id] = 0;
  }

  /** Removes the node and everything below it (they keep their records, detached). */
  remove(id: number): void {
    this.flags[id]! |= DETACHED;
    for (const d of this.descendants(id)) this.flags[d]! |= DETACHED;
  }

  /** The node's children in the tree (removed ones left out), in no particular order. */
  *children(id: number): Generator<number> {
    for (let c = this.firstChild[id]!; c >= 0; c = this.nextSibling[c]!) if (!(this.flags[c]! & DETACHED)) yield c;
  }

  /** Every descendant of `id` in the tree (not `id` itself). */
  *descendants(id: number): Generator<number> {
    const stack = [id];
    while (stack.length > 0) {
      for (const c of this.children(stack.pop()!)) {
        yield c;
        stack.push(c);
      }
    }
  }

  /** The node's root-relative path. */
  pathOf(id: number): string {
    const names: string[] = [];
    for (let at = id; at !== STACKED_ROOT; at = this.parent[at]!) names.push(this.names.name(this.name[at]!));
    return names.reverse().join('/');
  }

  /** dive's size of a whited-out path: a directory counts everything below it, a file counts 0. */
  diveRemovedSize(id: number): number {
    const { files } = this;
    if (this.isEmptied(id) || !files.isDirectory(id)) return 0;
    let total = files.sizeOf(id);
    for (const d of this.descendants(id)) total += this.isEmptied(d) ? 0 : files.sizeOf(d);
    return total;
  }

  /** A node new to the filesystem, or back in it: dive's empty record over an implied directory. */
  private revive(id: number): void {
    this.flags[id] = EMPTIED;
    this.files.setEntry(id, IMPLIED_ENTRY);
  }

  private grow(capacity: number): void {
    this.parent = grown(this.parent, capacity);
    this.name = grown(this.name, capacity);
    this.flags = grown(this.flags, capacity);
    this.firstChild = grown(this.firstChild, capacity);
    this.nextSibling = grown(this.nextSibling, capacity);
    this.files.grow(capacity);
  }
}
