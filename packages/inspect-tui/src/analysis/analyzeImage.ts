import { awaitedElsewhere, digestHex, type Image, type Layer } from '@tsbuild/oci-layout';
import { TsdiveError } from '../tsdiveError.js';
import { EfficiencyTally } from './efficiency.js';
import { sameFile, type ChangeMark, type FileInfo } from './fileInfo.js';
import { readLayerTree, type LayerNode } from './layerTree.js';
import { descendants, diveRemovedSize, StackedTree, type StackedNode } from './stackedTree.js';

/** A lower-layer path a layer removes without naming it (under a whited-out or opaque directory, or a directory replaced by a file). */
export interface RemovedBelow {
  path: string;
  info: FileInfo;
}

/** A path a layer touches, with how it relates to the layers below (a flat view of `LayerAnalysis`). */
export interface LayerChangeRecord {
  /** Root-relative path (no leading `/`). */
  path: string;
  change: ChangeMark;
  /** The layer's version; for removals, the version removed (absent when there was none). */
  info?: FileInfo;
  /** A parent the tar implied without an entry of its own. */
  implicit?: boolean;
  /** The directory carries an opaque marker: nothing of the layers below survives under it. */
  opaque?: boolean;
}

export interface LayerAnalysis {
  index: number;
  /** dive's layer id (the archive directory of a docker-save layer; otherwise the blob digest's hex). */
  id: string;
  digest: string;
  diffId: string;
  /** dive's layer size: the sum of the layer's tar header sizes. */
  sizeBytes: number;
  /** The history command that made the layer, without `/bin/sh -c ` ("(missing)" when history has none). */
  command: string;
  /** dive's tree of this layer (whiteouts as `.wh.` children), each node with its change mark. */
  tree: LayerNode;
  /** The tree's nodes in dive's order: children first, names in byte order. */
  nodes: LayerNode[];
  /** Lower paths the layer removes without naming them. */
  removedBelow: RemovedBelow[];
}

/** An inefficient path (dive's row: path, count, cumulative size) and which layers wrote or removed it, with their commands. */
export interface WastedPath {
  /** Absolute, as dive prints it. */
  path: string;
  count: number;
  sizeBytes: number;
  layers: { index: number; command: string; action: 'wrote' | 'removed'; sizeBytes: number }[];
}

export interface ImageAnalysis {
  layers: LayerAnalysis[];
  /** Sum of all layer sizes. */
  sizeBytes: number;
  /** Sum of the layer sizes after the first (the base layer is not the user's). */
  userSizeBytes: number;
  efficiencyScore: number;
  wastedBytes: number;
  /** wastedBytes / userSizeBytes (NaN or Infinity when there are no user bytes, as in dive). */
  userWastedPercent: number;
  /** Largest first. */
  inefficientFiles: WastedPath[];
}

export interface AnalyzeOptions {
  /** Layer ids to report (dive uses the docker-save directory names); defaults to blob digest hex. */
  layerIds?: string[];
  /** Told of each layer as soon as it is analysed, in order (the image's figures need them all). */
  onLayer?: (layer: LayerAnalysis) => void;
  /** Stops the analysis between layers (it then rejects with the signal's reason). */
  signal?: AbortSignal;
}

/** What is known of a layer before it is read: everything but its size and contents. */
export type LayerListing = Pick<LayerAnalysis, 'index' | 'id' | 'digest' | 'diffId' | 'command'>;

const SHELL_PREFIX = '/bin/sh -c ';

/** Matches history entries that made a layer to the layers, in order (dive: image/docker/image_archive.go). */
export function layerCommands(image: Image): string[] {
  const history = (image.config.history ?? []).filter((h) => !h.empty_layer);
  return image.layers.map((_, i) => {
    if (history[i] === undefined) return '(missing)';
    const createdBy = history[i].created_by ?? '';
    return createdBy.startsWith(SHELL_PREFIX) ? createdBy.slice(SHELL_PREFIX.length) : createdBy;
  });
}

/** The image's layers as its manifest and config describe them, before any is read. */
export function layerListings(image: Image, options: Pick<AnalyzeOptions, 'layerIds'> = {}): LayerListing[] {
  const commands = layerCommands(image);
  return image.layers.map((layer, index) => ({
    index,
    id: options.layerIds?.[index] ?? digestHex(layer.descriptor.digest),
    digest: layer.descriptor.digest,
    diffId: layer.diffId,
    command: commands[index]!,
  }));
}

/**
 * Streams every layer once and computes per-layer trees, change marks and
 * dive's metrics. One filesystem tree is updated in place from layer to
 * layer, so memory follows the number of paths and time the number of
 * entries (plus what whiteouts remove), never layers x paths.
 */
