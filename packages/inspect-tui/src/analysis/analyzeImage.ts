import { awaitedElsewhere, digestHex, type Image, type Layer } from '@tsbuild/oci-layout';
import { TsdiveError } from '../tsdiveError.js';
import { NameTable } from './columns.js';
import { EfficiencyTally } from './efficiency.js';
import type { ChangeMark, FileInfo } from './fileInfo.js';
import { applyLayer, type RemovedBelow } from './layerStacking.js';
import { CHANGE_MARKS, readLayerTree, type LayerTree } from './layerTree.js';
import { StackedTree } from './stackedTree.js';

export type { RemovedBelow } from './layerStacking.js';

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
  /** dive's tree of this layer (whiteouts as `.wh.` children), each node with its change mark; `tree.order` is dive's order. */
  tree: LayerTree;
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
  const names = new NameTable();
  const tally = new EfficiencyTally();
  const stacked = new StackedTree(names);
  const layers: LayerAnalysis[] = [];
  let reading = image.layers.length > 0 ? readLayerOf(image.layers[0]!, 0, names) : undefined;
  for (const index of image.layers.keys()) {
    options.signal?.throwIfAborted();
    const current = reading!;
    // The next layer is read meanwhile: its bytes decompress on another thread, and its
    // chunks are parsed whenever this layer's are not ready yet.
    // Its error surfaces when the loop awaits it (or not at all, when this layer fails first).
    reading = index + 1 < image.layers.length ? awaitedElsewhere(readLayerOf(image.layers[index + 1]!, index + 1, names)) : undefined;
    const tree = await current;
    const removedBelow = applyLayer(tree, index, stacked, tally);
    tree.seal();
    const analysed: LayerAnalysis = { ...listings[index]!, sizeBytes: tree.size, tree, removedBelow };
    layers.push(analysed);
    options.onLayer?.(analysed);
  }
  const sizeBytes = layers.reduce((sum, l) => sum + l.sizeBytes, 0);
  const userSizeBytes = sizeBytes - (layers[0]?.sizeBytes ?? 0);
  const inefficient = tally.inefficientPaths((record) => stacked.pathOf(record));
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

async function readLayerOf(layer: Layer, index: number, names: NameTable) {
  try {
    return await readLayerTree(await layer.open(), names);
  } catch (e) {
    throw new TsdiveError('unreadable-layer', `layer ${index} (${layer.descriptor.digest}): ${(e as Error).message}`, { cause: e });
  }
}

/** The layer's changes as one flat list: its nodes in dive's order, then what it removes below them. */
export function layerChanges(layer: LayerAnalysis): LayerChangeRecord[] {
  const { tree } = layer;
  const records: LayerChangeRecord[] = [];
  for (const id of tree.order) {
    const record: LayerChangeRecord = { path: tree.targetPath(id), change: CHANGE_MARKS[tree.change[id]!]! };
    const info = tree.isWhiteout(id) ? tree.removed.get(id) : tree.info(id);
    if (info) record.info = info;
    if (tree.kind(id) === 'implicit') record.implicit = true;
    if (tree.isOpaque(id)) record.opaque = true;
    records.push(record);
  }
  for (const r of layer.removedBelow) records.push({ path: r.path, change: 'removed', info: r.info });
  return records;
}
