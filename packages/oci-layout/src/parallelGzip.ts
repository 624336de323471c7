import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import type { gzip } from 'node:zlib';
import { nodeZlib } from './onDemandBuiltins.js';
import type { BlockCuts } from './blockCuts.js';
import { blockDigest, type BlockDigest } from './poolSha256.js';

/**
 * Speed over the last few percent of size, as go-containerregistry chooses
 * (gzip.BestSpeed): about 3x faster than the default level on layer data.
 */
const GZIP_LEVEL = 1;

/** Input is cut into blocks this big, unless told where to cut; each becomes one gzip member. */
const BLOCK_BYTES = 1024 * 1024;
/** A block cut where it was told is cut here anyway when no cut is marked within it. */
const MAX_MARKED_BLOCK = 8 * 1024 * 1024;

/** What a member's bytes depend on besides its input: members made otherwise are not reused. */
export const GZIP_MEMBER_FORMAT = `gzip level ${GZIP_LEVEL}`;

/** A member as the stream wrote it: the SHA-256 (hex) of its input block and its compressed length. */
export interface GzipMember {
  block: string;
  length: number;
}

/** Members compressed before, to be taken again for equal input (see GzipMemberIndex). */
export interface GzipMemberSource {
  /** A member known to hold exactly the block of these digests; undefined when there is none. */
  find(block: BlockDigest): Promise<Buffer | undefined>;
}

export interface GzipOptions {
  /** Members compressed before, to take for equal blocks; `members` then lists what was written. */
  reuse?: GzipMemberSource | undefined;
  /** Where to cut blocks (the layer writer's choice); without it, every BLOCK_BYTES. */
  cuts?: BlockCuts | undefined;
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
 * gzip on every core: the input is cut into blocks (of 1 MiB, or where
 * BlockCuts says), each compressed on its own (zlib runs them on libuv's
 * thread pool) and written out in order as a member of a multi-member gzip
 * stream, which every gzip reader (gunzip, Go's compress/gzip, Node's zlib)
 * reads as one file. The cut points depend only on the input, so equal input
 * gives equal bytes.
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
  private readonly written: GzipMember[] = [];
  /** Stream offset of the first pending byte. */
  private taken = 0;
  private readonly reuse: GzipMemberSource | undefined;
  private readonly cuts: BlockCuts | undefined;

  constructor(options: GzipOptions = {}) {
    super();
    this.reuse = options.reuse;
    this.cuts = options.cuts;
  }

  /** The members written so far, in order (recorded only with a member source). */
  get members(): readonly GzipMember[] {
    return this.written;
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    // Most chunks (tar headers, small files) complete no block: no promise for them.
    if (this.nextBlockBytes(false) === undefined) return done();
    this.drainBlocks(false).then(() => done(), done);
  }

  override _flush(done: TransformCallback): void {
    this.drainBlocks(true)
      .then(async () => {
        while (this.inFlight.length > 0) this.pushMember(await this.inFlight.shift()!);
        // An empty input still has to be a valid gzip file.
        if (this.taken === 0) this.push(await gzipMember(Buffer.alloc(0)));
        done();
      }, done);
  }

  private async drainBlocks(final: boolean): Promise<void> {
    for (let bytes = this.nextBlockBytes(final); bytes !== undefined; bytes = this.nextBlockBytes(final)) {
      this.inFlight.push(this.compress(this.takeBlock(bytes)));
      // Keep every core busy, but no more blocks in memory than that.
      if (this.inFlight.length >= this.maxInFlight) this.pushMember(await this.inFlight.shift()!);
    }
  }

  private async compress(block: Buffer): Promise<CompressedBlock> {
    if (!this.reuse) return { member: await gzipMember(block) };
    const digest = await blockDigest(block);
    return { member: (await this.reuse.find(digest)) ?? (await gzipMember(block)), block: digest.sha256 };
  }

  private pushMember({ member, block }: CompressedBlock): void {
    if (block !== undefined) this.written.push({ block, length: member.length });
    this.push(member);
  }

  /** The length of the next block if the pending input completes it (at the end, whatever is left). */
  private nextBlockBytes(final: boolean): number | undefined {
    if (this.pendingBytes === 0) return undefined;
    let bytes = BLOCK_BYTES;
    if (this.cuts) {
      const cut = this.cuts.after(this.taken);
      bytes = cut === undefined ? MAX_MARKED_BLOCK : Math.min(cut - this.taken, MAX_MARKED_BLOCK);
    }
    if (bytes <= this.pendingBytes) return bytes;
    return final ? this.pendingBytes : undefined;
  }

  /** The next `bytes` of input as one buffer; a chunk that holds them all is not copied. */
  private takeBlock(bytes: number): Buffer {
    const first = this.pending[0]!;
    const block = first.length >= bytes ? first.subarray(0, bytes) : Buffer.concat(this.pending, bytes);
    for (let left = bytes; left > 0;) {
      const chunk = this.pending[0]!;
      if (chunk.length > left) {
        this.pending[0] = chunk.subarray(left);
        break;
      }
      this.pending.shift();
      left -= chunk.length;
    }
    this.pendingBytes -= bytes;
    this.taken += bytes;
    return block;
  }
}
