import { layerChanges, type ImageAnalysis, type LayerAnalysis, type LayerChangeRecord } from '../analysis/analyzeImage.js';
import { IMPLIED_DIRECTORY, type ChangeMark, type FileInfo } from '../analysis/fileInfo.js';
import { WHITEOUT_PREFIX, type LayerNode } from '../analysis/layerTree.js';

/** dive's two ways to look at a layer: what it changed, or the image up to it. */
export type TreeMode = 'layer' | 'aggregated';

/** One path of the tree the explorer shows. */
export interface TreeNode {
  name: string;
  /** Root-relative path ('' for the root). */
  path: string;
  change: ChangeMark;
  info: FileInfo;
  /** The layer whose version of the path this is (where its content can be read). */
  layerIndex: number;
  /** Sorted by name; absent for non-directories. */
  children?: TreeNode[];
  /** Bytes of regular files at and below the path. */
  size: number;
}

interface PathState {
  change: ChangeMark;
  info: FileInfo;
  layerIndex: number;
}

/**
 * The tree for one layer: in `layer` mode the paths that layer touches with
 * its own change marks; in `aggregated` mode the filesystem up to that layer
 * (plus what was removed since the first layer), marked against the first
 * layer as dive's "compare all" does.
 */
export function buildTree(analysis: ImageAnalysis, layerIndex: number, mode: TreeMode): TreeNode {
  if (mode === 'layer') return layerTree(analysis.layers[layerIndex]!);
  return treeOf(aggregatedPaths(analysis, layerIndex));
}

/**
 * A layer's own tree, converted node for node from the analysis' tree (no
 * path lookups: this runs on every layer selection), then what the layer
 * removes below its own entries added by path.
 */
function layerTree(layer: LayerAnalysis): TreeNode {
  const root = newNode('', '', 'unmodified', IMPLIED_DIRECTORY, layer.index);
  root.children = [];
  const directories = new Map<string, TreeNode>([['', root]]);
  const parentsFirst: TreeNode[] = [root];
  const stack: [LayerNode, TreeNode][] = [[layer.tree, root]];
  while (stack.length > 0) {
    const [source, target] = stack.pop()!;
    if (!source.children) continue;
    const written = new Set<string>();
    for (const child of source.children.values()) if (child.kind !== 'whiteout') written.add(child.name);
    for (const child of source.children.values()) {
      const whiteout = child.kind === 'whiteout';
      const name = whiteout ? child.name.slice(WHITEOUT_PREFIX.length) : child.name;
      // A layer may hold both NAME and its whiteout (dive keeps both); what it writes is what shows.
      if (whiteout && written.has(name)) continue;
      const info = (whiteout ? child.removed : child.info) ?? IMPLIED_DIRECTORY;
      const node = newNode(name, child.path, child.change!, info, layer.index);
      target.children!.push(node);
      if (child.children && child.children.size > 0) {
        node.children = [];
        directories.set(node.path, node);
        parentsFirst.push(node);
        stack.push([child, node]);
      }
    }
  }
  // Removals are added by path; a directory's names are indexed the first time one is looked up in it.
  const names = new Map<TreeNode, Map<string, TreeNode>>();
  const childNamed = (parent: TreeNode, name: string, make: () => TreeNode): TreeNode => {
    let index = names.get(parent);
    if (!index) names.set(parent, (index = new Map((parent.children ??= []).map((c) => [c.name, c]))));
    let node = index.get(name);
    if (!node) {
      node = make();
      parent.children!.push(node);
      index.set(name, node);
    }
    return node;
  };
  const nodeAt = (path: string): TreeNode => {
    const known = directories.get(path);
    if (known) return known;
    const slash = path.lastIndexOf('/');
    const parent = nodeAt(slash < 0 ? '' : path.slice(0, slash));
    const node = childNamed(parent, path.slice(slash + 1), () =>
      newNode(path.slice(slash + 1), path, parent.change === 'removed' ? 'removed' : 'unmodified', IMPLIED_DIRECTORY, layer.index),
    );
    if (!node.children) {
      node.children = [];
      parentsFirst.push(node);
    }
    directories.set(path, node);
    return node;
  };
  for (const removed of layer.removedBelow) {
    const slash = removed.path.lastIndexOf('/');
    const name = removed.path.slice(slash + 1);
    const node = childNamed(nodeAt(slash < 0 ? '' : removed.path.slice(0, slash)), name, () => newNode(name, removed.path, 'removed', removed.info, layer.index));
    node.change = 'removed';
    node.info = removed.info;
  }
  sizeAndSort(parentsFirst);
  return root;
}

