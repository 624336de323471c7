export * from './digest.js';
export * from './mediaTypes.js';
export * from './schema.js';
export * from './layerEntry.js';
export * from './image.js';
