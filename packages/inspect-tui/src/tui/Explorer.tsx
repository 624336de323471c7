import { Box } from 'ink';
import { useEffect, useRef, useState } from 'react';
import type { Image } from '@tsbuild/oci-layout';
import type { ImageAnalysis } from '../analysis/analyzeImage.js';
import { AnalysisProgress } from './analysisProgress.js';
import { HelpScreen } from './components/HelpScreen.js';
import { MainPanes } from './components/MainPanes.js';
import { Pager, type PagerContent } from './components/Pager.js';
import { FilterBar, StatusBar } from './components/StatusBar.js';
import { frameOf, type ShownTree } from './explorerFrame.js';
import { compileFilter, initialState, type ExplorerState } from './state.js';
import type { RenderTiming } from './renderTiming.js';
import { useTerminalSize, type TerminalSize } from './terminalSize.js';
import type { ViewOptions } from './treeView.js';
import { TreeViews } from './treeViews.js';
import { useExplorerKeys } from './useExplorerKeys.js';

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
function useTreeView(progress: AnalysisProgress): (state: ExplorerState) => ShownTree {
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

/** The interactive explorer: dive's layout and keys over an analysed image. */
export function Explorer({ analysis, image, size, extractDir = process.cwd(), timing }: ExplorerProps) {
  const screen = useTerminalSize(size);
  const [getState, setState] = useSynced(initialState);
  const [getPager, setPager] = useSynced<PagerContent | undefined>(undefined);
  const lastKeyAt = useRef(-Infinity);
  const progress = useProgress(analysis, () => getState().layer.selected, () => lastKeyAt.current);
  const layerCount = progress.layerCount;
  const treeView = useTreeView(progress);
  const current = () => {
    const state = getState();
    return frameOf(state, treeView(state), getPager() !== undefined, screen, layerCount);
  };
  useExplorerKeys({ image, extractDir, timing, lastKeyAt, getState, setState, getPager, setPager, current, layerCount });

  const frame = current();
  const { state, view, layout } = frame;
  const pager = getPager();
  return (
    <Box flexDirection="column" width={screen.columns} height={screen.rows}>
      {pager ? (
        <Pager content={pager} width={screen.columns} height={screen.rows - 1} />
      ) : state.help ? (
        <HelpScreen width={screen.columns} height={screen.rows - 1} />
      ) : (
        <MainPanes frame={frame} progress={progress} />
      )}
      {layout.filterShown && <FilterBar text={state.filterText} editing={state.filterOpen} error={view.filter.error} width={screen.columns} />}
      <StatusBar pane={state.filterOpen ? 'tree' : state.pane} hidden={state.hidden} message={state.message} width={screen.columns} />
    </Box>
  );
}
