import type { Readable } from 'node:stream';
import { readLayer } from '@tsbuild/oci-layout';
import { fileInfoOf, type ChangeMark, type FileInfo } from './fileInfo.js';

export const WHITEOUT_PREFIX = '.wh.';

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

function child(parent: LayerNode, name: string, path: string): LayerNode {
  parent.children ??= new Map();
  let node = parent.children.get(name);
  if (!node) {
    node = { name, path, kind: 'implicit', opaque: false };
    parent.children.set(name, node);
  }
  return node;
}

function nodeAt(root: LayerNode, path: string): LayerNode {
  let node = root;
  let at = 0;
  while (at < path.length) {
    const slash = path.indexOf('/', at);
    const end = slash < 0 ? path.length : slash;
    node = child(node, path.slice(at, end), path.slice(0, end));
    at = end + 1;
  }
  return node;
}

/** Reads a layer blob once into its tree, hashing file contents on the way. */
export async function readLayerTree(blob: Readable): Promise<LayerTree> {
  const root: LayerNode = { name: '', path: '', kind: 'implicit', opaque: false };
  let size = 0;
  let entryCount = 0;
  for await (const change of readLayer(blob)) {
    entryCount++;
    if (change.kind === 'entry') {
      const info = await fileInfoOf(change.entry);
      size += change.entry.size;
      const node = nodeAt(root, change.entry.path);
      node.kind = 'entry';
      node.info = info;
    } else if (change.kind === 'whiteout') {
      const slash = change.path.lastIndexOf('/');
      const parent = slash < 0 ? root : nodeAt(root, change.path.slice(0, slash));
      const node = child(parent, WHITEOUT_PREFIX + change.path.slice(slash + 1), change.path);
      node.kind = 'whiteout';
    } else if (change.path === '') {
      root.opaque = true;
    } else {
      nodeAt(root, change.path).opaque = true;
    }
  }
  return { root, order: [...childFirst(root)], size, entryCount };
}

/** Byte-wise name order, as Go's sort.Strings orders dive's tree. */
export function sortedChildren(node: { children?: Map<string, LayerNode> }): LayerNode[] {
  if (!node.children) return [];
  return [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}

/** dive's traversal: depth first, children (by name) before their parent, the root never visited. */
export function* childFirst(root: LayerNode): Generator<LayerNode> {
  const stack: { node?: LayerNode; children: LayerNode[]; next: number }[] = [{ children: sortedChildren(root), next: 0 }];
  while (stack.length > 0) {
    const top = stack[stack.length - 1]!;
    if (top.next < top.children.length) {
      const node = top.children[top.next++]!;
      stack.push({ node, children: sortedChildren(node), next: 0 });
    } else {
      stack.pop();
      if (top.node) yield top.node;
    }
  }
}
