export * from './analysis/fileInfo.js';
export * from './analysis/efficiency.js';
export * from './analysis/analyzeImage.js';
export type { LayerTree, NodeKind } from './analysis/layerTree.js';
export * from './analysis/aggregate.js';
export * from './diff/diffImages.js';
export { formatDiff } from './diff/formatDiff.js';
export { TsdiveError, type TsdiveErrorKind } from './tsdiveError.js';
