export * from './analysis/fileInfo.js';
export * from './analysis/efficiency.js';
export * from './analysis/analyzeImage.js';
export type { LayerNode } from './analysis/layerTree.js';
export * from './analysis/aggregate.js';
