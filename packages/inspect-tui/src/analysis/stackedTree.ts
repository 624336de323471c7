import { ChildIndex, column, grown, nextCapacity, type NameTable } from './columns.js';
import { FileColumns } from './fileColumns.js';
import type { FileInfo } from './fileInfo.js';

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
  parent = column(Int32Array);
  name = column(Int32Array);
  private flags = column(Uint8Array);
  private firstChild = column(Int32Array);
  private nextSibling = column(Int32Array);
  /**
   * Where a node's attributes are: a layer and its node there (layer -1: the
   * implied directory), read from that layer's tree, which the analysis
   * keeps anyway, rather than copied (8 bytes a node instead of 30).
   */
  private sourceLayer = column(Int32Array);
  private sourceNode = column(Int32Array);
  private readonly layerFiles: FileColumns[] = [];
  private readonly implied = new FileColumns();
  private count = 1;
  private readonly index = new ChildIndex(this);

  constructor(private readonly names: NameTable) {
    this.grow(1024);
    this.parent[STACKED_ROOT] = -1;
    this.name[STACKED_ROOT] = names.intern('');
    this.firstChild[STACKED_ROOT] = -1;
    this.implied.grow(1);
    this.implied.setEntry(0, IMPLIED_ENTRY);
    this.sourceLayer[STACKED_ROOT] = -1;
  }

  /** Makes layer `index`'s attributes readable: its nodes are about to be put. */
  addLayer(index: number, files: FileColumns): void {
    this.layerFiles[index] = files;
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

  /** Gives a node the attributes of node `fromId` of layer `layer`; it is visible again. */
  put(id: number, layer: number, fromId: number): void {
    this.sourceLayer[id] = layer;
    this.sourceNode[id] = fromId;
    this.flags[id] = 0;
  }

  /** The node's attributes as a FileInfo. */
  info(id: number): FileInfo {
    return this.filesOf(id).info(this.sourceNode[id]!);
  }

  /** dive's comparison of the node's attributes with node `otherId` of `other`. */
  same(id: number, other: FileColumns, otherId: number): boolean {
    return this.filesOf(id).same(this.sourceNode[id]!, other, otherId);
  }

  private isDirectory(id: number): boolean {
    return this.filesOf(id).isDirectory(this.sourceNode[id]!);
  }

  private sizeOf(id: number): number {
    return this.filesOf(id).sizeOf(this.sourceNode[id]!);
  }

  private filesOf(id: number): FileColumns {
    const layer = this.sourceLayer[id]!;
    return layer < 0 ? this.implied : this.layerFiles[layer]!;
  }

  /** Removes the node and everything below it (they keep their records, detached). */
  remove(id: number): void {
    this.flags[id]! |= DETACHED;
    this.eachDescendant(id, (d) => (this.flags[d]! |= DETACHED));
  }

  /** Calls `visit` with each of the node's children in the tree (removed ones left out), in no particular order. */
  eachChild(id: number, visit: (child: number) => void): void {
    for (let c = this.firstChild[id]!; c >= 0; c = this.nextSibling[c]!) if (!(this.flags[c]! & DETACHED)) visit(c);
  }

  /**
   * Calls `visit` with every descendant of `id` in the tree (not `id` itself).
   * A loop rather than a generator: it runs for every file a layer puts, nearly always on a leaf.
   */
  eachDescendant(id: number, visit: (descendant: number) => void): void {
    if (this.firstChild[id]! < 0) return;
    const stack = [id];
    while (stack.length > 0) {
      for (let c = this.firstChild[stack.pop()!]!; c >= 0; c = this.nextSibling[c]!) {
        if (this.flags[c]! & DETACHED) continue;
        visit(c);
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
    if (this.isEmptied(id) || !this.isDirectory(id)) return 0;
    let total = this.sizeOf(id);
    this.eachDescendant(id, (d) => (total += this.isEmptied(d) ? 0 : this.sizeOf(d)));
    return total;
  }

  /** A node new to the filesystem, or back in it: dive's empty record over an implied directory. */
  private revive(id: number): void {
    this.flags[id] = EMPTIED;
    this.sourceLayer[id] = -1;
    this.sourceNode[id] = 0;
  }

  private grow(capacity: number): void {
    this.parent = grown(this.parent, capacity);
    this.name = grown(this.name, capacity);
    this.flags = grown(this.flags, capacity);
    this.firstChild = grown(this.firstChild, capacity);
    this.nextSibling = grown(this.nextSibling, capacity);
    this.sourceLayer = grown(this.sourceLayer, capacity);
    this.sourceNode = grown(this.sourceNode, capacity);
  }
}
