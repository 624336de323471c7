import { aggregateFiles } from '../analysis/aggregate.js';
import type { ImageAnalysis } from '../analysis/analyzeImage.js';
import { sameFile, type FileInfo } from '../analysis/fileInfo.js';

/** One path whose state differs between image A and image B. */
export interface PathDifference {
  /** Absolute, as the explorer prints paths. */
  path: string;
  change: 'added' | 'removed' | 'modified';
  /** What A has there (absent when B added the path). */
  before?: FileInfo;
  /** What B has there (absent when B lacks the path). */
  after?: FileInfo;
}

export interface ImageDifference {
  /** Layers both images start with (same diff_ids, in the same order): the base they share. */
  sharedLayers: number;
  layers: [number, number];
  sizeBytes: [number, number];
  /** In path order. */
  changes: PathDifference[];
}

/**
 * What changed from image A to image B, compared as filesystems (each image's
 * layers stacked), not layer by layer: two builds of the same thing that
 * differ in how they were layered still compare equal path by path.
 */
export function diffImages(a: ImageAnalysis, b: ImageAnalysis): ImageDifference {
  const before = aggregateFiles(a, a.layers.length - 1);
  const after = aggregateFiles(b, b.layers.length - 1);
  const changes: PathDifference[] = [];
  for (const [path, info] of before) {
    const other = after.get(path);
    if (!other) changes.push({ path: `/${path}`, change: 'removed', before: info });
    else if (!sameFile(info, other)) changes.push({ path: `/${path}`, change: 'modified', before: info, after: other });
  }
  for (const [path, info] of after) {
    if (!before.has(path)) changes.push({ path: `/${path}`, change: 'added', after: info });
  }
  changes.sort((x, y) => (x.path < y.path ? -1 : x.path > y.path ? 1 : 0));
  let sharedLayers = 0;
  while (sharedLayers < Math.min(a.layers.length, b.layers.length) && a.layers[sharedLayers]!.diffId === b.layers[sharedLayers]!.diffId) sharedLayers++;
  return { sharedLayers, layers: [a.layers.length, b.layers.length], sizeBytes: [a.sizeBytes, b.sizeBytes], changes };
}
