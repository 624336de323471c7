import type { ImageAnalysis } from './analyzeImage.js';
import { IMPLIED_DIRECTORY, type FileInfo } from './fileInfo.js';

/**
 * The filesystem as it stands after layer `upTo` (dive's aggregated view):
 * root-relative path -> what is there. Built from the layers' recorded
 * changes, so it costs one pass over their paths and reads no layer again.
 */
export function aggregateFiles(analysis: ImageAnalysis, upTo: number): Map<string, FileInfo> {
  const files = new Map<string, FileInfo>();
  for (const layer of analysis.layers.slice(0, upTo + 1)) {
    for (const removed of layer.removedBelow) files.delete(removed.path);
    const { tree } = layer;
    for (const id of tree.order) {
      const path = tree.targetPath(id);
      if (tree.isWhiteout(id)) files.delete(path);
      else if (tree.isEntry(id)) files.set(path, tree.files.info(id));
      else if (!files.has(path)) files.set(path, IMPLIED_DIRECTORY);
    }
  }
  return files;
}
