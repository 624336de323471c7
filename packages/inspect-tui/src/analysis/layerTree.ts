import type { Readable } from 'node:stream';
import { scanLayer, WHITEOUT_PREFIX, type EntryHeader, type LayerChange, type LayerVisitor } from '@tsbuild/oci-layout';
import { ChildIndex, column, grown, nextCapacity, type NameTable } from './columns.js';
import { FileColumns } from './fileColumns.js';
import { ContentHasher, type ChangeMark, type FileInfo } from './fileInfo.js';

/**
 * What a node of a layer's tree is: an entry of the tar, a whiteout (a child
 * named `.wh.NAME`, so a layer may hold both `NAME` and its whiteout), or a
 * parent the tar never listed.
 */
export type NodeKind = 'entry' | 'whiteout' | 'implicit';

const KINDS: readonly NodeKind[] = ['implicit', 'entry', 'whiteout'];
const KIND_MASK = 3;
const ENTRY = 1;
const WHITEOUT = 2;
const OPAQUE = 4;

export const CHANGE_MARKS: readonly ChangeMark[] = ['added', 'modified', 'removed', 'unmodified'];
export const MARK_CODE: Record<ChangeMark, number> = { added: 0, modified: 1, removed: 2, unmodified: 3 };

export const ROOT = 0;

/**
 * A layer's own tree, shaped as dive shapes it so its metrics can be
 * reproduced, held in columns by node id (the root is 0): names are numbers
 * in the image's name table, and a node's path is its parents' names, made
 * when asked for. The lookup structures (children lists, the child index)
 * are let go once the analysis has marked the layer (`seal`).
 */
export class LayerTree {
  count = 1;
  parent = column(Int32Array);
  name = column(Int32Array);
  /** Kind and opaque marker. */
  private flags = column(Uint8Array);
  /** How each node relates to the layers below (set by the analysis). */
  change = column(Uint8Array);
  readonly files = new FileColumns();
  /** For a whiteout: the version of the path it removed, when there was one. */
  readonly removed = new Map<number, FileInfo>();
  /** The nodes in dive's order (children first, names in byte order), computed once. */
  order = column(Int32Array);
  /** dive's layer size: the sum of the tar header sizes of every member, repeats included. */
  size = 0;
  private firstChild: Int32Array | undefined = column(Int32Array);
  private nextSibling: Int32Array | undefined = column(Int32Array);
  private index: ChildIndex | undefined = new ChildIndex(this);
  private lastParentPath = { id: -1, path: '' };

  constructor(readonly names: NameTable) {
    this.grow(1);
    this.parent[ROOT] = -1;
    this.name[ROOT] = names.intern('');
    this.firstChild![ROOT] = -1;
  }

  kind(id: number): NodeKind {
    return KINDS[this.flags[id]! & KIND_MASK]!;
  }

  isEntry(id: number): boolean {
    return (this.flags[id]! & KIND_MASK) === ENTRY;
  }

  isWhiteout(id: number): boolean {
    return (this.flags[id]! & KIND_MASK) === WHITEOUT;
  }

  isOpaque(id: number): boolean {
    return (this.flags[id]! & OPAQUE) !== 0;
  }

  /** The entry's attributes (undefined for whiteouts and implied parents). */
  info(id: number): FileInfo | undefined {
    return this.isEntry(id) ? this.files.info(id) : undefined;
  }

  /** The node's root-relative path as the layer names it (a whiteout's ends in `.wh.NAME`). */
  pathOf(id: number): string {
    const parent = this.parent[id]!;
    const name = this.names.name(this.name[id]!);
    if (parent === ROOT) return name;
    // Nodes come directory by directory: their parent's path is mostly the one made last.
    if (this.lastParentPath.id !== parent) this.lastParentPath = { id: parent, path: this.pathUpTo(parent) };
    return `${this.lastParentPath.path}/${name}`;
  }

