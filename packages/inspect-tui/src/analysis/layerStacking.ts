import type { EfficiencyTally } from './efficiency.js';
import type { FileInfo } from './fileInfo.js';
import { MARK_CODE, ROOT, type LayerTree } from './layerTree.js';
import { STACKED_ROOT, type StackedTree } from './stackedTree.js';

/** A lower-layer path a layer removes without naming it (under a whited-out or opaque directory, or a directory replaced by a file). */
export interface RemovedBelow {
  path: string;
  info: FileInfo;
}

/**
 * Finds the stacked-tree node of a layer's nodes. A layer's nodes come
 * directory by directory, so the stacked node of the last parent looked up
 * is kept at hand; a removal forgets it (the directory may be gone).
 */
class LowerNodes {
  private cachedLayer = -1;
  private cachedStacked = -1;

  constructor(
    private readonly tree: LayerTree,
    private readonly stacked: StackedTree,
  ) {}

  /** The node of what the layer's node `id` is about, as dive sees the tree (hidden nodes included), or -1. */
  find(id: number): number {
    const parent = this.directory(this.tree.parent[id]!);
    return parent < 0 ? -1 : this.stacked.child(parent, this.tree.targetName(id));
  }

  /** The node, if it exists in the real filesystem, or -1. */
  findVisible(id: number): number {
    const parent = this.directory(this.tree.parent[id]!);
    return parent < 0 ? -1 : this.stacked.visibleChild(parent, this.tree.targetName(id));
  }

  /** The node of an entry or implied parent, made (with its parents) if missing. */
  make(id: number): number {
    const made = this.stacked.childOrNew(this.madeDirectory(this.tree.parent[id]!), this.tree.name[id]!);
    // A directory looked up (and missed) for a whiteout below it, made only now.
    if (this.cachedLayer === id) this.cachedStacked = made;
    return made;
  }

  /** A node to hold the record of a path not in the tree (a whiteout's target), made detached if missing. */
  detached(id: number): number {
    const parents: number[] = [];
    for (let up = this.tree.parent[id]!; up !== ROOT; up = this.tree.parent[up]!) parents.push(up);
    let at = STACKED_ROOT;
    for (let i = parents.length - 1; i >= 0; i--) at = this.stacked.detachedChild(at, this.tree.name[parents[i]!]!);
    return this.stacked.detachedChild(at, this.tree.targetName(id));
  }

  forget(): void {
    this.cachedLayer = -1;
  }

  // Loops, not recursion, here and below: a path may be thousands of levels deep.
  private directory(layerId: number): number {
    if (layerId === this.cachedLayer) return this.cachedStacked;
    if (layerId === ROOT) return STACKED_ROOT;
    const { parent, name } = this.tree;
    const chain: number[] = [];
    let at = layerId;
    let found = STACKED_ROOT;
    for (; at !== ROOT; at = parent[at]!) {
      if (at === this.cachedLayer) {
        found = this.cachedStacked;
        break;
      }
      chain.push(at);
    }
    for (let i = chain.length - 1; i >= 0 && found >= 0; i--) found = this.stacked.child(found, name[chain[i]!]!);
    return this.cache(layerId, found);
  }

  private madeDirectory(layerId: number): number {
    const found = this.directory(layerId);
    if (found >= 0) return found;
    const { parent, name } = this.tree;
    const chain: number[] = [];
    for (let at = layerId; at !== ROOT; at = parent[at]!) chain.push(at);
    let made = STACKED_ROOT;
    for (let i = chain.length - 1; i >= 0; i--) made = this.stacked.childOrNew(made, name[chain[i]!]!);
    return this.cache(layerId, made);
  }

