import { awaitedElsewhere, type Image } from '@tsbuild/oci-layout';
import { analyzeImage, layerListings, type AnalyzeOptions, type ImageAnalysis, type LayerAnalysis, type LayerListing } from '../analysis/analyzeImage.js';

/**
 * An image's analysis as it comes in: every layer's listing from the start,
 * the layers analysed so far (in order), and the whole analysis at the end.
 * The explorer shows it from the first layer on and follows it.
 */
export class AnalysisProgress {
  /** Grows in place, one layer at a time. */
  readonly analysed: LayerAnalysis[] = [];
  private whole: ImageAnalysis | undefined;
  private readonly listeners = new Set<() => void>();

  constructor(private readonly listings: readonly LayerListing[]) {}

  /** The progress of an analysis that is done already. */
  static of(analysis: ImageAnalysis): AnalysisProgress {
    const progress = new AnalysisProgress(analysis.layers);
    for (const layer of analysis.layers) progress.layerAnalysed(layer);
    progress.finished(analysis);
    return progress;
  }

  get layerCount(): number {
    return this.listings.length;
  }

  /** Once every layer is in. */
  get complete(): ImageAnalysis | undefined {
    return this.whole;
  }

  /** The layer, analysed if it is already, else its listing. */
  layer(index: number): LayerAnalysis | LayerListing {
    return this.analysed[index] ?? this.listings[index]!;
  }

  isAnalysed(index: number): boolean {
    return index < this.analysed.length;
  }

  layerAnalysed(layer: LayerAnalysis): void {
    this.analysed.push(layer);
    this.changed();
  }

  finished(analysis: ImageAnalysis): void {
    this.whole = analysis;
    this.changed();
  }

  /** Calls `listener` after each change; returns what stops that. */
  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private changed(): void {
    for (const listener of this.listeners) listener();
  }
}

export interface BackgroundAnalysis {
  progress: AnalysisProgress;
  /** Resolves once the first layer is analysed; rejects if the analysis fails before. */
  firstLayer: Promise<void>;
  /** The whole analysis, or the first error. */
  whole: Promise<ImageAnalysis>;
  /** Stops the analysis (the user quit); `whole` then rejects. */
  stop(): void;
}

/** Starts analysing the image; the progress fills in layer by layer while the caller goes on. */
export function analyzeInBackground(image: Image, options: Pick<AnalyzeOptions, 'layerIds'> = {}): BackgroundAnalysis {
  const progress = new AnalysisProgress(layerListings(image, options));
  const stopping = new AbortController();
  let firstLayerIn: () => void;
  const firstLayer = new Promise<void>((resolve) => (firstLayerIn = resolve));
  const whole = analyzeImage(image, {
    ...options,
    signal: stopping.signal,
    onLayer: (layer) => {
      progress.layerAnalysed(layer);
      firstLayerIn();
    },
  });
  // A failed analysis reaches whoever awaits `whole` (returned below); the progress display just stops.
  awaitedElsewhere(whole.then((analysis) => progress.finished(analysis)));
  return { progress, firstLayer: Promise.race([firstLayer, whole.then(() => undefined)]), whole, stop: () => stopping.abort() };
}