  /** The path of `id` from its names up to the root: a loop, as a path may be thousands of levels deep. */
  private pathUpTo(id: number): string {
    const names: string[] = [];
    for (let at = id; at !== ROOT; at = this.parent[at]!) names.push(this.names.name(this.name[at]!));
    return names.reverse().join('/');
  }

  /** What a node is about: its path, or for a whiteout the path it removes. */
  targetPath(id: number): string {
    const path = this.pathOf(id);
    if (!this.isWhiteout(id)) return path;
    const slash = path.lastIndexOf('/');
    return path.slice(0, slash + 1) + path.slice(slash + 1 + WHITEOUT_PREFIX.length);
  }

  /** The name id of what a node is about (a whiteout's removed name). */
  targetName(id: number): number {
    if (!this.isWhiteout(id)) return this.name[id]!;
    return this.names.intern(this.names.name(this.name[id]!).slice(WHITEOUT_PREFIX.length));
  }

  /** Whether the node has no children (until `seal`). */
  isLeaf(id: number): boolean {
    return this.firstChild![id]! < 0;
  }

  /** The child named `name` (a name id), or -1 (until `seal`). */
  child(parent: number, name: number): number {
    return this.index!.find(parent, name);
  }

  /** The node's children, in no particular order (until `seal`). */
  *children(id: number): Generator<number> {
    for (let c = this.firstChild![id]!; c >= 0; c = this.nextSibling![c]!) yield c;
  }

  /** Lets the lookup structures go: the tree is then read only by id and in order. */
  seal(): void {
    this.firstChild = undefined;
    this.nextSibling = undefined;
    this.index = undefined;
  }

  /** The child named `name` of `parent`, made (as implied) if missing. */
  childOrNew(parent: number, name: number): number {
    const found = this.index!.find(parent, name);
    if (found >= 0) return found;
    const id = this.count++;
    if (id >= this.parent.length) this.grow(nextCapacity(this.parent.length, id + 1));
    this.parent[id] = parent;
    this.name[id] = name;
    this.firstChild![id] = -1;
    this.nextSibling![id] = this.firstChild![parent]!;
    this.firstChild![parent] = id;
    this.index!.add(id);
    return id;
  }

  setEntry(id: number, entry: EntryHeader, hash?: string): void {
    this.flags[id] = (this.flags[id]! & ~KIND_MASK) | ENTRY;
    this.files.setEntry(id, entry, hash);
  }

  setWhiteout(id: number): void {
    this.flags[id] = (this.flags[id]! & ~KIND_MASK) | WHITEOUT;
  }

  setOpaque(id: number): void {
    this.flags[id]! |= OPAQUE;
  }

  private grow(capacity: number): void {
    this.parent = grown(this.parent, capacity);
    this.name = grown(this.name, capacity);
    this.flags = grown(this.flags, capacity);
    this.change = grown(this.change, capacity);
    this.firstChild = grown(this.firstChild!, capacity);
    this.nextSibling = grown(this.nextSibling!, capacity);
    this.files.grow(capacity);
  }

  /** dive's traversal: depth first, children (by name) before their parent, the root never visited. Iterative: a path may be thousands of levels deep. */
  computeOrder(): void {
    const order = new Int32Array(this.count - 1);
    let n = 0;
    const stack: { node: number; children: number[]; next: number }[] = [{ node: ROOT, children: this.sortedChildren(ROOT), next: 0 }];
    while (stack.length > 0) {
      const top = stack[stack.length - 1]!;
      if (top.next < top.children.length) {
        const node = top.children[top.next++]!;
        if (!this.isLeaf(node)) stack.push({ node, children: this.sortedChildren(node), next: 0 });
        else order[n++] = node;
      } else {
        stack.pop();
        if (stack.length > 0) order[n++] = top.node;
      }
    }
    this.order = order;
  }

