import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import type { gzip } from 'node:zlib';
import { nodeZlib } from './onDemandBuiltins.js';
import { sha256OnPool } from './poolSha256.js';

/**
 * Speed over the last few percent of size, as go-containerregistry chooses
 * (gzip.BestSpeed): about 3x faster than the default level on layer data.
 */
const GZIP_LEVEL = 1;

/** Input is cut into blocks this big; each becomes one gzip member. */
const BLOCK_BYTES = 1024 * 1024;

/** What a member's bytes depend on besides its input: members made otherwise are not reused. */
export const GZIP_MEMBER_FORMAT = `gzip level ${GZIP_LEVEL}, ${BLOCK_BYTES}-byte blocks`;

/** A member as the stream wrote it: the SHA-256 (hex) of its input block and its compressed length. */
export interface GzipMember {
  block: string;
  length: number;
}

/** Members compressed before, to be taken again for equal input (see GzipMemberIndex). */
export interface GzipMemberSource {
  /** A member known to hold exactly `block`, whose SHA-256 is `sha256`; undefined when there is none. */
  find(sha256: string, block: Buffer): Promise<Buffer | undefined>;
}

interface CompressedBlock {
  member: Buffer;
  /** SHA-256 of the input, when members are being recorded. */
  block?: string;
}

let gzipAsync: typeof gzip.__promisify__ | undefined;

/** One block as a gzip member; zlib loads with the first (#14). */
function gzipMember(block: Buffer): Promise<Buffer> {
  gzipAsync ??= promisify(nodeZlib().gzip);
  return gzipAsync(block, { level: GZIP_LEVEL });
}

/**
 * gzip on every core: the input is cut into fixed 1 MiB blocks, each
 * compressed on its own (zlib runs them on libuv's thread pool) and written
 * out in order as a member of a multi-member gzip stream, which every gzip
 * reader (gunzip, Go's compress/gzip, Node's zlib) reads as one file. The
 * cut points depend only on the input, so equal input gives equal bytes.
 *
 * With a member source, each block is hashed first and a member compressed
 * before from equal input is taken instead of compressing it again: a layer
 * rebuilt after one changed file recompresses the blocks that changed, not
 * the whole tree. `members` then lists what was written, for the source to
 * learn.
 */
export class ParallelGzip extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly inFlight: Promise<CompressedBlock>[] = [];
  private readonly maxInFlight = Math.max(2, availableParallelism());
  private wroteMember = false;
  private readonly written: GzipMember[] = [];

  constructor(private readonly reuse?: GzipMemberSource) {
    super();
  }

  /** The members written so far, in order (recorded only with a member source). */
  get members(): readonly GzipMember[] {
    return this.written;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Most chunks (tar headers, small files) complete no block: no promise for them.
    if (this.pendingBytes < BLOCK_BYTES) return done();
    this.drainBlocks(false).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    this.drainBlocks(true)
      .then(async () => {
        while (this.inFlight.length > 0) this.pushMember(await this.inFlight.shift()!);
        // An empty input still has to be a valid gzip file.
        if (!this.wroteMember) this.push(await gzipMember(Buffer.alloc(0)));
        done();
      }, done);
  }

  private async drainBlocks(final: boolean): Promise<void> {
    while (this.pendingBytes >= BLOCK_BYTES || (final && this.pendingBytes > 0)) {
      this.inFlight.push(this.compress(this.takeBlock()));
      this.wroteMember = true;
      // Keep every core busy, but no more blocks in memory than that.
      if (this.inFlight.length >= this.maxInFlight) this.pushMember(await this.inFlight.shift()!);
    }
  }

  private async compress(block: Buffer): Promise<CompressedBlock> {
    if (!this.reuse) return { member: await gzipMember(block) };
    const sha256 = await sha256OnPool(block);
    return { member: (await this.reuse.find(sha256, block)) ?? (await gzipMember(block)), block: sha256 };
  }

  private pushMember({ member, block }: CompressedBlock): void {
    if (block !== undefined) this.written.push({ block, length: member.length });
    this.push(member);
  }

  /** The next block of input (shorter only at the end); a chunk that holds a whole block is not copied. */
  private takeBlock(): Buffer {
    const first = this.pending[0]!;
    const all = first.length >= BLOCK_BYTES ? first : Buffer.concat(this.pending);
    const block = all.subarray(0, BLOCK_BYTES);
    const rest = all.subarray(block.length);
    if (all === first) this.pending.shift();
    else this.pending = [];
    if (rest.length > 0) this.pending.unshift(rest);
    this.pendingBytes -= block.length;
    return block;
  }
}
