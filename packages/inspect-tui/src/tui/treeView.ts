import type { ChangeMark } from '../analysis/fileInfo.js';
import type { ImageTree, PathVersion, TreeMode } from './imageTree.js';

export type SortOrder = 'name' | 'size';

/** Which tree, and what of it shows: dive's diff-type toggles, the regex filter, collapsed directories, the order. */
export interface ViewOptions {
  layer: number;
  mode: TreeMode;
  hidden: ReadonlySet<ChangeMark>;
  filter?: RegExp;
  collapsed: ReadonlySet<string>;
  sort: SortOrder;
}

/** One path as a tree row shows it. */
export interface TreeEntry extends PathVersion {
  name: string;
  /** Root-relative path. */
  path: string;
  /** Bytes of regular files at and below the path, in this tree. */
  size: number;
}

/** One line of the tree pane. */
export interface TreeRow {
  node: TreeEntry;
  /** The tree guides before the name (`│   ├── `). */
  guide: string;
  isDirectory: boolean;
  collapsed: boolean;
}

/** The tree of one layer in one mode: which paths are in it, and their sizes. */
export interface TreeShape {
  /** 1 for each path in the tree, itself or as a parent of what is. */
  inTree: Uint8Array;
  /** Bytes of regular files at and below each path. */
  sizes: Float64Array;
}

/** One pass over the paths, children before parents (ids go down). */
export function treeShape(tree: ImageTree, layer: number, mode: TreeMode): TreeShape {
  const inTree = new Uint8Array(tree.size);
  const sizes = new Float64Array(tree.size);
  for (let id = tree.size - 1; id > 0; id--) {
    // A layer's own tree is mostly a small part of the image's: a bit says which.
    if (mode === 'layer' && !tree.inLayerTree(id, layer)) continue;
    const bytes = tree.ownBytes(id, layer, mode);
    if (bytes === undefined && mode === 'aggregated' && !inTree[id]) continue;
    const up = tree.parent(id);
    inTree[id] = 1;
    inTree[up] = 1;
    sizes[id]! += bytes ?? 0;
    sizes[up]! += sizes[id]!;
  }
  return { inTree, sizes };
}

/**
 * A tree of the image as the tree pane shows it: which paths are rows, in
 * order, found by passes over the image tree's flat arrays. Row objects are
 * made only for what is on screen (`rows(from, to)`), so a tree of any size
 * costs the same to draw and to scroll, and another layer costs a pass over
 * numbers, not a new tree.
 *
 * A path shows when it is in the layer's tree, its mark is not hidden and it
 * matches the filter, or when anything below it shows (so matches keep their
 * parents).
 */
export class TreeView {
  /** The ids of the rows, in order. */
  private readonly order: Int32Array;
  /** For each directory, its last child among the rows (for the `└──` guides). */
  private readonly lastRow: Int32Array;

  /** `shape`: of the same tree, layer and mode, from `treeShape`. */
  constructor(private readonly tree: ImageTree, private readonly options: ViewOptions, private readonly shape: TreeShape) {
    const { hidden, filter } = options;
    const shows = hidden.size > 0 || filter ? this.shownPaths() : shape.inTree;
    this.lastRow = new Int32Array(shape.inTree.length).fill(-1);
    this.order = this.ordered(shows);
  }

  get count(): number {
    return this.order.length;
  }

  /** Rows `from` up to `to` (as many as there are). */
  rows(from: number, to: number): TreeRow[] {
    const rows: TreeRow[] = [];
    for (let i = Math.max(0, from); i < Math.min(to, this.order.length); i++) rows.push(this.rowOf(this.order[i]!));
    return rows;
  }

  row(index: number): TreeRow | undefined {
    return index >= 0 && index < this.order.length ? this.rowOf(this.order[index]!) : undefined;
  }

  /** The paths of every directory of the tree (for collapse-all), whatever shows. */
  directoryPaths(): string[] {
    const { inTree } = this.shape;
    const paths: string[] = [];
    for (let id = 1; id < inTree.length; id++) if (inTree[id] && this.hasChildInTree(id)) paths.push(this.tree.path[id]!);
    return paths;
  }

  private hasChildInTree(id: number): boolean {
    return this.tree.childrenOf(id).some((child) => this.shape.inTree[child] === 1);
  }

  /** With toggles or a filter: 1 for each path that shows. */
  private shownPaths(): Uint8Array {
    const { tree } = this;
    const { inTree } = this.shape;
    const { filter } = this.options;
    const shows = new Uint8Array(inTree.length);
    const hiddenMark = this.hiddenMarks();
    // Children before parents: a path that shows makes its parent show.
    for (let id = inTree.length - 1; id > 0; id--) {
      if (!inTree[id]) continue;
      if (shows[id] || (!hiddenMark[id] && (!filter || filter.test(tree.path[id]!)))) {
        shows[id] = 1;
        shows[tree.parent(id)] = 1;
      }
    }
    return shows;
  }

  /** 1 for each path whose mark is hidden. Parents first (ids go up): an implied parent's mark follows its own parent's. */
  private hiddenMarks(): Uint8Array {
    const { tree } = this;
    const { inTree } = this.shape;
    const { layer, mode, hidden } = this.options;
    const hiddenMark = new Uint8Array(inTree.length);
    if (hidden.size === 0) return hiddenMark;
    const removed = new Uint8Array(inTree.length);
    for (let id = 1; id < inTree.length; id++) {
      if (!inTree[id]) continue;
      const change = tree.ownChange(id, layer, mode) ?? (removed[tree.parent(id)] ? 'removed' : 'unmodified');
      if (change === 'removed') removed[id] = 1;
      if (hidden.has(change)) hiddenMark[id] = 1;
    }
    return hiddenMark;
  }

  /** Depth first, by name, or largest first (then by name) with directories by what is below them. */
  private ordered(shows: Uint8Array): Int32Array {
    const { tree, lastRow } = this;
    const { sizes } = this.shape;
    const { collapsed, sort } = this.options;
    const order = new Int32Array(shows.length);
    let count = 0;
    const bySize = (a: number, b: number) => sizes[b]! - sizes[a]!;
    const visit = (dir: number) => {
      const children = tree.childrenOf(dir);
      // Stable: equal sizes keep name order.
      for (const child of sort === 'size' ? children.filter((c) => shows[c] === 1).sort(bySize) : children) {
        if (shows[child] !== 1) continue;
        order[count++] = child;
        lastRow[dir] = child;
        if (!(collapsed.size > 0 && collapsed.has(tree.path[child]!))) visit(child);
      }
    };
    visit(0);
    return order.slice(0, count);
  }

  private versionOf(id: number): PathVersion {
    const { layer, mode } = this.options;
    const up = this.tree.parent(id);
    return this.tree.version(id, layer, mode, () => (up > 0 ? this.versionOf(up) : undefined));
  }

  private rowOf(id: number): TreeRow {
    const { tree } = this;
    const version = this.versionOf(id);
    let guide = this.lastRow[tree.parent(id)] === id ? '└── ' : '├── ';
    for (let up = tree.parent(id); up > 0; up = tree.parent(up)) guide = (this.lastRow[tree.parent(up)] === up ? '    ' : '│   ') + guide;
    const isDirectory = version.info.type === 'directory' || this.hasChildInTree(id);
    return {
      node: { name: tree.name[id]!, path: tree.path[id]!, ...version, size: this.shape.sizes[id]! },
      guide,
      isDirectory,
      collapsed: isDirectory && this.options.collapsed.has(tree.path[id]!),
    };
  }
}
