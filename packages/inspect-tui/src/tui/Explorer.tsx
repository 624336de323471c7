import { Box, useApp, useInput, type Key } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { Image, Layer } from '@tsbuild/oci-layout';
import type { ImageAnalysis } from '../analysis/analyzeImage.js';
import { AnalysisProgress } from './analysisProgress.js';
import { LayerDetails, LAYER_DETAILS_HEIGHT, ImageDetails } from './components/DetailsPanes.js';
import { FileTreePane, TREE_PANE_CHROME } from './components/FileTreePane.js';
import { HelpScreen } from './components/HelpScreen.js';
import { LayersPane, LAYERS_PANE_CHROME } from './components/LayersPane.js';
import { Pager, PAGER_CHROME, type PagerContent } from './components/Pager.js';
import { FilterBar, StatusBar } from './components/StatusBar.js';
import { commandFor, splitKeys, type Command } from './keys.js';
import { extractLayerFile, readFileText } from './layerFile.js';
import { compileFilter, explorerReducer, initialState, moveWithin, type Action, type ExplorerState, type ListPosition } from './state.js';
import { keyName, type RenderTiming } from './renderTiming.js';
import { useTerminalSize, type TerminalSize } from './terminalSize.js';
import type { TreeEntry, TreeRow, TreeView, ViewOptions } from './treeView.js';
import { TreeViews } from './treeViews.js';

export interface ExplorerProps {
  /**
   * Of an image with at least one layer (the CLI refuses one without): whole,
   * or coming in with its first layer analysed, the screen following it.
   */
  analysis: ImageAnalysis | AnalysisProgress;
  image: Image;
  /** Pins the screen size (tests); otherwise the terminal's, following resizes. */
  size?: TerminalSize;
  /** Where ctrl+e writes files; the working directory by default. */
  extractDir?: string;
  /** Told of each key, for TSDIVE_TIMING. */
  timing?: RenderTiming;
}

/**
 * The tree view the state shows, made again only when what it depends on
 * changed (a cursor move reuses it). Keys read it as well as the screen, so
 * a run of keys is handled one after the other without waiting for renders.
 */
function useTreeView(progress: AnalysisProgress): (state: ExplorerState) => { tree: TreeView | undefined; filter: { regex?: RegExp; error?: string } } {
  const views = useRef<TreeViews>(undefined);
  views.current ??= new TreeViews(progress);
  // Once the first screen is up.
  useEffect(() => views.current!.workInBackground(), []);
  return (state) => {
    const filter = compileFilter(state.filterText);
    const options: ViewOptions = { layer: state.layer.selected, mode: state.mode, hidden: state.hidden, collapsed: state.collapsed, sort: state.sort };
    if (filter.regex) options.filter = filter.regex;
    return { tree: views.current!.view(options), filter };
  };
}

/**
 * What the analysis brings meanwhile is drawn at most this often, and only once
 * no key has come for a while (a key's frame shows it anyway): ink holds a frame
 * back until a throttle interval after the one before, so a frame no key asked
 * for can delay the next key's. The selected layer arriving is drawn at once.
 */
const PROGRESS_FRAME_MS = 500;
const KEYS_QUIET_MS = 300;

/** The analysis as progress, drawn again as layers come in and once it is done. */
function useProgress(analysis: ImageAnalysis | AnalysisProgress, selectedLayer: () => number, lastKeyAt: () => number): AnalysisProgress {
  const progress = useRef<AnalysisProgress>(undefined);
  progress.current ??= analysis instanceof AnalysisProgress ? analysis : AnalysisProgress.of(analysis);
  const drawn = useRef({ layers: 0, complete: false });
  const [, redraw] = useState(0);
  useEffect(() => {
    const p = progress.current!;
    let later: NodeJS.Timeout | undefined;
    const draw = () => {
      clearTimeout(later);
      later = undefined;
      if (p.analysed.length !== drawn.current.layers || (p.complete !== undefined) !== drawn.current.complete) redraw((n) => n + 1);
    };
    const drawWhenKeysQuiet = () => {
      const wait = lastKeyAt() + KEYS_QUIET_MS - performance.now();
      if (wait > 0) later = setTimeout(drawWhenKeysQuiet, wait);
      else draw();
    };
    const stopFollowing = p.onChange(() => {
      if (!p.complete && p.analysed.length - 1 === selectedLayer()) draw();
      else later ??= setTimeout(drawWhenKeysQuiet, PROGRESS_FRAME_MS);
    });
    return () => {
      stopFollowing();
      clearTimeout(later);
    };
  }, []);
  drawn.current = { layers: progress.current.analysed.length, complete: progress.current.complete !== undefined };
  return progress.current;
}

/** A value kept in a ref (read by key handlers at once) and in state (so it renders). */
function useSynced<T>(initial: T): [() => T, (next: T | ((current: T) => T)) => void] {
  const ref = useRef(initial);
  const [, render] = useState(initial);
  return [
    () => ref.current,
    (next) => {
      ref.current = typeof next === 'function' ? (next as (current: T) => T)(ref.current) : next;
      render(ref.current);
    },
  ];
}