export async function analyzeImage(image: Image, options: AnalyzeOptions = {}): Promise<ImageAnalysis> {
  const listings = layerListings(image, options);
  const tally = new EfficiencyTally();
  const stacked = new StackedTree((path) => tally.add(path));
  const layers: LayerAnalysis[] = [];
  let reading = image.layers.length > 0 ? readLayerOf(image.layers[0]!, 0) : undefined;
  for (const index of image.layers.keys()) {
    options.signal?.throwIfAborted();
    const current = reading!;
    // The next layer is read meanwhile: its bytes decompress on another thread, and its
    // chunks are parsed whenever this layer's are not ready yet.
    // Its error surfaces when the loop awaits it (or not at all, when this layer fails first).
    reading = index + 1 < image.layers.length ? awaitedElsewhere(readLayerOf(image.layers[index + 1]!, index + 1)) : undefined;
    const { root, order, size } = await current;
    const counting = countedLeaves(root, order, index, stacked);
    const removedBelow = markChanges(root, order, stacked);
    stackLayer(root, order, stacked, { counting, layerIndex: index, stacked, tally });
    const analysed: LayerAnalysis = { ...listings[index]!, sizeBytes: size, tree: root, nodes: order, removedBelow };
    layers.push(analysed);
    options.onLayer?.(analysed);
  }
  const sizeBytes = layers.reduce((sum, l) => sum + l.sizeBytes, 0);
  const userSizeBytes = sizeBytes - (layers[0]?.sizeBytes ?? 0);
  const inefficient = tally.inefficientPaths();
  const wastedBytes = inefficient.reduce((sum, p) => sum + p.sizeBytes, 0);
  return {
    layers,
    sizeBytes,
    userSizeBytes,
    efficiencyScore: tally.score(),
    wastedBytes,
    userWastedPercent: wastedBytes / userSizeBytes,
    inefficientFiles: inefficient.map(({ occurrences, ...p }) => ({
      ...p,
      layers: occurrences.map((o) => ({ index: o.layerIndex, command: listings[o.layerIndex]!.command, action: o.action, sizeBytes: o.sizeBytes })),
    })),
  };
}

async function readLayerOf(layer: Layer, index: number) {
  try {
    return await readLayerTree(await layer.open());
  } catch (e) {
    throw new TsdiveError('unreadable-layer', `layer ${index} (${layer.descriptor.digest}): ${(e as Error).message}`, { cause: e });
  }
}

interface LeafCounting {
  /**
   * Position in the layer's order of the first leaf dive does not count:
   * the whiteout it could not size (it still gets a record), or the order's
   * length when it counts them all.
   */
  end: number;
  /** What each counted whiteout (by position) removes. */
  removedSizes: Map<number, number>;
}

const isLeaf = (node: LayerNode) => !node.children || node.children.size === 0;

/**
 * dive's per-layer visit: only leaves count; a whiteout counts what it
 * removes from the layers below (a directory's whole subtree, 0 for a file).
 * A whiteout of a path the layers below lack makes dive stop counting the
 * rest of that layer; that is reproduced so the figures match. For the first
 * layer dive looks whiteouts up in the layer itself. Sizes are taken here,
 * before the layer is stacked; the counting itself happens while stacking,
 * where each path's node (and so its record) is at hand.
 */
function countedLeaves(root: LayerNode, order: LayerNode[], layerIndex: number, stacked: StackedTree): LeafCounting {
  const removedSizes = new Map<number, number>();
  for (let k = 0; k < order.length; k++) {
    const node = order[k]!;
    if (node.kind !== 'whiteout' || !isLeaf(node)) continue;
    const removedSize = layerIndex === 0 ? sizeInOwnLayer(root, node.path) : sizeBelow(stacked.find(node.path));
    if (removedSize === undefined) return { end: k, removedSizes };
    removedSizes.set(k, removedSize);
  }
  return { end: order.length, removedSizes };
}

/** What counting a layer's leaves needs at hand. */
interface Counter {
  counting: LeafCounting;
  layerIndex: number;
  stacked: StackedTree;
  tally: EfficiencyTally;
}

/** Counts one node of the layer (by position in its order) for dive's efficiency, `at` being its path's node in the tree. */
function countLeaf(k: number, node: LayerNode, at: StackedNode | undefined, { counting, layerIndex, stacked, tally }: Counter): void {
  if (k > counting.end || !isLeaf(node)) return;
  const record = stacked.recordOf(node.path, at);
  if (k === counting.end) return;
  if (node.kind === 'whiteout') tally.record(record, layerIndex, 'removed', counting.removedSizes.get(k)!);
  else tally.record(record, layerIndex, 'wrote', node.kind === 'entry' ? node.info!.size : 0);
}

