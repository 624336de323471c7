import type { Readable } from 'node:stream';
import type { Digest } from './digest.js';
import type { Descriptor, ImageConfig, Manifest } from './schema.js';

/** One layer of an image: its blob descriptor, the digest of its uncompressed tar, and its bytes on demand. */
export interface Layer {
  descriptor: Descriptor;
  diffId: Digest;
  /** The blob as stored (possibly compressed), verified against `descriptor.digest` as it is read. */
  open(): Promise<Readable>;
  /**
   * Writes the blob into a new file at `path`, verified (a DigestMismatchError otherwise) and
   * fsynced: offered where that is cheaper than `open` (a registry's large layers, read from
   * the socket into the file with no stream in between).
   */
  downloadTo?(path: string, onProgress?: (bytes: number) => void): Promise<void>;
}

/**
 * An image wherever it lives (local store, OCI layout, archive, registry):
 * manifest + config + layers, each layer readable as a stream. Every transport
 * reads into or writes from this shape, so copying is one generic loop.
 */
export interface Image {
  /** The exact manifest bytes; `digest` is their digest. */
  manifestBytes: Buffer;
  manifestDigest: Digest;
  manifest: Manifest;
  configBytes: Buffer;
  config: ImageConfig;
  layers: Layer[];
}
