import type { Readable } from 'node:stream';
import { scanLayer, WHITEOUT_PREFIX, type EntryHeader, type LayerChange, type LayerVisitor } from '@tsbuild/oci-layout';
import { ContentHasher, fileInfoOf, type ChangeMark, type FileInfo } from './fileInfo.js';

/**
 * One node of a layer's own tree, shaped as dive shapes it so its metrics can
 * be reproduced: a whiteout is a child named `.wh.NAME` (so a layer may hold
 * both `NAME` and its whiteout), parents the tar never listed are `implicit`,
 * and an opaque marker only flags its directory.
 */
export interface LayerNode {
  /** Name within the parent as dive keys it (`.wh.` kept on whiteouts). */
  name: string;
  /** Root-relative path of what the node is about (for a whiteout: the removed path). */
  path: string;
  kind: 'entry' | 'whiteout' | 'implicit';
  info?: FileInfo;
  opaque: boolean;
  children?: Map<string, LayerNode>;
  /** How the node relates to the layers below (set by the analysis). */
  change?: ChangeMark;
  /** For a whiteout: the version of the path it removed, when there was one. */
  removed?: FileInfo;
}

export interface LayerTree {
  root: LayerNode;
  /** The nodes in dive's order (children first, names in byte order), computed once. */
  order: LayerNode[];
  /** dive's layer size: the sum of the tar header sizes of every member, repeats included. */
  size: number;
  entryCount: number;
}

/**
 * A node with every field present from the start: one compact shape for the
 * hundreds of thousands of them. An object literal rather than a class: V8
 * notices that nearly all objects of a literal survive and allocates them
 * straight in the old generation, sparing the young-generation collector
 * their copying (measured: a third less scavenge time).
 */
function newNode(name: string, path: string, kind: LayerNode['kind']): LayerNode {
  return { name, path, kind, info: undefined, opaque: false, children: undefined, change: undefined, removed: undefined };
}

function child(parent: LayerNode, name: string, path: string): LayerNode {
  parent.children ??= new Map();
  let node = parent.children.get(name);
  if (!node) {
    node = newNode(name, path, 'implicit');
    parent.children.set(name, node);
  }
  return node;
}

/** Builds a layer's tree from its paths. Entries come grouped by directory, so the last directory is kept at hand. */
class TreeBuilder {
  readonly root: LayerNode = newNode('', '', 'implicit');
  private lastDirectory: { path: string; node: LayerNode } = { path: '', node: this.root };

  /** The node at `path`, created (with its parents) as implicit if missing. */
  nodeAt(path: string): LayerNode {
    const slash = path.lastIndexOf('/');
    return child(this.parentOf(path, slash), slash < 0 ? path : path.slice(slash + 1), path);
  }

  /** The whiteout node of `path`, named as dive names it. */
  whiteoutAt(path: string): LayerNode {
    const slash = path.lastIndexOf('/');
    return child(this.parentOf(path, slash), WHITEOUT_PREFIX + path.slice(slash + 1), path);
  }

  private parentOf(path: string, slash: number): LayerNode {
    if (slash < 0) return this.root;
    const last = this.lastDirectory;
    // Compared in place: slicing the parent's path off every entry's path would cost a string each.
    if (last.path.length === slash && path.startsWith(last.path)) return last.node;
    return this.directory(path.slice(0, slash));
  }

  private directory(path: string): LayerNode {
    let node = this.root;
    let at = 0;
    while (at < path.length) {
      const slash = path.indexOf('/', at);
      const end = slash < 0 ? path.length : slash;
      const name = path.slice(at, end);
      node = node.children?.get(name) ?? child(node, name, end === path.length ? path : path.slice(0, end));
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
  readonly tree = new TreeBuilder();
  size = 0;
  entryCount = 0;
  private readonly hasher = new ContentHasher();
  // The file whose bytes are being hashed: its attributes are recorded once they are.
  private fileNode: LayerNode | undefined;
  private fileEntry: EntryHeader | undefined;

  change(change: LayerChange): void {
    this.entryCount++;
    if (change.kind === 'entry') {
      const entry = change.entry;
      this.size += entry.size;
      const node = this.tree.nodeAt(entry.path);
      node.kind = 'entry';
      if (entry.type === 'file') {
        this.fileNode = node;
        this.fileEntry = entry;
        this.hasher.start(entry.size, entry.sparse);
      } else {
        node.info = fileInfoOf(entry);
      }
    } else if (change.kind === 'whiteout') {
      this.tree.whiteoutAt(change.path).kind = 'whiteout';
    } else {
      (change.path === '' ? this.tree.root : this.tree.nodeAt(change.path)).opaque = true;
    }
  }

  content(piece: Buffer): void {
    this.hasher.update(piece);
  }

  contentEnd(): void {
    this.fileNode!.info = fileInfoOf(this.fileEntry!, this.hasher.digest());
  }
}

/** Reads a layer blob once into its tree, hashing file contents on the way. */
export async function readLayerTree(blob: Readable): Promise<LayerTree> {
  const reader = new LayerTreeReader();
  await scanLayer(blob, reader);
  const { tree, size, entryCount } = reader;
  return { root: tree.root, order: childFirst(tree.root), size, entryCount };
}

/** Byte-wise name order, as Go's sort.Strings orders dive's tree. */
function sortedChildren(node: { children?: Map<string, LayerNode> }): LayerNode[] {
  if (!node.children) return [];
  return [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** dive's traversal: depth first, children (by name) before their parent, the root never visited. Iterative: a path may be thousands of levels deep. */
function childFirst(root: LayerNode): LayerNode[] {
  const order: LayerNode[] = [];
  const stack: { node: LayerNode; children: LayerNode[]; next: number }[] = [{ node: root, children: sortedChildren(root), next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.children.length) {
      const node = top.children[top.next++]!;
      if (node.children) stack.push({ node, children: sortedChildren(node), next: 0 });
      else order.push(node);
    } else {
      stack.pop();
      if (stack.length > 0) order.push(top.node);
    }
  }
  return order;
}
