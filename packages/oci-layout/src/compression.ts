import { createRequire } from 'node:module';
import { PassThrough, Readable, pipeline, type Duplex } from 'node:stream';
import type * as Zstd from 'zstd-napi';
import { nodeZlib } from './onDemandBuiltins.js';
import { ParallelGzip, type GzipOptions } from './parallelGzip.js';
import type { Compression } from './mediaTypes.js';

let zstdModule: typeof Zstd | undefined;

/** zstd-napi (a native addon) loads on first use: ~10 ms every command that sees no zstd layer need not pay. */
function zstd(): typeof Zstd {
  zstdModule ??= createRequire(import.meta.url)('zstd-napi') as typeof Zstd;
  return zstdModule;
}

const GZIP_MAGIC = Buffer.from([0x1f, 0x8b]);
const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
const MAGIC_LENGTH = ZSTD_MAGIC.length;

export function detectCompression(firstBytes: Buffer): Compression {
  if (firstBytes.subarray(0, GZIP_MAGIC.length).equals(GZIP_MAGIC)) return 'gzip';
  if (firstBytes.subarray(0, ZSTD_MAGIC.length).equals(ZSTD_MAGIC)) return 'zstd';
  return 'none';
}

/**
 * A compressor for layer blobs. gzip uses every core (see ParallelGzip); its
 * headers have mtime 0 and no file name, so equal input gives equal bytes
 * (reproducible layer digests). `gzip` says where gzip cuts its blocks and
 * where it may find members compressed before.
 */
export function compressStream(compression: Compression, gzip: GzipOptions = {}): Duplex {
  switch (compression) {
    case 'gzip':
      return new ParallelGzip(gzip);
    case 'zstd':
      return new (zstd().CompressStream)();
    case 'none':
      return new PassThrough();
  }
}

function decompressorFor(compression: Compression): Duplex {
  switch (compression) {
    case 'gzip':
      // 256 KiB instead of 16 KiB output chunks: a quarter of the work per byte downstream (measured on unpack).
      return nodeZlib().createGunzip({ chunkSize: 256 * 1024 });
    case 'zstd':
      return new (zstd().DecompressStream)();
    case 'none':
      return new PassThrough();
  }
}

/**
 * Decompresses a layer blob whatever its compression, recognised by its magic
 * bytes (media types lie often enough that the bytes are the better witness).
 * Errors of the input or the decompressor surface as errors of the result.
 */
export function decompressStream(input: Readable): Readable {
  return Readable.from(decompressChunks(input), { objectMode: false });
}

async function* decompressChunks(input: Readable): AsyncGenerator<Buffer> {
  const source = input[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  let head = Buffer.alloc(0);
  let ended = false;
  while (head.length < MAGIC_LENGTH) {
    const next = await source.next();
    if (next.done) {
      ended = true;
      break;
    }
    head = Buffer.concat([head, next.value]);
  }
  const compression = detectCompression(head);
  if (compression === 'none') {
    if (head.length > 0) yield head;
    if (!ended) yield* { [Symbol.asyncIterator]: () => source };
    return;
  }
  const decompressor = decompressorFor(compression);
  // An input error reaches the reader through the decompressor; a reader that stops early releases the input.
  pipeline(Readable.from(rest(head, ended ? undefined : source)), decompressor, () => undefined);
  yield* decompressor;
}

async function* rest(head: Buffer, source: AsyncIterator<Buffer> | undefined): AsyncGenerator<Buffer> {
  try {
    yield head;
    if (!source) return;
    for (let next = await source.next(); !next.done; next = await source.next()) yield asBuffer(next.value);
  } finally {
    await source?.return?.();
  }
}

/** A chunk as a Buffer without copying it: a copy of each would be the whole compressed layer again, for the collector. */
function asBuffer(chunk: Uint8Array): Buffer {
  return Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
}
