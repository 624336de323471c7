import { LAYER_DETAILS_HEIGHT } from './components/DetailsPanes.js';
import { TREE_PANE_CHROME } from './components/FileTreePane.js';
import { LAYERS_PANE_CHROME } from './components/LayersPane.js';
import { PAGER_CHROME } from './components/Pager.js';
import { moveWithin, type ExplorerState, type ListPosition } from './state.js';
import type { TerminalSize } from './terminalSize.js';
import type { TreeRow, TreeView } from './treeView.js';

/** The tree the state shows, and its filter compiled (or why it does not compile). */
export interface ShownTree {
  tree: TreeView | undefined;
  filter: { regex?: RegExp; error?: string };
}

export interface Layout {
  mainHeight: number;
  leftWidth: number;
  rightWidth: number;
  layersHeight: number;
  imageHeight: number;
  layerRoom: number;
  treeRoom: number;
  pagerRoom: number;
  filterShown: boolean;
  attributes: boolean;
}

/** Narrower tree panes show names only unless ctrl+b asks for attributes. */
const ATTRIBUTES_MIN_WIDTH = 50;

function layoutFor(state: ExplorerState, pagerOpen: boolean, { columns, rows }: TerminalSize, layerCount: number): Layout {
  const filterShown = !pagerOpen && !state.help && (state.filterOpen || state.filterText !== '');
  const mainHeight = Math.max(1, rows - 1 - (filterShown ? 1 : 0));
  const leftWidth = Math.floor(columns / 2);
  const layersHeight = Math.min(layerCount + LAYERS_PANE_CHROME, Math.max(LAYERS_PANE_CHROME + 3, Math.floor(mainHeight * 0.4)));
  return {
    mainHeight,
    leftWidth,
    rightWidth: columns - leftWidth - 1,
    layersHeight,
    imageHeight: Math.max(0, mainHeight - layersHeight - LAYER_DETAILS_HEIGHT),
    layerRoom: Math.max(1, layersHeight - LAYERS_PANE_CHROME),
    treeRoom: Math.max(1, mainHeight - TREE_PANE_CHROME),
    pagerRoom: Math.max(1, rows - 1 - PAGER_CHROME),
    filterShown,
    attributes: state.attributes ?? columns - leftWidth - 1 >= ATTRIBUTES_MIN_WIDTH,
  };
}

/** Positions live in the state; a resize or a shorter tree only clamps them. */
function clampPosition(position: ListPosition, count: number, height: number): ListPosition {
  return moveWithin(position, 0, count, height);
}

/** Everything a key or the screen needs, from one state. */
export interface Frame {
  state: ExplorerState;
  view: ShownTree;
  layout: Layout;
  layerPosition: ListPosition;
  treePosition: ListPosition;
  selectedRow: TreeRow | undefined;
}

export function frameOf(state: ExplorerState, view: ShownTree, pagerOpen: boolean, screen: TerminalSize, layerCount: number): Frame {
  const layout = layoutFor(state, pagerOpen, screen, layerCount);
  const layerPosition = clampPosition(state.layer, layerCount, layout.layerRoom);
  const treePosition = clampPosition(state.tree, view.tree?.count ?? 0, layout.treeRoom);
  return { state, view, layout, layerPosition, treePosition, selectedRow: view.tree?.row(treePosition.selected) };
}
