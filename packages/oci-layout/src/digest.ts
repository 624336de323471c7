import type { Hash } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { nodeCrypto } from './onDemandBuiltins.js';
import { PoolSha256 } from './poolSha256.js';
import { printableText } from './printableText.js';

export type DigestAlgorithm = 'sha256' | 'sha512';

/** A validated `algorithm:hex` content address. */
export type Digest = string & { readonly __digest: unique symbol };

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

export class InvalidDigestError extends Error {}

/** A digest as a message shows it: quoted, control characters escaped (it may come from a hostile registry), cut short. */
function shown(value: string): string {
  return `"${printableText(value.length > 150 ? `${value.slice(0, 150)}…` : value)}"`;
}

export function parseDigest(value: unknown): Digest {
  if (typeof value !== 'string') throw new InvalidDigestError(`digest must be a string, got ${typeof value}`);
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (colon < 0 || !(algorithm in HEX_LENGTH)) {
    throw new InvalidDigestError(`unsupported digest ${shown(value)}: expected sha256:<hex> or sha512:<hex>`);
  }
  const want = HEX_LENGTH[algorithm as DigestAlgorithm];
  if (hex.length !== want || !/^[0-9a-f]+$/.test(hex)) {
    throw new InvalidDigestError(`malformed digest ${shown(value)}: ${algorithm} needs ${want} lowercase hex characters`);
  }
  return value as Digest;
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

export function digestOf(data: Uint8Array | string, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${nodeCrypto().createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/**
 * A pass-through stream that hashes and counts what flows through it, so a
 * digest comes out of the same pass that writes or forwards the bytes.
 * SHA-256 is computed on the thread pool (PoolSha256), beside the main thread.
 */
export class DigestingStream extends Transform {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash | PoolSha256;
  private bytes = 0;
  private result?: Digest;

  constructor(algorithm: DigestAlgorithm = 'sha256') {
    super();
    this.algorithm = algorithm;
    this.hash = algorithm === 'sha256' ? new PoolSha256() : nodeCrypto().createHash(algorithm);
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.bytes += chunk.length;
    const behind = this.hash.update(chunk);
    if (behind instanceof Promise) behind.then(() => done(null, chunk), done);
    else done(null, chunk);
  }

  override _flush(done: TransformCallback): void {
    const hex = this.hash instanceof PoolSha256 ? this.hash.digest() : Promise.resolve(this.hash.digest('hex'));
    hex.then((value) => {
      this.result = `${this.algorithm}:${value}` as Digest;
      done();
    }, done);
  }

  /** Available once the stream has ended. */
  get digest(): Digest {
    if (!this.result) throw new Error('digest read before the stream ended');
    return this.result;
  }

  get size(): number {
    return this.bytes;
  }
}