interface Layout {
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

/** The interactive explorer: dive's layout and keys over an analysed image. */
export function Explorer({ analysis, image, size, extractDir = process.cwd(), timing }: ExplorerProps) {
  const { exit } = useApp();
  const screen = useTerminalSize(size);
  const [getState, setState] = useSynced(initialState);
  const [getPager, setPager] = useSynced<PagerContent | undefined>(undefined);
  const lastKeyAt = useRef(-Infinity);
  const progress = useProgress(analysis, () => getState().layer.selected, () => lastKeyAt.current);
  const layerCount = progress.layerCount;
  const treeView = useTreeView(progress);
  const dispatch = (action: Action) => setState((s) => explorerReducer(s, action));
  const say = (text: string) => dispatch({ type: 'message', text });

  /** Everything a key or the screen needs, from the latest state. */
  const current = () => {
    const state = getState();
    const view = treeView(state);
    const layout = layoutFor(state, getPager() !== undefined, screen, layerCount);
    const layerPosition = clampPosition(state.layer, layerCount, layout.layerRoom);
    const treePosition = clampPosition(state.tree, view.tree?.count ?? 0, layout.treeRoom);
    return { state, view, layout, layerPosition, treePosition, selectedRow: view.tree?.row(treePosition.selected) };
  };

  /** The selected file, and where its bytes are: a hard link's content is its target's, in the same layer's tar. */
  const selectedFile = (row: TreeRow | undefined): { node: TreeEntry; contentPath: string; layer: Layer } | undefined => {
    if (!row) return undefined;
    const { node } = row;
    if (node.change === 'removed') return say(`/${node.path} is removed here: there is no content to read`), undefined;
    const contentPath = node.info.type === 'hardlink' ? node.info.linkname : node.info.type === 'file' ? node.path : undefined;
    if (contentPath === undefined) return say(`/${node.path} is a ${node.info.type}, not a regular file`), undefined;
    return { node, contentPath, layer: image.layers[node.layerIndex]! };
  };

  const run = (command: Command) => {
    const { state, view, layout, layerPosition, treePosition, selectedRow } = current();
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
      case 'extract': {
        const file = selectedFile(selectedRow);
        if (!file) return;
        const { node } = file;
        say(`extracting /${node.path}…`);
        extractLayerFile(file.layer, file.contentPath, extractDir, node.name).then(
          (target) => say(`extracted /${node.path} (layer ${node.layerIndex}) to ${target}`),
          (e: NodeJS.ErrnoException) => say(`cannot extract /${node.path}: ${e.code === 'EEXIST' ? 'a file of that name exists already' : e.message}`),
        );
        return;
      }
      case 'view': {
        const file = selectedFile(selectedRow);
        if (!file) return;
        const { node } = file;
        const title = `/${node.path}${file.contentPath !== node.path ? ` (hard link to /${file.contentPath})` : ''} (layer ${node.layerIndex})`;
        setPager({ title, top: 0 });
        readFileText(file.layer, file.contentPath).then(
          (text) => setPager((p) => (p?.title === title ? { ...p, text } : p)),
          (e: Error) => setPager((p) => (p?.title === title ? { ...p, error: e.message } : p)),
        );
        return;
      }
    }
  };

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

  const { state, view, layout, layerPosition, treePosition } = current();
  const pager = getPager();
  return (
    <Box flexDirection="column" width={screen.columns} height={screen.rows}>
      {pager ? (
        <Pager content={pager} width={screen.columns} height={screen.rows - 1} />
      ) : state.help ? (
        <HelpScreen width={screen.columns} height={screen.rows - 1} />
      ) : (
        <Box flexDirection="row" height={layout.mainHeight}>
          <Box flexDirection="column" width={layout.leftWidth} height={layout.mainHeight}>
            <LayersPane
              progress={progress}
              analysedCount={progress.analysed.length}
              selected={layerPosition.selected}
              top={layerPosition.top}
              mode={state.mode}
              focused={state.pane === 'layers' && !state.filterOpen}
              width={layout.leftWidth}
              height={layout.layersHeight}
            />
            <LayerDetails layer={progress.layer(layerPosition.selected)} width={layout.leftWidth} />
            <ImageDetails
              analysis={progress.complete}
              analysedCount={progress.analysed.length}
              layerCount={layerCount}
              width={layout.leftWidth}
              height={layout.imageHeight}
            />
          </Box>
          <Box width={1} />
          <FileTreePane
            rows={view.tree?.rows(treePosition.top, treePosition.top + layout.treeRoom)}
            selected={treePosition.selected - treePosition.top}
            mode={state.mode}
            sort={state.sort}
            hidden={state.hidden}
            attributes={layout.attributes}
            focused={state.pane === 'tree' || state.filterOpen}
            width={layout.rightWidth}
            height={layout.mainHeight}
          />
        </Box>
      )}
      {layout.filterShown && <FilterBar text={state.filterText} editing={state.filterOpen} error={view.filter.error} width={screen.columns} />}
      <StatusBar pane={state.filterOpen ? 'tree' : state.pane} hidden={state.hidden} message={state.message} width={screen.columns} />
    </Box>
  );
}
