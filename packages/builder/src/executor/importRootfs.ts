import { createReadStream } from 'node:fs';
import { basename } from 'node:path';
import { pipeline, Transform, type Readable, type TransformCallback } from 'node:stream';
import {
  appendLayer, assembleImage, compressStream, decompressStream, DigestingStream, hostPlatform, layerMediaType,
  TarFormatError, TarParser, type Compression, type LocalStore,
} from '@tsbuild/oci-layout';
import { storeImage } from '../layers/layerStore.js';

const TAR_BLOCK = 512;

/**
 * Passes a tar stream on unchanged, failing it where the tar parser that
 * reads layers fails: what could not be read back as a layer is refused
 * before it is stored.
 */
class TarCheck extends Transform {
  private readonly parser: TarParser;
  private bytes = 0;
  private members = 0;

  constructor(private readonly what: string) {
    super();
    this.parser = new TarParser({ member: () => void this.members++, content() {}, memberEnd() {} });
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    try {
      this.parser.write(chunk);
    } catch (e) {
      return done(this.explained(e));
    }
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.bytes < TAR_BLOCK) return done(new Error(`${this.what} is not a tar archive (only ${this.bytes} bytes)`));
    try {
      this.parser.end();
    } catch (e) {
      return done(this.explained(e));
    }
    done();
  }

  private explained(e: unknown): Error {
    if (!(e instanceof TarFormatError)) return e as Error;
    if (e.reason === 'checksum' && this.members === 0) return new Error(`${this.what} is not a tar archive (bad header checksum)`);
    return new Error(`${this.what} is not a readable tar archive: ${e.message}`);
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
  const blob = pipeline(decompressStream(input), new TarCheck(label), diff, compressStream(opts.compression), () => undefined);
  return store.lease(async () => {
    const { digest, size } = await store.layout.putBlob(blob);
    const created = new Date((opts.created ?? Date.now() / 1000) * 1000).toISOString();
    const empty = assembleImage({ created, ...hostPlatform(), config: {}, rootfs: { type: 'layers', diff_ids: [] }, history: [] }, []);
    const layer = store.layout.storedLayer({ mediaType: layerMediaType(opts.compression), digest, size }, diff.digest);
    // Only the file's name: where it happened to lie must not change the image's digest.
    const image = appendLayer(empty, layer, { created, created_by: `tsbuild import ${source === '-' ? '-' : basename(source)}`, ...(opts.message ? { comment: opts.message } : {}) });
    const manifest = await storeImage(store, image);
    const tagged = await store.tag(manifest, names);
    return { digest: manifest.digest, names: tagged };
  });
}
