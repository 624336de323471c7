import { useApp, useInput, type Key } from 'ink';
import type { RefObject } from 'react';
import type { Image, Layer } from '@tsbuild/oci-layout';
import type { PagerContent } from './components/Pager.js';
import type { Frame } from './explorerFrame.js';
import { commandFor, splitKeys, type Command } from './keys.js';
import { extractLayerFile, readFileText } from './layerFile.js';
import { explorerReducer, type Action, type ExplorerState } from './state.js';
import { keyName, type RenderTiming } from './renderTiming.js';
import type { TreeEntry, TreeRow } from './treeView.js';

type Update<T> = (next: T | ((current: T) => T)) => void;

export interface ExplorerKeysContext {
  image: Image;
  /** Where ctrl+e writes files. */
  extractDir: string;
  timing: RenderTiming | undefined;
  /** When the last key came, for the progress frames to keep out of its way. */
  lastKeyAt: RefObject<number>;
  getState: () => ExplorerState;
  setState: Update<ExplorerState>;
  getPager: () => PagerContent | undefined;
  setPager: Update<PagerContent | undefined>;
  /** The frame of the latest state, which a key reads as well as the screen. */
  current: () => Frame;
  layerCount: number;
}

/** dive's keys: the pager's, the filter's, and the commands of the panes. */
export function useExplorerKeys(context: ExplorerKeysContext): void {
  const { exit } = useApp();
  const { timing, lastKeyAt, getState, setState, getPager, setPager, current } = context;
  const dispatch = (action: Action) => setState((s) => explorerReducer(s, action));
  const say = (text: string) => dispatch({ type: 'message', text });
  const run = (command: Command) => runCommand(command, { ...context, exit, dispatch, say });

  const pagerKey = (input: string, key: Key) => {
    if (input === 'q' || input === 'v' || key.escape) return setPager(undefined);
    const room = current().layout.pagerRoom;
    const total = getPager()?.text?.lines.length ?? 0;
    let by = 0;
    if (key.upArrow || input === 'k') by = -1;
    else if (key.downArrow || input === 'j') by = 1;
    else if (key.pageUp) by = -room;
    else if (key.pageDown || input === ' ') by = room;
    else if (key.home || input === 'g') by = -total;
    else if (key.end || input === 'G') by = total;
    if (by !== 0) setPager((p) => p && { ...p, top: Math.max(0, Math.min(Math.max(0, total - room), p.top + by)) });
  };

  /** Keys while the filter is edited; false lets the key through (navigation keeps working). */
  const filterKey = (input: string, key: Key): boolean => {
    if (key.escape) return dispatch({ type: 'filter-clear' }), true;
    if (key.return || key.tab) return dispatch({ type: 'filter-accept' }), true;
    if (key.backspace || key.delete) return dispatch({ type: 'filter-text', text: getState().filterText.slice(0, -1) }), true;
    if (input !== '' && !key.ctrl && !key.meta) return dispatch({ type: 'filter-text', text: getState().filterText + input }), true;
    return false;
  };

  const onKey = (input: string, key: Key) => {
    lastKeyAt.current = performance.now();
    if (key.ctrl && input === 'c') return exit();
    const state = getState();
    timing?.keyReceived({ key: keyName(input, key), pane: state.filterOpen ? 'filter' : state.pane, mode: state.mode });
    if (state.message !== undefined) dispatch({ type: 'message' });
    if (getPager()) return pagerKey(input, key);
    if (state.help) return dispatch({ type: 'help', show: false });
    if (state.filterOpen && filterKey(input, key)) return;
    // While filtering, arrows move through what the filter leaves.
    const command = commandFor(input, key, state.filterOpen ? 'tree' : state.pane);
    if (command) run(command);
  };

  useInput((input, key) => {
    for (const [one, oneKey] of splitKeys(input, key)) onKey(one, oneKey);
  });
}

interface CommandContext extends ExplorerKeysContext {
  exit: () => void;
  dispatch: (action: Action) => void;
  say: (text: string) => void;
}

