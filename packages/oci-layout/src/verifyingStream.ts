import type { Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { digestAlgorithm, digestHex, type Digest } from './digest.js';
import { nodeCrypto } from './onDemandBuiltins.js';

export class DigestMismatchError extends Error {}

/**
 * Passes bytes through and fails the stream at its end if they do not hash to
 * `expected` (or their count differs from `size`), so a consumer that reads to
 * the end can never silently accept corrupted content.
 */
export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private bytes = 0;

  constructor(
    private readonly expected: Digest,
    private readonly size?: number,
    private readonly what = 'blob',
    highWaterMark?: number,
  ) {
    super(highWaterMark === undefined ? {} : { highWaterMark });
    this.hash = nodeCrypto().createHash(digestAlgorithm(expected));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    if (this.size !== undefined && this.bytes > this.size) {
      done(new DigestMismatchError(`${this.what} ${this.expected} is larger than its declared size ${this.size}`));
      return;
    }
    this.hash.update(chunk);
    done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    if (this.size !== undefined && this.bytes !== this.size) {
      done(new DigestMismatchError(`${this.what} ${this.expected} is truncated: ${this.bytes} of ${this.size} bytes`));
      return;
    }
    const actual = this.hash.digest('hex');
    if (actual !== digestHex(this.expected)) {
      done(new DigestMismatchError(`${this.what} digest mismatch: expected ${this.expected}, got ${digestAlgorithm(this.expected)}:${actual}`));
      return;
    }
    done();
  }
}
