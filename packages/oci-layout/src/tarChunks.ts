import { TAR_BLOCK } from './tarHeader.js';

/**
 * Tar bytes are written into buffers of this size, and leave in chunks: the
 * part of a buffer up to where a gzip block ends (`endChunk`), or the whole
 * of a full one. On a tree of small files a stream chunk per header or file
 * (through the hash and the compressor) would cost more than its bytes, and
 * a block that lies in one chunk is compressed without being copied.
 */
const CHUNK_BYTES = 1024 * 1024;
/** Data at least this big goes out as it is rather than copied into a chunk. */
const OWN_CHUNK_BYTES = 64 * 1024;

/**
 * Tar bytes gathered into chunks, headers encoded in place. A chunk handed
 * out is never written again. Chunks start zeroed, so the zeros of headers
 * and of padding need no writing (one memset per chunk, not a call per file).
 */
export class TarChunks {
  buffer = Buffer.alloc(CHUNK_BYTES);
  private at = 0;
  /** Where in `buffer` the chunk being filled starts. */
  private start = 0;
  private readonly ready: Buffer[] = [];
  /** Bytes of the archive so far, those streamed past the chunks included. */
  offset = 0;

  /**
   * The offset in `buffer` of `length` bytes for the caller to fill (a new
   * chunk starts when they do not fit; a header of one block always fits,
   * everything before it being whole blocks).
   */
  space(length: number): number {
    if (this.at + length > this.buffer.length) this.cut(Math.max(CHUNK_BYTES, length));
    const at = this.at;
    this.at += length;
    this.offset += length;
    return at;
  }

  append(bytes: Buffer): void {
    this.offset += bytes.length;
    if (bytes.length >= OWN_CHUNK_BYTES) {
      this.endChunk();
      this.ready.push(bytes);
      return;
    }
    if (this.at + bytes.length <= this.buffer.length) {
      // TypedArray#set: Buffer#copy checks its arguments and makes a view per call, per small file.
      this.buffer.set(bytes, this.at);
      this.at += bytes.length;
      return;
    }
    // Split across the chunk's end, so the chunk is full.
    const fits = this.buffer.length - this.at;
    bytes.copy(this.buffer, this.at, 0, fits);
    this.at += fits;
    this.cut(CHUNK_BYTES);
    bytes.copy(this.buffer, 0, fits);
    this.at = bytes.length - fits;
  }

  /** Zeros up to the end of the block `length` bytes of data started (the chunk's own). */
  pad(length: number): void {
    let padding = (TAR_BLOCK - (length % TAR_BLOCK)) % TAR_BLOCK;
    this.offset += padding;
    while (padding > 0) {
      if (this.at === this.buffer.length) this.cut(CHUNK_BYTES);
      const zeros = Math.min(padding, this.buffer.length - this.at);
      this.at += zeros;
      padding -= zeros;
    }
  }

  /** `length` bytes of the archive went out around the chunks (streamed file data). */
  streamed(length: number): void {
    this.offset += length;
  }

  /** The chunk being filled ends here; the next one goes on in the same buffer. */
  endChunk(): void {
    if (this.at === this.start) return;
    this.ready.push(this.buffer.subarray(this.start, this.at));
    this.start = this.at;
  }

  /** Whether `take(all)` has a chunk to give. */
  hasChunks(all: boolean): boolean {
    return this.ready.length > 0 || (all ? this.at > this.start : this.at === this.buffer.length);
  }

  /** The chunks that are ended or full, or every byte so far when `all`. */
  *take(all: boolean): Generator<Buffer> {
    if (all) this.endChunk();
    else if (this.at === this.buffer.length) this.cut(CHUNK_BYTES);
    while (this.ready.length > 0) yield this.ready.shift()!;
  }

  private cut(nextSize: number): void {
    this.endChunk();
    this.buffer = Buffer.alloc(nextSize);
    this.at = 0;
    this.start = 0;
  }
}