  private cache(layerId: number, stackedId: number): number {
    this.cachedLayer = layerId;
    this.cachedStacked = stackedId;
    return stackedId;
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

/**
 * dive's per-layer visit: only leaves count; a whiteout counts what it
 * removes from the layers below (a directory's whole subtree, 0 for a file).
 * A whiteout of a path the layers below lack makes dive stop counting the
 * rest of that layer; that is reproduced so the figures match. For the first
 * layer dive looks whiteouts up in the layer itself. Sizes are taken here,
 * before the layer is stacked; the counting itself happens while stacking,
 * where each path's node (and so its record) is at hand.
 */
function countedLeaves(tree: LayerTree, layerIndex: number, stacked: StackedTree): LeafCounting {
  const removedSizes = new Map<number, number>();
  const lower = new LowerNodes(tree, stacked);
  const { order } = tree;
  for (let k = 0; k < order.length; k++) {
    const id = order[k]!;
    if (!tree.isWhiteout(id) || !tree.isLeaf(id)) continue;
    let removedSize: number | undefined;
    if (layerIndex === 0) {
      removedSize = sizeInOwnLayer(tree, id);
    } else {
      const below = lower.find(id);
      removedSize = below < 0 ? undefined : stacked.diveRemovedSize(below);
    }
    if (removedSize === undefined) return { end: k, removedSizes };
    removedSizes.set(k, removedSize);
  }
  return { end: order.length, removedSizes };
}

/** What a whiteout of the first layer removes from that layer itself, or undefined when it has no such path. */
function sizeInOwnLayer(tree: LayerTree, whiteout: number): number | undefined {
  const node = tree.child(tree.parent[whiteout]!, tree.targetName(whiteout));
  if (node < 0) return undefined;
  if (!tree.isEntry(node) || !tree.files.isDirectory(node)) return 0;
  let total = 0;
  const stack = [node];
  while (stack.length > 0) {
    const n = stack.pop()!;
    if (tree.isEntry(n)) total += tree.files.sizeOf(n);
    stack.push(...tree.children(n));
  }
  return total;
}

/** Marks each node of the layer against the real filesystem below it (opaque markers honoured). */
function markChanges(tree: LayerTree, stacked: StackedTree): RemovedBelow[] {
  const removedBelow: RemovedBelow[] = [];
  // `keep`: the layer's node at `lower`'s place, whose own entries below are not removed (-1: none).
  const removeSubtree = (lower: number, path: string, keep: number) => {
    const stack: [number, string, number][] = [[lower, path, keep]];
    while (stack.length > 0) {
      const [s, p, k] = stack.pop()!;
      stacked.eachChild(s, (c) => {
        const name = stacked.name[c]!;
        const childPath = p === '' ? tree.names.name(name) : `${p}/${tree.names.name(name)}`;
        const kept = k < 0 ? -1 : tree.child(k, name);
        if (!stacked.isHidden(c) && (kept < 0 || tree.isWhiteout(kept))) removedBelow.push({ path: childPath, info: stacked.info(c) });
        stack.push([c, childPath, kept]);
      });
    }
  };
  if (tree.isOpaque(ROOT)) removeSubtree(STACKED_ROOT, '', ROOT);
  const lowerNodes = new LowerNodes(tree, stacked);
  for (const id of tree.order) {
    const lower = lowerNodes.findVisible(id);
    if (tree.isWhiteout(id)) {
      tree.change[id] = MARK_CODE.removed;
      if (lower >= 0) {
        tree.removed.set(id, stacked.info(lower));
        removeSubtree(lower, tree.targetPath(id), -1);
      }
      continue;
    }
    if (!tree.isEntry(id)) tree.change[id] = lower >= 0 ? MARK_CODE.unmodified : MARK_CODE.added;
    else tree.change[id] = lower < 0 ? MARK_CODE.added : stacked.same(lower, tree.files, id) ? MARK_CODE.unmodified : MARK_CODE.modified;
    if (tree.isOpaque(id)) {
      if (lower >= 0) removeSubtree(lower, tree.pathOf(id), id);
    } else if (lower >= 0 && tree.isEntry(id) && !tree.files.isDirectory(id)) {
      removeSubtree(lower, tree.pathOf(id), -1);
    }
  }
  return removedBelow;
}

/** What counting a layer's leaves needs at hand. */
interface Counter {
  counting: LeafCounting;
  layerIndex: number;
  lower: LowerNodes;
  tally: EfficiencyTally;
}

/** Counts one node of the layer (by position in its order) for dive's efficiency, `at` being its path's stacked node (-1: none). */
function countLeaf(tree: LayerTree, k: number, id: number, at: number, { counting, layerIndex, lower, tally }: Counter): void {
  if (k > counting.end || !tree.isLeaf(id)) return;
  const record = at >= 0 ? at : lower.detached(id);
  if (!tally.has(record)) tally.add(record);
  if (k === counting.end) return;
  if (tree.isWhiteout(id)) tally.record(record, layerIndex, 'removed', counting.removedSizes.get(k)!);
  else tally.record(record, layerIndex, 'wrote', tree.isEntry(id) ? tree.files.sizeOf(id) : 0);
}

/**
 * Applies the layer to the filesystem: opaque directories first hide what was
 * below them, then whiteouts and entries apply in dive's order (children
 * first, by name), which is also the order dive stacks layers in. Each node
 * is counted for efficiency with its path's node in the tree as it stands:
 * before a whiteout removes it, after an entry is put.
 */
function stackLayer(tree: LayerTree, stacked: StackedTree, counter: Counter): void {
  const { lower } = counter;
  const hideBelow = (node: number) => {
    if (node < 0) return;
    stacked.eachDescendant(node, (d) => stacked.hide(d));
  };
  if (tree.isOpaque(ROOT)) hideBelow(STACKED_ROOT);
  for (const id of tree.order) if (tree.isOpaque(id)) hideBelow(lower.find(id));
  const { order } = tree;
  for (let k = 0; k < order.length; k++) {
    const id = order[k]!;
    if (tree.isWhiteout(id)) {
      const at = lower.find(id);
      countLeaf(tree, k, id, at, counter);
      if (at >= 0) stacked.remove(at);
      lower.forget();
    } else if (!tree.isEntry(id)) {
      const at = lower.make(id);
      stacked.putImplied(at);
      countLeaf(tree, k, id, at, counter);
    } else {
      const at = lower.make(id);
      stacked.put(at, counter.layerIndex, id);
      countLeaf(tree, k, id, at, counter);
      if (!tree.files.isDirectory(id)) hideBelow(at);
    }
  }
}

/**
 * Marks a layer's nodes against the layers below, counts them for dive's
 * efficiency and applies them to the stacked tree; returns what the layer
 * removes below without naming it.
 */
export function applyLayer(tree: LayerTree, layerIndex: number, stacked: StackedTree, tally: EfficiencyTally): RemovedBelow[] {
  stacked.addLayer(layerIndex, tree.files);
  const counting = countedLeaves(tree, layerIndex, stacked);
  const removedBelow = markChanges(tree, stacked);
  stackLayer(tree, stacked, { counting, layerIndex, lower: new LowerNodes(tree, stacked), tally });
  return removedBelow;
}
