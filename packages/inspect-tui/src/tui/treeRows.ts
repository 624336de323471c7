import type { ChangeMark } from '../analysis/fileInfo.js';
import type { TreeNode } from './fileTree.js';

export type SortOrder = 'name' | 'size';

/** What of the tree is shown: dive's diff-type toggles, the regex filter, collapsed directories, the order. */
export interface TreeView {
  hidden: ReadonlySet<ChangeMark>;
  filter?: RegExp;
  collapsed: ReadonlySet<string>;
  sort: SortOrder;
}

/** One line of the tree pane. */
export interface TreeRow {
  node: TreeNode;
  /** The tree guides before the name (`│   ├── `). */
  guide: string;
  isDirectory: boolean;
  collapsed: boolean;
}

export const isDirectory = (node: TreeNode) => node.children !== undefined || node.info.type === 'directory';

const bySize = (a: TreeNode, b: TreeNode) => b.size - a.size || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

/**
 * The tree flattened to the lines it shows. A path shows when its mark is
 * not hidden and it matches the filter, or when anything below it shows (so
 * matches keep their parents). Computed once per view change, never per
 * cursor move: the pane renders only the slice that fits.
 */
export function treeRows(root: TreeNode, view: TreeView): TreeRow[] {
  const shown = shownChildren(root, view);
  const rows: TreeRow[] = [];
  const walk = (children: TreeNode[], prefix: string) => {
    const ordered = view.sort === 'size' ? [...children].sort(bySize) : children;
    ordered.forEach((node, i) => {
      const last = i === ordered.length - 1;
      const directory = isDirectory(node);
      const collapsed = directory && view.collapsed.has(node.path);
      rows.push({ node, guide: prefix + (last ? '└── ' : '├── '), isDirectory: directory, collapsed });
      const below = shown.get(node);
      if (below && !collapsed) walk(below, prefix + (last ? '    ' : '│   '));
    });
  };
  walk(shown.get(root) ?? [], '');
  return rows;
}

/** For each directory that shows, its children that show. */
function shownChildren(root: TreeNode, view: TreeView): Map<TreeNode, TreeNode[]> {
  const shown = new Map<TreeNode, TreeNode[]>();
  const selfShows = (node: TreeNode) => !view.hidden.has(node.change) && (!view.filter || view.filter.test(node.path));
  const stack: [TreeNode, boolean][] = [[root, false]];
  const shows = new Set<TreeNode>();
  while (stack.length > 0) {
    const [node, visited] = stack.pop()!;
    if (!node.children) {
      if (selfShows(node)) shows.add(node);
      continue;
    }
    if (!visited) {
      stack.push([node, true]);
      for (const child of node.children) stack.push([child, false]);
      continue;
    }
    const kept = node.children.filter((c) => shows.has(c));
    if (kept.length > 0) shown.set(node, kept);
    if (kept.length > 0 || selfShows(node)) shows.add(node);
  }
  return shown;
}

/** All directory paths of the tree (for collapse-all). */
export function directoryPaths(root: TreeNode): string[] {
  const paths: string[] = [];
  const stack = [...(root.children ?? [])];
  while (stack.length > 0) {
    const node = stack.pop()!;
    if (!node.children) continue;
    paths.push(node.path);
    stack.push(...node.children);
  }
  return paths;
}
