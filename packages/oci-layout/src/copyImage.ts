import { pipeline, Readable, Transform } from 'node:stream';
import type { Digest } from './digest.js';
import type { Image, Layer } from './image.js';
import { inRecordedFormat } from './imageFormat.js';
import type { Descriptor, Index } from './schema.js';

/**
 * Where an image can be written: a local store, an OCI layout, an archive, a
 * registry. `copyImage` drives every one of them the same way: blobs first
 * (skipping those already there), then child manifests, then the root.
 */
export interface ImageDestination {
  hasBlob(descriptor: Descriptor): Promise<boolean>;
  /** `open` gives a fresh verified stream each call, so a destination may retry. */
  putBlob(descriptor: Descriptor, open: () => Promise<Readable>): Promise<void>;
  /** Stores a blob that `write` puts into a new file at the path it is given (a layer's `downloadTo`); for destinations that keep blobs as files. */
  putBlobFile?(descriptor: Descriptor, write: (path: string) => Promise<void>): Promise<void>;
  /** `root` is the manifest or index the destination's name should point at; children of an index are stored by digest only. */
  putManifest(bytes: Buffer, descriptor: Descriptor, root: boolean): Promise<void>;
  /** Finishes a destination that is written as a whole (archives); called once after the root manifest. */
  commit?(): Promise<void>;
  /**
   * Where images leave tsbuild (registries, docker archives): an image built as
   * `--format docker` is written there as Docker schema2, as buildah pushes one.
   */
  readonly writesRecordedFormat?: boolean;
}

/** A multi-platform index with a way to read what it lists: images, or nested indexes. */
export interface ImageIndexSource {
  descriptor: Descriptor;
  bytes: Buffer;
  index: Index;
  open(descriptor: Descriptor): Promise<CopySource>;
}

export type CopySource = { kind: 'image'; image: Image } | { kind: 'index'; index: ImageIndexSource };

export type BlobCopyOutcome = 'copied' | 'exists';

export interface CopyOptions {
  /** Blobs transferred at once (default 4). */
  jobs?: number;
  /** Called as each blob is finished. */
  onBlob?: (descriptor: Descriptor, outcome: BlobCopyOutcome, kind: 'config' | 'layer') => void;
  /** Called as a blob's bytes flow; `bytes` counts from 0 again when a transfer is retried. */
  onProgress?: (descriptor: Descriptor, bytes: number) => void;
}

function counted(open: () => Promise<Readable>, descriptor: Descriptor, onProgress: CopyOptions['onProgress']): () => Promise<Readable> {
  if (!onProgress) return open;
  return async () => {
    let bytes = 0;
    const counter = new Transform({
      transform(chunk: Buffer, _enc, done) {
        onProgress(descriptor, (bytes += chunk.length));
        done(null, chunk);
      },
    });
    // A read error reaches the reader through the counter, which pipeline destroys with it.
    return pipeline(await open(), counter, () => {});
  };
}

function manifestDescriptor(image: Image): Descriptor {
  return { mediaType: image.manifest.mediaType, digest: image.manifestDigest, size: image.manifestBytes.length };
}

/** Runs `work` over `items` with at most `jobs` in flight; the first failure stops new work and is thrown. */
async function forEachConcurrently<T>(items: T[], jobs: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  let failed = false;
  const worker = async () => {
    while (!failed && next < items.length) {
      const item = items[next++]!;
      try {
        await work(item);
      } catch (e) {
        failed = true;
        throw e;
      }
    }
  };
  const results = await Promise.allSettled(Array.from({ length: Math.max(1, Math.min(jobs, items.length)) }, worker));
  const rejected = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (rejected) throw rejected.reason;
}

async function copyImageBlobs(image: Image, dst: ImageDestination, opts: CopyOptions): Promise<void> {
  const configBytes = image.configBytes;
  const config = image.manifest.config;
  const blobs: { descriptor: Descriptor; kind: 'config' | 'layer'; open: () => Promise<Readable>; downloadTo?: Layer['downloadTo'] }[] = [
    ...image.layers.map((l) => ({ descriptor: l.descriptor, kind: 'layer' as const, open: () => l.open(), downloadTo: l.downloadTo?.bind(l) })),
    { descriptor: config, kind: 'config', open: async () => Readable.from([configBytes]) },
  ];
  // A manifest may list one blob twice; sending it twice at once would race.
  const seen = new Set<Digest>();
  const unique = blobs.filter((b) => !seen.has(b.descriptor.digest) && seen.add(b.descriptor.digest));
  await forEachConcurrently(unique, opts.jobs ?? 4, async (blob) => {
    if (await dst.hasBlob(blob.descriptor)) {
      opts.onBlob?.(blob.descriptor, 'exists', blob.kind);
      return;
    }
    const { downloadTo } = blob;
    if (downloadTo && dst.putBlobFile) {
      const onProgress = opts.onProgress && ((bytes: number) => opts.onProgress!(blob.descriptor, bytes));
      await dst.putBlobFile(blob.descriptor, (path) => downloadTo(path, onProgress));
    } else {
      await dst.putBlob(blob.descriptor, counted(blob.open, blob.descriptor, opts.onProgress));
    }
    opts.onBlob?.(blob.descriptor, 'copied', blob.kind);
  });
}

/**
 * Copies one image: its blobs, then its manifest bytes unchanged, so the
 * destination holds the same digest (unless it writes the recorded format).
 * Returns the manifest's descriptor.
 */
export async function copyImage(image: Image, dst: ImageDestination, opts: CopyOptions = {}): Promise<Descriptor> {
  const src = dst.writesRecordedFormat ? inRecordedFormat(image) : image;
  await copyImageBlobs(src, dst, opts);
  const descriptor = manifestDescriptor(src);
  await dst.putManifest(src.manifestBytes, descriptor, true);
  await dst.commit?.();
  return descriptor;
}

async function copyIndexContent(src: ImageIndexSource, dst: ImageDestination, opts: CopyOptions, depth: number): Promise<void> {
  if (depth > 4) throw new Error(`index ${src.descriptor.digest}: indexes nested too deep`);
  for (const child of src.index.manifests) {
    const opened = await src.open(child);
    if (opened.kind === 'index') {
      await copyIndexContent(opened.index, dst, opts, depth + 1);
      await dst.putManifest(opened.index.bytes, child, false);
    } else {
      await copyImageBlobs(opened.image, dst, opts);
      await dst.putManifest(opened.image.manifestBytes, child, false);
    }
  }
}

/** Copies everything an index lists (nested indexes too), then the index bytes unchanged. */
async function copyIndex(src: ImageIndexSource, dst: ImageDestination, opts: CopyOptions = {}): Promise<Descriptor> {
  await copyIndexContent(src, dst, opts, 0);
  await dst.putManifest(src.bytes, src.descriptor, true);
  await dst.commit?.();
  return src.descriptor;
}

export function copySource(src: CopySource, dst: ImageDestination, opts: CopyOptions = {}): Promise<Descriptor> {
  return src.kind === 'image' ? copyImage(src.image, dst, opts) : copyIndex(src.index, dst, opts);
}
