import type { Readable } from 'node:stream';
import {
  chooseManifest, digestOf, hostPlatform, InvalidDigestError, InvalidDocumentError, isIndexMediaType, NoImageError, isManifestMediaType, MediaType, parseDigest, parseIndex, parseManifest,
  type Descriptor, type Digest, type Manifest, type Platform,
} from '@tsbuild/oci-layout';

/**
 * The shared cache artifact: an OCI image manifest whose layers are the step
 * layers and whose config is this small document, mapping step keys to the
 * layer each step made, when, and on which step it was built. It is stored
 * under a tag, so a registry that collects untagged manifests keeps it.
 */
export const CACHE_CONFIG_MEDIA_TYPE = 'application/vnd.tsbuild.cache.config.v1+json';

/** The image config field that carries an inline cache (BuildKit's is `moby.buildkit.cache.v0`). */
export const INLINE_CACHE_FIELD = 'tsbuild.cache.v1';

const MAX_CONFIG_BYTES = 8 * 1024 * 1024;

/** One finished step, as a cache keeps it. */
export interface CacheRecord {
  key: string;
  /** The key of the step (or stage start) it was built on. */
  parent: string;
  created: string;
  layer?: { descriptor: Descriptor; diffId: Digest };
}

/** A cache artifact or inline cache that cannot be read as one: the build warns and goes on without it. */
export class CacheFormatError extends Error {
  readonly kind = 'invalid-cache';
}

/** The cache document: steps in build order, each layer an index into the layers it travels with. */
export function encodeCacheConfig(records: CacheRecord[], layers: Descriptor[]): { schemaVersion: 1; steps: unknown[] } {
  return {
    schemaVersion: 1,
    steps: records.map((r) => {
      const index = r.layer ? layers.findIndex((l) => l.digest === r.layer!.descriptor.digest) : -1;
      if (r.layer && index < 0) throw new Error(`cache record ${r.key}: layer ${r.layer.descriptor.digest} is not among the cache's layers`);
      return { key: r.key, parent: r.parent, created: r.created, ...(r.layer ? { layer: index, diffId: r.layer.diffId } : {}) };
    }),
  };
}

const KEY = /^[0-9a-f]{64}$/;

function field<T>(value: Record<string, unknown>, name: string, check: (v: unknown) => v is T, what: string): T {
  const v = value[name];
  if (!check(v)) throw new CacheFormatError(`${what}: "${name}" is missing or of the wrong type`);
  return v;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isKey = (v: unknown): v is string => typeof v === 'string' && KEY.test(v);

/** The records of a cache document whose layers are `layers`; anything out of shape is a CacheFormatError. */
export function parseCacheConfig(doc: unknown, layers: Descriptor[]): Map<string, CacheRecord> {
  if (typeof doc !== 'object' || doc === null || (doc as { schemaVersion?: unknown }).schemaVersion !== 1 || !Array.isArray((doc as { steps?: unknown }).steps)) {
    throw new CacheFormatError('cache config: expected {"schemaVersion":1,"steps":[...]}');
  }
  const records = new Map<string, CacheRecord>();
  for (const [i, step] of ((doc as { steps: unknown[] }).steps).entries()) {
    const what = `cache config step ${i}`;
    if (typeof step !== 'object' || step === null) throw new CacheFormatError(`${what}: expected an object`);
    const s = step as Record<string, unknown>;
    const record: CacheRecord = { key: field(s, 'key', isKey, what), parent: field(s, 'parent', isKey, what), created: field(s, 'created', isString, what) };
    if (s.layer !== undefined) {
      const index = s.layer;
      if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || index >= layers.length) throw new CacheFormatError(`${what}: layer ${String(index)} is not one of the ${layers.length} layers`);
      try {
        record.layer = { descriptor: layers[index]!, diffId: parseDigest(s.diffId) };
      } catch (e) {
        if (e instanceof InvalidDigestError) throw new CacheFormatError(`${what}: ${e.message}`);
        throw e;
      }
    }
    records.set(record.key, record);
  }
  return records;
}