function sizeBelow(node: StackedNode | undefined): number | undefined {
  return node && diveRemovedSize(node);
}

/** The node at `relative` (a path below `dir`) in a layer's tree. */
function nodeBelow(dir: LayerNode, relative: string): LayerNode | undefined {
  let node: LayerNode | undefined = dir;
  for (const name of relative.split('/')) {
    node = node.children?.get(name);
    if (!node) return undefined;
  }
  return node;
}

function sizeInOwnLayer(root: LayerNode, path: string): number | undefined {
  const node = nodeBelow(root, path);
  if (!node) return undefined;
  if (node.kind !== 'entry' || node.info!.type !== 'directory') return 0;
  let total = 0;
  const stack: LayerNode[] = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    total += n.info?.size ?? 0;
    if (n.children) stack.push(...n.children.values());
  }
  return total;
}

/** Marks each node of the layer against the real filesystem below it (opaque markers honoured). */
function markChanges(root: LayerNode, order: LayerNode[], stacked: StackedTree): RemovedBelow[] {
  const removedBelow: RemovedBelow[] = [];
  const removeSubtree = (lower: StackedNode, path: string, keep?: LayerNode) => {
    for (const [p, n] of descendants(lower, path)) {
      if (n.hidden || (keep && writtenByLayer(keep, p.slice(path.length + 1)))) continue;
      removedBelow.push({ path: p, info: n.info });
    }
  };
  if (root.opaque) removeSubtree(stacked.root, '', root);
  for (const node of order) {
    const lower = stacked.findVisible(node.path, node.kind === 'whiteout' ? undefined : node.name);
    if (node.kind === 'whiteout') {
      node.change = 'removed';
      if (lower) {
        node.removed = lower.info;
        removeSubtree(lower, node.path);
      }
      continue;
    }
    if (node.kind === 'implicit') node.change = lower ? 'unmodified' : 'added';
    else node.change = !lower ? 'added' : sameFile(lower.info, node.info!) ? 'unmodified' : 'modified';
    if (node.opaque) {
      if (lower) removeSubtree(lower, node.path, node);
    } else if (lower && node.kind === 'entry' && node.info!.type !== 'directory') {
      removeSubtree(lower, node.path);
    }
  }
  return removedBelow;
}

/** The layer's changes as one flat list: its nodes in dive's order, then what it removes below them. */
export function layerChanges(layer: LayerAnalysis): LayerChangeRecord[] {
  const records: LayerChangeRecord[] = layer.nodes.map((node) => {
    const record: LayerChangeRecord = { path: node.path, change: node.change! };
    const info = node.kind === 'whiteout' ? node.removed : node.info;
    if (info) record.info = info;
    if (node.kind === 'implicit') record.implicit = true;
    if (node.opaque) record.opaque = true;
    return record;
  });
  for (const r of layer.removedBelow) records.push({ path: r.path, change: 'removed', info: r.info });
  return records;
}

/** Whether the layer has an entry (not a whiteout) at `relative` below `dir`. */
function writtenByLayer(dir: LayerNode, relative: string): boolean {
  const node = nodeBelow(dir, relative);
  return node !== undefined && node.kind !== 'whiteout';
}

/**
 * Applies the layer to the filesystem: opaque directories first hide what was
 * below them, then whiteouts and entries apply in dive's order (children
 * first, by name), which is also the order dive stacks layers in. Each node
 * is counted for efficiency with its path's node in the tree as it stands:
 * before a whiteout removes it, after an entry is put.
 */
function stackLayer(root: LayerNode, order: LayerNode[], stacked: StackedTree, counter: Counter): void {
  const hideBelow = (node: StackedNode | undefined) => {
    if (!node?.children) return;
    for (const [, d] of descendants(node, '')) d.hidden = true;
  };
  if (root.opaque) hideBelow(stacked.root);
  for (const node of order) if (node.opaque) hideBelow(stacked.find(node.path, node.name));
  for (let k = 0; k < order.length; k++) {
    const node = order[k]!;
    if (node.kind === 'whiteout') {
      countLeaf(k, node, stacked.find(node.path), counter);
      stacked.remove(node.path);
    } else if (node.kind === 'implicit') {
      countLeaf(k, node, stacked.put(node.path, undefined, node.name), counter);
    } else {
      const put = stacked.put(node.path, node.info!, node.name);
      countLeaf(k, node, put, counter);
      if (node.info!.type !== 'directory') hideBelow(put);
    }
  }
}
