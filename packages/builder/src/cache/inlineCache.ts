import type { Descriptor, ImageConfig } from '@tsbuild/oci-layout';
import { encodeCacheConfig, INLINE_CACHE_FIELD, type CacheRecord } from './cacheManifest.js';
import { recordsFor } from './cacheExport.js';

/**
 * `--cache-to type=inline`: the image config carries the records of the steps
 * the image is made of, their layers named by index into the image's own, so
 * the image seeds a cache wherever it is pushed. Deterministic: a build that
 * takes every step from it writes the very same config.
 */
export function withInlineCache(config: ImageConfig, records: Map<string, CacheRecord>, finalKey: string, layers: Descriptor[]): ImageConfig {
  const withCache: ImageConfig & Record<string, unknown> = { ...config, [INLINE_CACHE_FIELD]: encodeCacheConfig(recordsFor('min', records, finalKey), layers) };
  return withCache;
}
