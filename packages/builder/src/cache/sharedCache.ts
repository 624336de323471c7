import { withConfigFile, type Image, type LocalStore, type Platform, type ImageDestination } from '@tsbuild/oci-layout';
import type { Credentials, ImageTransports } from '@tsbuild/registry';
import { readCacheRecords, type CacheLocation, type CacheRecord } from './cacheManifest.js';
import { describeCacheLocation, type CacheExportSpec, type CacheImportSpec } from './cacheSpec.js';
import { CacheSources, isCacheUnavailable, type ImportedCache } from './cacheSources.js';
import { pushCache, recordsFor } from './cacheExport.js';
import { withInlineCache } from './inlineCache.js';
import { localCacheDestination, openLocalCache } from './localCache.js';
import { openRegistryCache, registryCacheDestination } from './registryCache.js';
import { StepCache } from './stepCache.js';

/** What a build request says about shared caches. */
export interface SharedCacheRequest {
  /** `--cache-from`: shared caches whose steps count as cached (after the store's own). */
  cacheFrom?: CacheImportSpec[];
  /** `--cache-to`: where the build's steps are exported when it succeeds. */
  cacheTo?: CacheExportSpec[];
  /** Registry credentials (`--creds`) for registry caches. */
  credentials?: Credentials;
  /** A problem that does not stop the build (a cache that cannot be used); default: listed in the result's warnings. */
  warn?: (line: string) => void;
}

export interface SharedCacheOptions extends SharedCacheRequest {
  /** For registry caches, as for pulls and pushes. */
  registriesConf?: string;
  tlsVerify?: boolean;
  /** Which image of a multi-platform index carries an inline cache. */
  platform: Platform;
  /** Progress lines. */
  log: (line: string) => void;
  warn: (line: string) => void;
}

/**
 * The caches of one build: the store's own steps, those imported with
 * `--cache-from` (read before the build, layers fetched lazily), and the
 * exports of `--cache-to` after it. Registries are reached through one set of
 * sessions, opened only when a registry cache is named.
 */
export class SharedCache {
  private constructor(
    private readonly opts: SharedCacheOptions,
    readonly sources: CacheSources,
    private readonly transports: ImageTransports | undefined,
  ) {}

  static async open(store: LocalStore, opts: SharedCacheOptions): Promise<SharedCache> {
    const cacheFrom = opts.cacheFrom ?? [];
    const needsRegistry = [...cacheFrom, ...(opts.cacheTo ?? [])].some((s) => s.type === 'registry');
    let transports: ImageTransports | undefined;
    if (needsRegistry) {
      // The registry client (undici and all) is loaded only for a build that names a registry cache.
      const registry = await import('@tsbuild/registry');
      transports = await registry.ImageTransports.create({
        openStore: async () => store,
        ...(opts.registriesConf ? { registriesConf: opts.registriesConf } : {}),
        ...(opts.tlsVerify !== undefined ? { tlsVerify: opts.tlsVerify } : {}),
        ...(opts.credentials ? { credentials: opts.credentials } : {}),
      });
    }
    const imports: ImportedCache[] = [];
    for (const spec of cacheFrom) {
      const name = describeCacheLocation(spec);
      try {
        const location: CacheLocation = spec.type === 'registry' ? await openRegistryCache(transports!, spec.ref) : await openLocalCache(spec.dir, spec.tag);
        const records = await readCacheRecords(location, opts.platform);
        imports.push({ name, location, records });
        opts.log(`Using cache from ${name} (${records.size} steps)`);
      } catch (e) {
        if (!isCacheUnavailable(e)) throw e;
        opts.warn(`cache from ${name} not used: ${e.message.replace(/\n\s*/g, '; ')}`);
      }
    }
    return new SharedCache(opts, new CacheSources(new StepCache(store), store.layout, imports), transports);
  }

  /** The final image, with the inline cache in its config when `--cache-to type=inline` asks for it. */
  finalImage(image: Image, records: Map<string, CacheRecord>, finalKey: string): Image {
    if (!(this.opts.cacheTo ?? []).some((s) => s.type === 'inline')) return image;
    return withConfigFile(image, withInlineCache(image.config, records, finalKey, image.manifest.layers));
  }

  /** Writes every `--cache-to` that is not inline. A failure fails the build, as buildx does: the user asked for that cache. */
  async export(records: Map<string, CacheRecord>, finalKey: string): Promise<void> {
    for (const spec of this.opts.cacheTo ?? []) {
      if (spec.type === 'inline') continue;
      const name = describeCacheLocation(spec);
      const chosen = recordsFor(spec.mode, records, finalKey);
      const destination: ImageDestination = spec.type === 'registry' ? await registryCacheDestination(this.transports!, spec.ref) : await localCacheDestination(spec.dir, spec.tag);
      try {
        const written = await pushCache(chosen, destination, (layer) => this.sources.openLayer(layer));
        this.opts.log(`Exported cache (${chosen.length} steps, mode=${spec.mode}) to ${name}: ${written.digest}`);
      } catch (e) {
        if (e instanceof Error) e.message = `exporting the cache to ${name}: ${e.message}`;
        throw e;
      }
    }
  }

  async close(): Promise<void> {
    await this.transports?.close();
  }
}
