import { layerChanges, type ImageAnalysis, type LayerChangeRecord } from '../analysis/analyzeImage.js';
import { IMPLIED_DIRECTORY, type ChangeMark, type FileInfo } from '../analysis/fileInfo.js';

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
  const paths = mode === 'layer' ? layerPaths(analysis, layerIndex) : aggregatedPaths(analysis, layerIndex);
  return treeOf(paths);
}

function layerPaths(analysis: ImageAnalysis, layerIndex: number): Map<string, PathState> {
  const paths = new Map<string, PathState>();
  for (const record of layerChanges(analysis.layers[layerIndex]!)) {
    const known = paths.get(record.path);
    // A layer may hold both NAME and its whiteout (dive keeps both); what it writes is what shows.
    if (known && known.change !== 'removed') continue;
    paths.set(record.path, { change: record.change, info: record.info ?? IMPLIED_DIRECTORY, layerIndex });
  }
  return paths;
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
  const root: TreeNode = { name: '', path: '', change: 'unmodified', info: IMPLIED_DIRECTORY, layerIndex: 0, children: [], size: 0 };
  const byPath = new Map<string, TreeNode>([['', root]]);
  const nodeAt = (path: string): TreeNode => {
    let node = byPath.get(path);
    if (node) return node;
    const slash = path.lastIndexOf('/');
    const parent = nodeAt(slash < 0 ? '' : path.slice(0, slash));
    node = { name: path.slice(slash + 1), path, change: parent.change === 'removed' ? 'removed' : 'unmodified', info: IMPLIED_DIRECTORY, layerIndex: parent.layerIndex, size: 0 };
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
  sizeAndSort(root);
  return root;
}

function sizeAndSort(root: TreeNode): void {
  // Post-order without recursion: deep trees must not overflow the stack.
  const stack: [TreeNode, boolean][] = [[root, false]];
  while (stack.length > 0) {
    const [node, visited] = stack.pop()!;
    if (!node.children) {
      node.size = node.info.type === 'file' ? node.info.size : 0;
      continue;
    }
    if (!visited) {
      stack.push([node, true]);
      for (const child of node.children) stack.push([child, false]);
      continue;
    }
    node.children.sort(byName);
    node.size = node.children.reduce((sum, c) => sum + c.size, 0);
  }
}
