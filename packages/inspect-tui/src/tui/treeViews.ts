import type { LayerAnalysis } from '../analysis/analyzeImage.js';
import type { AnalysisProgress } from './analysisProgress.js';
import { ImageTree, type TreeMode } from './imageTree.js';
import { SlicedTask } from './slicedTask.js';
import { treeShape, TreeView, type TreeShape, type ViewOptions } from './treeView.js';

/** Shapes of the trees seen last, so going back and forth between layers does not work them out again. */
const SHAPES_KEPT = 8;

/** Adds the analysed layers the tree lacks, including those analysed meanwhile; ends when it has them all. */
function* addAnalysed(tree: ImageTree, analysed: readonly LayerAnalysis[]): Generator<void, void> {
  while (tree.layers < analysed.length) yield* tree.addLayer(analysed[tree.layers]!);
}

/**
 * The views the explorer shows, over one image tree. The first screen shows
 * the first layer, so only that layer is added to the tree before it; the
 * others are added in slices between keys once the screen is up (and as
 * they are analysed), or at once when a key needs one sooner. A layer not
 * analysed yet has no view.
 */
export class TreeViews {
  private readonly tree: ImageTree;
  private growing: SlicedTask;
  private inBackground = false;
  private readonly shapes = new Map<string, TreeShape>();
  private last: Shown | undefined;
  /** The view of the layer a move in the layers pane is likely to go to next, made between keys. */
  private ahead: Shown | undefined;
  private lookingAhead: NodeJS.Immediate | undefined;
  /** Of the last move between layers: 1 down, -1 up. */
  private direction = 1;

  constructor(private readonly progress: AnalysisProgress) {
    this.tree = new ImageTree(progress.layerCount);
    this.growing = new SlicedTask(addAnalysed(this.tree, progress.analysed));
    this.growing.runUntil(() => this.tree.layers >= 1);
  }

  /** Adds the other layers between keys from now on, and makes the next layer's view; returns what stops the work between keys. */
  workInBackground(): () => void {
    this.inBackground = true;
    this.grown().start();
    const stopFollowing = this.progress.onChange(() => this.grown().start());
    if (this.last) this.lookAhead(this.last.options);
    return () => {
      this.inBackground = false;
      stopFollowing();
      this.growing.cancel();
      if (this.lookingAhead) clearImmediate(this.lookingAhead);
    };
  }

  /** The view for these options (the same object again while they stay the same), or none while the layer is being analysed. */
  view(options: ViewOptions): TreeView | undefined {
    if (!this.progress.isAnalysed(options.layer)) return undefined;
    const last = this.last;
    if (last && sameOptions(last.options, options)) return last.view;
    const view = this.ahead && sameOptions(this.ahead.options, options) ? this.ahead.view : this.make(options);
    this.last = { options, view };
    if (last && last.options.layer !== options.layer) this.direction = Math.sign(options.layer - last.options.layer);
    // After a move between layers or views (not after each key typed into the filter).
    if (!last || sameOptions({ ...last.options, layer: options.layer, mode: options.mode }, options)) this.lookAhead(options);
    return view;
  }

  /** The task adding layers, a new one when the last ended before layers analysed since. */
  private grown(): SlicedTask {
    if (this.growing.done && this.tree.layers < this.progress.analysed.length) {
      this.growing = new SlicedTask(addAnalysed(this.tree, this.progress.analysed));
      if (this.inBackground) this.growing.start();
    }
    return this.growing;
  }

  private make(options: ViewOptions): TreeView {
    this.grown().runUntil(() => this.tree.layers > options.layer);
    return new TreeView(this.tree, options, this.shapeOf(options.layer, options.mode));
  }

  /** Makes the view of the layer next to the shown one between keys: onwards in the direction of the last move, or back at the end. */
  private lookAhead(shown: ViewOptions): void {
    if (this.lookingAhead) clearImmediate(this.lookingAhead);
    let layer = shown.layer + this.direction;
    if (layer < 0 || layer >= this.tree.layerCount) layer = shown.layer - this.direction;
    if (layer < 0 || !this.progress.isAnalysed(layer)) return;
    const options = { ...shown, layer };
    this.lookingAhead = setImmediate(() => {
      this.lookingAhead = undefined;
      this.ahead = { options, view: this.make(options) };
    });
  }

  /** A layer's tree only changes while that layer is added, so a shape stays right as later layers come. */
  private shapeOf(layer: number, mode: TreeMode): TreeShape {
    const key = `${mode}:${layer}`;
    let shape = this.shapes.get(key);
    if (shape) this.shapes.delete(key);
    else {
      shape = treeShape(this.tree, layer, mode);
      if (this.shapes.size >= SHAPES_KEPT) this.shapes.delete(this.shapes.keys().next().value!);
    }
    this.shapes.set(key, shape);
    return shape;
  }
}

interface Shown {
  options: ViewOptions;
  view: TreeView;
}

function sameOptions(a: ViewOptions, b: ViewOptions): boolean {
  return a.layer === b.layer && a.mode === b.mode && a.hidden === b.hidden && a.collapsed === b.collapsed && a.sort === b.sort
    && a.filter?.source === b.filter?.source;
}