function runCommand(command: Command, context: CommandContext): void {
  const { exit, dispatch, layerCount } = context;
  const { state, view, layout, layerPosition, treePosition, selectedRow } = context.current();
  switch (command.kind) {
    case 'quit':
      return exit();
    case 'next-pane':
      return dispatch({ type: 'next-pane' });
    case 'open-filter':
      return dispatch({ type: 'filter-open' });
    case 'help':
      return dispatch({ type: 'help', show: true });
    case 'move':
    case 'page': {
      const pane = state.filterOpen ? 'tree' : state.pane;
      const room = pane === 'layers' ? layout.layerRoom : layout.treeRoom;
      const by = command.kind === 'page' ? command.by * room : command.by;
      // Move from the clamped position on screen, not from a stale one.
      if (pane === 'layers') dispatch({ type: 'move', pane, by: layerPosition.selected - state.layer.selected + by, count: layerCount, height: room });
      else dispatch({ type: 'move', pane, by: treePosition.selected - state.tree.selected + by, count: view.tree?.count ?? 0, height: room });
      return;
    }
    case 'mode':
      return dispatch({ type: 'mode', mode: command.mode });
    case 'collapse':
      if (selectedRow?.isDirectory) dispatch({ type: 'toggle-collapse', path: selectedRow.node.path });
      return;
    case 'collapse-all':
      if (view.tree) dispatch({ type: 'collapse-all', paths: view.tree.directoryPaths() });
      return;
    case 'toggle-mark':
      return dispatch({ type: 'toggle-mark', mark: command.mark });
    case 'attributes':
      return dispatch({ type: 'attributes', shown: !layout.attributes });
    case 'sort':
      return dispatch({ type: 'sort' });
    case 'extract':
      return extractSelected(selectedRow, context);
    case 'view':
      return viewSelected(selectedRow, context);
  }
}

interface SelectedFile {
  node: TreeEntry;
  /** Where its bytes are: a hard link's content is its target's, in the same layer's tar. */
  contentPath: string;
  layer: Layer;
}

/** The selected row's regular file; otherwise the status bar says why there is none. */
function selectedFile(row: TreeRow | undefined, { image, say }: CommandContext): SelectedFile | undefined {
  if (!row) return undefined;
  const { node } = row;
  if (node.change === 'removed') return say(`/${node.path} is removed here: there is no content to read`), undefined;
  const contentPath = node.info.type === 'hardlink' ? node.info.linkname : node.info.type === 'file' ? node.path : undefined;
  if (contentPath === undefined) return say(`/${node.path} is a ${node.info.type}, not a regular file`), undefined;
  return { node, contentPath, layer: image.layers[node.layerIndex]! };
}

function extractSelected(row: TreeRow | undefined, context: CommandContext): void {
  const file = selectedFile(row, context);
  if (!file) return;
  const { say, extractDir } = context;
  const { node } = file;
  say(`extracting /${node.path}…`);
  extractLayerFile(file.layer, file.contentPath, extractDir, node.name).then(
    (target) => say(`extracted /${node.path} (layer ${node.layerIndex}) to ${target}`),
    (e: NodeJS.ErrnoException) => say(`cannot extract /${node.path}: ${e.code === 'EEXIST' ? 'a file of that name exists already' : e.message}`),
  );
}

function viewSelected(row: TreeRow | undefined, context: CommandContext): void {
  const file = selectedFile(row, context);
  if (!file) return;
  const { setPager } = context;
  const { node } = file;
  const title = `/${node.path}${file.contentPath !== node.path ? ` (hard link to /${file.contentPath})` : ''} (layer ${node.layerIndex})`;
  setPager({ title, top: 0 });
  readFileText(file.layer, file.contentPath).then(
    (text) => setPager((p) => (p?.title === title ? { ...p, text } : p)),
    (e: Error) => setPager((p) => (p?.title === title ? { ...p, error: e.message } : p)),
  );
}
