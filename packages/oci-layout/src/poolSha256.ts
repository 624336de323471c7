import { awaitedElsewhere } from './awaitedElsewhere.js';
import { fsNative, type NativeSha256 } from './fsNative.js';
import { nodeCrypto } from './onDemandBuiltins.js';

/** Bytes gathered before they go to the pool as one update: a pool job per small chunk costs more than hashing it. */
const UPDATE_BYTES = 256 * 1024;
/** Bytes handed to the pool and not hashed yet beyond which `update` asks its caller to wait. */
const BEHIND_BYTES = 2 * 1024 * 1024;

/**
 * SHA-256 of a stream's bytes computed on libuv's thread pool, so a layer's
 * hundreds of MB (its diff_id, its blob digest) are hashed beside the main
 * thread. The bytes given to `update` are hashed later: they must not change
 * after (stream chunks do not). Input that never fills one update is hashed
 * at once on the main thread, with no pool job.
 */
export class PoolSha256 {
  private native?: NativeSha256;
  private gathered: Buffer[] = [];
  private gatheredBytes = 0;
  private behindBytes = 0;
  private updates: Promise<void> = Promise.resolve();

  /** Takes `chunk`; a promise when the pool is more than BEHIND_BYTES behind, to wait for before more. */
  update(chunk: Buffer): Promise<void> | undefined {
    this.gathered.push(chunk);
    this.gatheredBytes += chunk.length;
    if (this.gatheredBytes >= UPDATE_BYTES) this.submit();
    return this.behindBytes > BEHIND_BYTES ? this.updates : undefined;
  }

  /** The hex digest of everything given; the hash cannot be used after. */
  async digest(): Promise<string> {
    if (!this.native) return nodeCrypto().createHash('sha256').update(Buffer.concat(this.gathered)).digest('hex');
    if (this.gatheredBytes > 0) this.submit();
    await this.updates;
    return fsNative().sha256Digest(this.native).toString('hex');
  }

  private submit(): void {
    const native = (this.native ??= fsNative().sha256Stream());
    const buffers = this.gathered;
    const bytes = this.gatheredBytes;
    this.gathered = [];
    this.gatheredBytes = 0;
    this.behindBytes += bytes;
    // One update at a time, in order: each starts when the one before has hashed its bytes.
    this.updates = awaitedElsewhere(this.updates.then(async () => {
      await fsNative().sha256Update(native, buffers);
      this.behindBytes -= bytes;
    }));
  }
}

/** What names a block of input and checks a gzip member of it: its SHA-256 (hex), CRC-32 and length. */
export interface BlockDigest {
  sha256: string;
  crc32: number;
  length: number;
}

/** A block's digests, worked out on the thread pool in one job. */
export async function blockDigest(bytes: Buffer): Promise<BlockDigest> {
  const [sha256, crc32] = await fsNative().blockDigests(bytes);
  return { sha256: sha256.toString('hex'), crc32, length: bytes.length };
}
