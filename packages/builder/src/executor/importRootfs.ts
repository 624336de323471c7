import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import {
  compressStream, decompressStream, DigestingStream, hostPlatform, layerMediaType, writeImageManifest,
  type Compression, type ImageConfig, type LocalStore,
} from '@tsbuild/oci-layout';

/** Fails the stream unless its first 512-byte block is a tar header with a valid checksum. */
class TarHeaderCheck extends Transform {
  private head = Buffer.alloc(0);
  private checked = false;

  constructor(private readonly what: string) {
    super();
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    if (this.checked) return done(null, chunk);
    this.head = Buffer.concat([this.head, chunk]);
    if (this.head.length < 512) return done();
    this.checked = true;
    const error = this.validate();
    if (error) return done(error);
    done(null, this.head);
  }

  override _flush(done: TransformCallback): void {
    if (this.checked) return done();
    done(new Error(`${this.what} is not a tar archive (only ${this.head.length} bytes)`));
  }

  private validate(): Error | undefined {
    const block = this.head.subarray(0, 512);
    const stored = Number.parseInt(block.toString('latin1', 148, 156).replace(/\0.*$/, '').trim(), 8);
    let sum = 0;
    for (let i = 0; i < 512; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
    return stored === sum ? undefined : new Error(`${this.what} is not a tar archive (bad header checksum)`);
  }
}

export interface ImportOptions {
  compression: Compression;
  /** Seconds since the epoch for `created`; default now. */
  created?: number;
  message?: string;
}

/**
 * `docker import`: a root filesystem tarball (plain, gzip or zstd) becomes a
 * one-layer image. The tar bytes are kept as they are; compressing, hashing
 * (diff_id and blob digest) and storing happen in one streaming pass.
 */
export async function importRootfs(store: LocalStore, source: string, names: string[], opts: ImportOptions) {
  const input: Readable = source === '-' ? process.stdin : createReadStream(source);
  const label = source === '-' ? 'standard input' : source;
  const diff = new DigestingStream();
  // pipeline() destroys every stage on any error, so the store's reader of `blob` sees it too.
  const blob = pipeline(decompressStream(input), new TarHeaderCheck(label), diff, compressStream(opts.compression), () => undefined);
  return store.lease(async () => {
    const { digest, size } = await store.layout.putBlob(blob);
    const created = new Date((opts.created ?? Date.now() / 1000) * 1000).toISOString();
    const config: ImageConfig = {
      created,
      ...hostPlatform(),
      config: {},
      rootfs: { type: 'layers', diff_ids: [diff.digest] },
      // Only the file's name: where it happened to lie must not change the image's digest.
      history: [{ created, created_by: `tsbuild import ${source === '-' ? '-' : basename(source)}`, ...(opts.message ? { comment: opts.message } : {}) }],
    };
    const manifest = await writeImageManifest(store.layout, config, [{ mediaType: layerMediaType(opts.compression), digest, size }]);
    const tagged = await store.tag(manifest, names);
    return { digest: manifest.digest, names: tagged };
  });
}