function newNode(name: string, path: string, change: ChangeMark, info: FileInfo, layerIndex: number): TreeNode {
  return { name, path, change, info, layerIndex, size: 0 };
}

function aggregatedPaths(analysis: ImageAnalysis, upTo: number): Map<string, PathState> {
  const paths = new Map<string, PathState>();
  for (const layer of analysis.layers.slice(0, upTo + 1)) {
    for (const record of layerChanges(layer)) applyAggregated(paths, record, layer.index);
  }
  return paths;
}

/** Folds one layer's record into the running view; marks compare with the first layer. */
function applyAggregated(paths: Map<string, PathState>, record: LayerChangeRecord, layerIndex: number): void {
  const before = paths.get(record.path);
  if (record.change === 'removed') {
    if (!before || before.change === 'removed') return;
    if (before.change === 'added') paths.delete(record.path);
    else paths.set(record.path, { change: 'removed', info: before.info, layerIndex: before.layerIndex });
    return;
  }
  if (record.implicit && before && before.change !== 'removed') return;
  const info = record.info ?? IMPLIED_DIRECTORY;
  let change: ChangeMark;
  if (layerIndex === 0) change = 'unmodified';
  else if (!before) change = 'added';
  else if (before.change === 'added') change = 'added';
  else if (before.change === 'removed' || before.change === 'modified') change = 'modified';
  else change = record.change === 'unmodified' ? 'unmodified' : 'modified';
  paths.set(record.path, { change, info, layerIndex });
}

const byName = (a: TreeNode, b: TreeNode) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

function treeOf(paths: Map<string, PathState>): TreeNode {
  const root = newNode('', '', 'unmodified', IMPLIED_DIRECTORY, 0);
  root.children = [];
  const byPath = new Map<string, TreeNode>([['', root]]);
  const nodeAt = (path: string): TreeNode => {
    let node = byPath.get(path);
    if (node) return node;
    const slash = path.lastIndexOf('/');
    const parent = nodeAt(slash < 0 ? '' : path.slice(0, slash));
    node = newNode(path.slice(slash + 1), path, parent.change === 'removed' ? 'removed' : 'unmodified', IMPLIED_DIRECTORY, parent.layerIndex);
    (parent.children ??= []).push(node);
    byPath.set(path, node);
    return node;
  };
  for (const [path, state] of paths) {
    const node = nodeAt(path);
    node.change = state.change;
    node.info = state.info;
    node.layerIndex = state.layerIndex;
  }
  // Map order is creation order, and a parent is always created before its children.
  sizeAndSort(byPath.values());
  return root;
}

/** Sorts every directory's children and sets sizes bottom-up; `directories` lists each parent before its children. */
function sizeAndSort(directories: Iterable<TreeNode>): void {
  const parentsFirst = [...directories];
  for (let i = parentsFirst.length - 1; i >= 0; i--) {
    const node = parentsFirst[i]!;
    if (!node.children) continue;
    node.children.sort(byName);
    let size = 0;
    for (const child of node.children) {
      if (!child.children) child.size = child.info.type === 'file' ? child.info.size : 0;
      size += child.size;
    }
    node.size = size;
  }
}
