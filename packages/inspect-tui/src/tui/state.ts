import type { ChangeMark } from '../analysis/fileInfo.js';
import type { TreeMode } from './imageTree.js';
import type { Pane } from './keys.js';
import type { SortOrder } from './treeView.js';

/** A selection in a list that scrolls: the selected index and the first index on screen. */
export interface ListPosition {
  selected: number;
  top: number;
}

export interface ExplorerState {
  pane: Pane;
  layer: ListPosition;
  tree: ListPosition;
  mode: TreeMode;
  hidden: ReadonlySet<ChangeMark>;
  collapsed: ReadonlySet<string>;
  sort: SortOrder;
  /** Whether the tree shows file attributes; unset: when the pane is wide enough. */
  attributes?: boolean;
  /** The filter as typed; `filterOpen` while it is being edited. */
  filterText: string;
  filterOpen: boolean;
  help: boolean;
  /** One-line feedback in the status bar (an extraction, an error), cleared by the next key. */
  message?: string;
}

export type Action =
  | { type: 'next-pane' }
  | { type: 'move'; pane: Pane; by: number; count: number; height: number }
  | { type: 'mode'; mode: TreeMode }
  | { type: 'toggle-mark'; mark: ChangeMark }
  | { type: 'toggle-collapse'; path: string }
  | { type: 'collapse-all'; paths: string[] }
  | { type: 'attributes'; shown: boolean }
  | { type: 'sort' }
  | { type: 'filter-open' }
  | { type: 'filter-text'; text: string }
  | { type: 'filter-accept' }
  | { type: 'filter-clear' }
  | { type: 'help'; show: boolean }
  | { type: 'message'; text?: string };

export const initialState: ExplorerState = {
  pane: 'layers',
  layer: { selected: 0, top: 0 },
  tree: { selected: 0, top: 0 },
  mode: 'layer',
  hidden: new Set(),
  collapsed: new Set(),
  sort: 'name',
  filterText: '',
  filterOpen: false,
  help: false,
};

/** Moves a selection by `by` within `count` items and scrolls so it stays among the `height` on screen. */
export function moveWithin(position: ListPosition, by: number, count: number, height: number): ListPosition {
  const selected = Math.max(0, Math.min(count - 1, position.selected + by));
  return { selected, top: scrollTop(position.top, selected, count, height) };
}

/** The first index on screen that keeps `selected` visible, moving as little as possible from `top`. */
function scrollTop(top: number, selected: number, count: number, height: number): number {
  if (height <= 0) return 0;
  let next = Math.min(top, selected);
  if (selected >= next + height) next = selected - height + 1;
  return Math.max(0, Math.min(next, Math.max(0, count - height)));
}

const START: ListPosition = { selected: 0, top: 0 };

export function explorerReducer(state: ExplorerState, action: Action): ExplorerState {
  switch (action.type) {
    case 'next-pane':
      return { ...state, pane: state.pane === 'layers' ? 'tree' : 'layers' };
    case 'move':
      if (action.pane === 'layers') {
        const layer = moveWithin(state.layer, action.by, action.count, action.height);
        // A different layer is a different tree: start at its top.
        return layer.selected === state.layer.selected ? { ...state, layer } : { ...state, layer, tree: START };
      }
      return { ...state, tree: moveWithin(state.tree, action.by, action.count, action.height) };
    case 'mode':
      return state.mode === action.mode ? state : { ...state, mode: action.mode, tree: START };
    case 'toggle-mark': {
      const hidden = new Set(state.hidden);
      if (!hidden.delete(action.mark)) hidden.add(action.mark);
      return { ...state, hidden, tree: START };
    }
    case 'toggle-collapse': {
      const collapsed = new Set(state.collapsed);
      if (!collapsed.delete(action.path)) collapsed.add(action.path);
      return { ...state, collapsed };
    }
    case 'collapse-all':
      return { ...state, collapsed: state.collapsed.size > 0 ? new Set() : new Set(action.paths), tree: START };
    case 'attributes':
      return { ...state, attributes: action.shown };
    case 'sort':
      return { ...state, sort: state.sort === 'name' ? 'size' : 'name', tree: START };
    case 'filter-open':
      return { ...state, filterOpen: true };
    case 'filter-text':
      return { ...state, filterText: action.text, tree: START };
    case 'filter-accept':
      return { ...state, filterOpen: false };
    case 'filter-clear':
      return { ...state, filterOpen: false, filterText: '', tree: START };
    case 'help':
      return { ...state, help: action.show };
    case 'message':
      return action.text === undefined ? (state.message === undefined ? state : { ...state, message: undefined }) : { ...state, message: action.text };
  }
}

/** The filter as a regex, or the reason it is not one yet. */
export function compileFilter(text: string): { regex?: RegExp; error?: string } {
  if (text === '') return {};
  try {
    return { regex: new RegExp(text) };
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
    return { error: e.message };
  }
}
