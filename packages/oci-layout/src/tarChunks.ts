import { TAR_BLOCK } from './tarHeader.js';

/**
 * The archive leaves in chunks of this size: on a tree of small files a
 * stream chunk per header or file (through the hash and the compressor)
 * costs more than its bytes. Chunks are filled to the byte.
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
      this.cut(CHUNK_BYTES);
      this.ready.push(bytes);
      return;
    }
    // Split across the chunk's end, so the chunk is full.
    const fits = Math.min(bytes.length, this.buffer.length - this.at);
    bytes.copy(this.buffer, this.at, 0, fits);
    this.at += fits;
    if (fits === bytes.length) return;
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

  /** Whether `take(all)` has a chunk to give. */
  hasChunks(all: boolean): boolean {
    return this.ready.length > 0 || (all ? this.at > 0 : this.at === this.buffer.length);
  }

  /** The chunks that are full, or every byte so far when `all`. */
  *take(all: boolean): Generator<Buffer> {
    if (all || this.at === this.buffer.length) this.cut(CHUNK_BYTES);
    while (this.ready.length > 0) yield this.ready.shift()!;
  }

  private cut(nextSize: number): void {
    if (this.at > 0) this.ready.push(this.buffer.subarray(0, this.at));
    this.buffer = Buffer.alloc(nextSize);
    this.at = 0;
  }
}