/** The artifact for `records`: its config blob and manifest, and the layers it lists (each once). */
export function cacheArtifact(records: CacheRecord[]): { config: { descriptor: Descriptor; bytes: Buffer }; manifest: { descriptor: Descriptor; bytes: Buffer }; layers: Descriptor[] } {
  const layers: Descriptor[] = [];
  for (const r of records) {
    if (r.layer && !layers.some((l) => l.digest === r.layer!.descriptor.digest)) {
      const { mediaType, digest, size } = r.layer.descriptor;
      layers.push({ mediaType, digest, size });
    }
  }
  const configBytes = Buffer.from(JSON.stringify(encodeCacheConfig(records, layers)));
  const config: Descriptor = { mediaType: CACHE_CONFIG_MEDIA_TYPE, digest: digestOf(configBytes), size: configBytes.length };
  const manifest: Manifest = { schemaVersion: 2, mediaType: MediaType.ociManifest, artifactType: CACHE_CONFIG_MEDIA_TYPE, config, layers };
  const manifestBytes = Buffer.from(JSON.stringify(manifest));
  return {
    config: { descriptor: config, bytes: configBytes },
    manifest: { descriptor: { mediaType: MediaType.ociManifest, digest: digestOf(manifestBytes), size: manifestBytes.length }, bytes: manifestBytes },
    layers,
  };
}

/** A place a cache is read from (a registry repository, an OCI layout): its root manifest and its blobs. */
export interface CacheLocation {
  /** The manifest (or index) the cache ref names; with a digest, that one. */
  readManifest(digest?: Digest): Promise<{ bytes: Buffer; mediaType: string }>;
  /** A blob as a stream that fails at its end unless its bytes match the descriptor. */
  openBlob(descriptor: Descriptor): Promise<Readable>;
  /** Where a blob is cheaper to fetch into a file (a registry's large layers): writes it, verified and fsynced, at the path given. */
  fileDownload?(descriptor: Descriptor): ((path: string) => Promise<void>) | undefined;
}

async function readSmallBlob(location: CacheLocation, descriptor: Descriptor, what: string): Promise<Buffer> {
  if (descriptor.size > MAX_CONFIG_BYTES) throw new CacheFormatError(`${what} is ${descriptor.size} bytes, more than a cache config may have`);
  const chunks: Buffer[] = [];
  for await (const chunk of (await location.openBlob(descriptor)) as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks);
}

function parseJson(bytes: Buffer, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (e) {
    if (e instanceof SyntaxError) throw new CacheFormatError(`${what} is not JSON`);
    throw e;
  }
}

/**
 * Reads what a cache ref names: a cache artifact, or an image (of `platform`,
 * when it is an index) whose config carries an inline cache. Only the
 * manifest and the small config are read; layers stay where they are.
 */
export async function readCacheRecords(location: CacheLocation, platform: Platform = hostPlatform()): Promise<Map<string, CacheRecord>> {
  let top = await location.readManifest();
  try {
    if (isIndexMediaType(top.mediaType)) top = await location.readManifest(chooseManifest(parseIndex(top.bytes, top.mediaType), platform).digest);
    if (!isManifestMediaType(top.mediaType)) throw new CacheFormatError(`the cache ref names a ${top.mediaType}, not a manifest`);
    const manifest = parseManifest(top.bytes, top.mediaType);
    if (manifest.config.mediaType === CACHE_CONFIG_MEDIA_TYPE) {
      return parseCacheConfig(parseJson(await readSmallBlob(location, manifest.config, 'cache config'), 'cache config'), manifest.layers);
    }
    const config = parseJson(await readSmallBlob(location, manifest.config, 'image config'), 'image config') as Record<string, unknown> | null;
    const inline = config?.[INLINE_CACHE_FIELD];
    if (inline === undefined) throw new CacheFormatError('the image names no tsbuild cache (it was not built with --cache-to type=inline)');
    return parseCacheConfig(inline, manifest.layers);
  } catch (e) {
    if (e instanceof InvalidDocumentError || e instanceof NoImageError) throw new CacheFormatError(e.message);
    throw e;
  }
}