  /** Byte-wise name order, as Go's sort.Strings orders dive's tree. */
  private sortedChildren(id: number): number[] {
    const children: number[] = [];
    for (let c = this.firstChild![id]!; c >= 0; c = this.nextSibling![c]!) children.push(c);
    const names = children.map((c) => this.names.name(this.name[c]!));
    const at = children.map((_, i) => i).sort((a, b) => (names[a]! < names[b]! ? -1 : names[a]! > names[b]! ? 1 : 0));
    return at.map((i) => children[i]!);
  }
}

/** Builds a layer's tree from its paths. Entries come grouped by directory, so the last directory is kept at hand. */
class TreeBuilder {
  private lastDirectory = { path: '', node: ROOT };

  constructor(readonly tree: LayerTree) {}

  /** The node at `path`, created (with its parents) as implicit if missing. */
  nodeAt(path: string): number {
    const slash = path.lastIndexOf('/');
    return this.tree.childOrNew(this.parentOf(path, slash), this.tree.names.intern(slash < 0 ? path : path.slice(slash + 1)));
  }

  /** The whiteout node of `path`, named as dive names it. */
  whiteoutAt(path: string): number {
    const slash = path.lastIndexOf('/');
    return this.tree.childOrNew(this.parentOf(path, slash), this.tree.names.intern(WHITEOUT_PREFIX + path.slice(slash + 1)));
  }

  private parentOf(path: string, slash: number): number {
    if (slash < 0) return ROOT;
    const last = this.lastDirectory;
    // Compared in place: slicing the parent's path off every entry's path would cost a string each.
    if (last.path.length === slash && path.startsWith(last.path)) return last.node;
    return this.directory(path.slice(0, slash));
  }

  private directory(path: string): number {
    let node = ROOT;
    let at = 0;
    while (at < path.length) {
      const slash = path.indexOf('/', at);
      const end = slash < 0 ? path.length : slash;
      node = this.tree.childOrNew(node, this.tree.names.intern(path.slice(at, end)));
      at = end + 1;
    }
    this.lastDirectory = { path, node };
    return node;
  }
}

/**
 * Builds a layer's tree from its changes as scanLayer hands them over,
 * hashing file contents on the way. A class, not an object of closures: its
 * methods stay the same functions from layer to layer, so the reader's
 * optimised calls to them stay valid.
 */
class LayerTreeReader implements LayerVisitor {
  readonly tree: LayerTree;
  private readonly builder: TreeBuilder;
  private readonly hasher = new ContentHasher();
  // The file whose bytes are being hashed: its attributes are recorded once they are.
  private fileNode = -1;
  private fileEntry: EntryHeader | undefined;

  constructor(names: NameTable) {
    this.tree = new LayerTree(names);
    this.builder = new TreeBuilder(this.tree);
  }

  change(change: LayerChange): void {
    const { tree } = this;
    if (change.kind === 'entry') {
      const entry = change.entry;
      tree.size += entry.size;
      const node = this.builder.nodeAt(entry.path);
      if (entry.type === 'file') {
        this.fileNode = node;
        this.fileEntry = entry;
        this.hasher.start(entry.size, entry.sparse);
      } else {
        tree.setEntry(node, entry);
      }
    } else if (change.kind === 'whiteout') {
      tree.setWhiteout(this.builder.whiteoutAt(change.path));
    } else {
      tree.setOpaque(change.path === '' ? ROOT : this.builder.nodeAt(change.path));
    }
  }

  content(piece: Buffer): void {
    this.hasher.update(piece);
  }

  contentEnd(): void {
    this.tree.setEntry(this.fileNode, this.fileEntry!, this.hasher.digest());
    this.fileEntry = undefined;
  }
}

/** Reads a layer blob once into its tree, hashing file contents on the way; names go into the image's table. */
export async function readLayerTree(blob: Readable, names: NameTable): Promise<LayerTree> {
  const reader = new LayerTreeReader(names);
  await scanLayer(blob, reader);
  reader.tree.computeOrder();
  return reader.tree;
}
