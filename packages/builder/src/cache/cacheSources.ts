import type { Readable } from 'node:stream';
import type { Descriptor, Digest, Layer, OciLayout } from '@tsbuild/oci-layout';
import type { CacheLocation, CacheRecord } from './cacheManifest.js';
import type { CachedStep, StepCache } from './stepCache.js';

/** Layers fetched at once, as many as a pull transfers. */
const FETCH_JOBS = 4;

/** A cache read with `--cache-from`: its records, and where their layers can be fetched. */
export interface ImportedCache {
  /** How warnings name it (`registry host/app:cache`). */
  name: string;
  location: CacheLocation;
  records: Map<string, CacheRecord>;
}

/** A cache layer that could not be fetched or did not match its digest: the step that made it is built again. */
export class CacheLayerRefusedError extends Error {
  readonly kind = 'cache-layer-refused';

  constructor(
    readonly digest: Digest,
    readonly source: string,
    readonly reason: string,
  ) {
    super(`cache layer ${digest} from ${source} refused (${reason})`);
  }
}

/**
 * Whether `e` is something a cache source fails with (unreachable, refused,
 * missing, damaged or out of shape), which costs only the cache: the build is
 * correct without it. A TypeError or RangeError is a bug of ours and
 * propagates.
 */
export function isCacheUnavailable(e: unknown): e is Error {
  return e instanceof Error && !(e instanceof TypeError) && !(e instanceof RangeError) && !(e instanceof ReferenceError);
}

/**
 * The build's view of every cache: the store's own steps first, then those
 * imported with `--cache-from`, in the order given. An imported step's layer
 * is fetched only when something reads it (`ensure`): a step built on top, or
 * the final image. `ensure` also waits for layers that are arriving otherwise
 * (a base image being pulled), so both downloads overlap.
 */
export class CacheSources {
  private readonly fetches = new Map<Digest, Promise<void>>();
  private readonly arrivals = new Map<Digest, Promise<void>>();
  private readonly refused = new Set<Digest>();
  /** Which import each layer is fetched from: the first that lists it. */
  private readonly layerSources = new Map<Digest, ImportedCache>();

  constructor(
    private readonly local: StepCache,
    private readonly layout: OciLayout,
    private readonly imports: ImportedCache[],
  ) {
    for (const imported of imports) {
      for (const record of imported.records.values()) {
        if (record.layer && !this.layerSources.has(record.layer.descriptor.digest)) this.layerSources.set(record.layer.descriptor.digest, imported);
      }
    }
  }

  async get(key: string): Promise<CachedStep | undefined> {
    const own = await this.local.get(key);
    if (own) return own;
    for (const imported of this.imports) {
      const record = imported.records.get(key);
      if (!record || (record.layer && this.refused.has(record.layer.descriptor.digest))) continue;
      const step: CachedStep = { created: record.created, ...(record.layer ? { layer: record.layer } : {}) };
      // Remembered here too: once its layer is fetched, the next build finds it without --cache-from.
      await this.local.put(key, step);
      return step;
    }
    return undefined;
  }

  put(key: string, step: CachedStep): Promise<void> {
    return this.local.put(key, step);
  }

  /** Records with this layer no longer hit: its step runs again (after a CacheLayerRefusedError). */
  refuse(digest: Digest): void {
    this.refused.add(digest);
  }

  /** These layers are on their way into the store (`done` settles when they are there, or rejects with why not). */
  arriving(layers: readonly Pick<Layer, 'descriptor'>[], done: Promise<void>): void {
    for (const { descriptor } of layers) this.arrivals.set(descriptor.digest, done);
  }

  /** Waits until nothing is arriving any more, whatever became of it (a build ending early must not leave writers behind). */
  async settled(): Promise<void> {
    await Promise.allSettled(this.arrivals.values());
  }

  /**
   * Makes sure the store holds these layers' blobs, fetching those an
   * imported step promised, a few at once (as a pull does), while those
   * arriving otherwise come in.
   */
  async ensure(layers: readonly Pick<Layer, 'descriptor'>[]): Promise<void> {
    const missing: { layer: Descriptor; source: ImportedCache }[] = [];
    const waits = new Set<Promise<void>>();
    for (const { descriptor: layer } of layers) {
      const arrival = this.arrivals.get(layer.digest);
      if (arrival) {
        waits.add(arrival);
        continue;
      }
      const source = this.layerSources.get(layer.digest);
      // Not an imported layer: whoever reads it reports it missing, as without a shared cache.
      if (source && !(await this.layout.hasBlob(layer.digest))) missing.push({ layer, source });
    }
    let next = 0;
    const worker = async () => {
      for (let item = missing[next++]; item; item = missing[next++]) {
        let fetch = this.fetches.get(item.layer.digest);
        if (!fetch) {
          fetch = this.fetch(item.source, item.layer);
          this.fetches.set(item.layer.digest, fetch);
        }
        await fetch;
      }
    };
    const results = await Promise.allSettled([...Array.from({ length: Math.min(FETCH_JOBS, missing.length) }, worker), ...waits]);
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed) throw failed.reason;
  }

  private async fetch(source: ImportedCache, layer: Descriptor): Promise<void> {
    try {
      // Every CacheLocation verifies what it streams or writes (see openBlob), so the store need not hash it again.
      const toFile = source.location.fileDownload?.(layer);
      const { size } = toFile
        ? await this.layout.putBlobFile(layer.digest, toFile)
        : await this.layout.putBlob(await source.location.openBlob(layer), { expected: layer.digest, sourceVerifies: true });
      if (size !== layer.size) throw new Error(`${size} bytes where the cache says ${layer.size}`);
    } catch (e) {
      if (!isCacheUnavailable(e)) throw e;
      throw new CacheLayerRefusedError(layer.digest, source.name, e.message);
    }
  }

  /** A layer's blob for an export: from the store, else straight from the cache that has it (never stored on the way). */
  async openLayer(layer: Descriptor): Promise<Readable> {
    if (await this.layout.hasBlob(layer.digest)) return this.layout.openBlob(layer.digest, layer.size);
    const source = this.layerSources.get(layer.digest);
    if (!source) return this.layout.openBlob(layer.digest, layer.size);
    return source.location.openBlob(layer);
  }
}
