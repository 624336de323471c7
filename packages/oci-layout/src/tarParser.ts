import { decodeName } from './byteNames.js';
import type { SparseRegion } from './layerEntry.js';
import { decodeHeaderBlock, EMPTY_HEADER_FIELDS, isGnuHeader, isZeroBlock, TAR_BLOCK, TarFormatError, WordView, type TarHeaderBlock } from './tarHeader.js';
import { parsePaxRecords, type PaxRecords } from './tarPax.js';
import { checkedRegions, MAX_SPARSE_MAP_BYTES, oldGnuSparseExtension, oldGnuSparseHeader, paxSparse0x, paxSparseFormat, paxSparseSize, SparseMap1x0 } from './tarSparse.js';

/** One member of a tar archive, with GNU long names, PAX records and sparse maps applied. */
export interface TarMember extends TarHeaderBlock {
  /**
   * The member's logical size: for a regular file its length (a sparse
   * file's holes included); 0 for the types that never have content (links,
   * devices, directories, fifos) and for global PAX headers ('g').
   */
  size: number;
  /** A sparse file's data regions: the member's content is their bytes, one after another. */
  sparse?: SparseRegion[];
  /** Extended attributes from `SCHILY.xattr.*` PAX records, values as raw bytes. */
  xattrs?: Record<string, Buffer>;
}

/** Receives an archive's members as the parser finds them. */
export interface TarVisitor {
  member(member: TarMember): void;
  /** The next bytes of the current member's content: a view of the parser's input (no copy), valid while that input is. */
  content(piece: Buffer): void;
  /** The current member's content is complete (called for every member, after its content if it has any). */
  memberEnd(): void;
}

/** Largest GNU long name or PAX header data accepted (each is held in memory), Go's limit too. */
const MAX_EXTENSION_SIZE = 1024 * 1024;

/**
 * Ranges of numeric fields. Sizes and offsets must be counted exactly (2^53);
 * ids fit Linux's 32-bit uid_t, with (uid_t)-1 meaning "none"; modes a
 * 32-bit mode_t; times what a JavaScript Date holds; device numbers Linux's
 * dev_t (12 bits of major, 20 of minor).
 */
const MAX_ID = 0xfffffffe;
const MAX_MODE = 0xffffffff;
const MAX_MTIME = 8.64e12;
const MAX_DEVMAJOR = 0xfff;
const MAX_DEVMINOR = 0xfffff;

/** Typeflags of members that never carry content, whatever their size field says (as Go's archive/tar reads them). */
const HEADER_ONLY_TYPES = new Set(['1', '2', '3', '4', '5', '6']);

const enum State {
  Header,
  /** Collecting a block-aligned run of bytes the parser must see whole: extension data, sparse map blocks. */
  Collect,
  Content,
  Padding,
  Ended,
  Failed,
}

const enum Collecting {
  /** The data of an 'x', 'g', 'L' or 'K' header. */
  Extension,
  /** An old GNU sparse extension block. */
  OldGnuSparse,
  /** A block of a PAX 1.0 sparse map, from the member's data. */
  SparseMap,
}

const padding = (size: number) => (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;

function outOfRange(member: TarHeaderBlock, field: string, value: number): TarFormatError {
  return new TarFormatError('corrupt', `tar member "${member.name}" has ${field} ${value}, out of range`);
}

function checkInteger(member: TarHeaderBlock, field: string, value: number, max: number): void {
  if (!(value >= 0 && value <= max)) throw outOfRange(member, field, value);
}

function checkSize(member: TarHeaderBlock, size: number): void {
  checkInteger(member, 'size', size, Number.MAX_SAFE_INTEGER);
}

function checkRanges(member: TarMember): void {
  checkSize(member, member.size);
  checkInteger(member, 'mode', member.mode, MAX_MODE);
  checkInteger(member, 'uid', member.uid, MAX_ID);
  checkInteger(member, 'gid', member.gid, MAX_ID);
  checkInteger(member, 'devmajor', member.devmajor, MAX_DEVMAJOR);
  checkInteger(member, 'devminor', member.devminor, MAX_DEVMINOR);
  if (!(Math.abs(member.mtime) <= MAX_MTIME)) throw outOfRange(member, 'mtime', member.mtime);
}

/**
 * A streaming tar reader with the rules of Go's archive/tar: ustar (prefix),
 * star, GNU (long names `L`/`K`, base-256 numbers, old sparse `S` with
 * extension blocks, and the prefix pre-1.8 Go writers put in GNU headers),
 * and PAX (`x` records for path, linkpath, size, uid, gid, mtime,
 * SCHILY.xattr.* and GNU sparse 0.0/0.1/1.0; a global `g` header is reported
 * as a member of its own and applies to nothing else).
 *
 * Feed it bytes with `write`, in pieces of any size, and call `end` when
 * there are no more. It calls the visitor synchronously, handing content
 * over as views of the input. It only moves forward, holds at most one
 * extended header or sparse map (1 MiB) at a time, and its result — members,
 * contents, and the TarFormatError it throws — is the same however the input
 * is split. After an error it throws that error again.
 *
 * Where the input may end is Go's rule too: at a header boundary or inside
 * a member's padding (an archive without its end marker), but not inside a
 * header, a member's data, or an extended header. A zero block followed by
 * anything but a second one is an error; after two, the rest is ignored.
 */
export class TarParser {
  private state = State.Header;
  /** A header block that arrived split across writes. */
  private readonly partialBlock = Buffer.alloc(TAR_BLOCK);
  private partialLength = 0;
  /** Bytes left of the current member's content or padding. */
  private remaining = 0;
  private contentPadding = 0;
  private collecting = Collecting.Extension;
  private collectType = '';
  private collectName = '';
  private collected: Buffer = Buffer.alloc(0);
  private filled = 0;
  /** The member whose sparse map is being collected, and what of its data is left after it. */
  private pending: { member: TarMember; regions: SparseRegion[]; dataBytes: number; blocks: number; map?: SparseMap1x0 } | undefined;
  private longName: string | undefined;
  private longLinkName: string | undefined;
  private pax: PaxRecords | undefined;
  private zeroBlocks = 0;
  private error: TarFormatError | undefined;
  private readonly words = new WordView();

  constructor(private readonly visitor: TarVisitor) {}

  /** Whether the end-of-archive marker (two zero blocks) has been read. */
  get ended(): boolean {
    return this.state === State.Ended;
  }

  write(chunk: Buffer): void {
    if (this.state === State.Failed) throw this.error!;
    try {
      this.parse(chunk);
    } catch (error) {
      if (error instanceof TarFormatError) {
        this.state = State.Failed;
        this.error = error;
      }
      throw error;
    }
  }

  private parse(chunk: Buffer): void {
    let at = 0;
    const length = chunk.length;
    while (at < length) {
      switch (this.state) {
        case State.Header:
          if (this.partialLength === 0 && length - at >= TAR_BLOCK) {
            this.header(chunk, at);
            at += TAR_BLOCK;
          } else {
            const take = Math.min(TAR_BLOCK - this.partialLength, length - at);
            chunk.copy(this.partialBlock, this.partialLength, at, at + take);
            this.partialLength += take;
            at += take;
            if (this.partialLength === TAR_BLOCK) {
              this.partialLength = 0;
              this.header(this.partialBlock, 0);
            }
          }
          break;
        case State.Content: {
          const take = Math.min(this.remaining, length - at);
          this.remaining -= take;
          this.visitor.content(chunk.subarray(at, at + take));
          at += take;
          if (this.remaining === 0) this.endMember();
          break;
        }
        case State.Collect: {
          const take = Math.min(this.collected.length - this.filled, length - at);
          chunk.copy(this.collected, this.filled, at, at + take);
          this.filled += take;
          at += take;
          if (this.filled === this.collected.length) this.collectedAll();
          break;
        }
        case State.Padding: {
          const take = Math.min(this.remaining, length - at);
          this.remaining -= take;
          at += take;
          if (this.remaining === 0) this.state = State.Header;
          break;
        }
        case State.Ended:
          return;
        case State.Failed:
          throw this.error!;
      }
    }
  }

  /**
   * Passes over the rest of the current member's content and padding
   * without being given them, for a reader that seeks in its input and
   * wants the headers only. Returns how many input bytes to jump over (0
   * where the parser is not inside a member's content or padding).
   */
  skipContent(): number {
    let skipped = 0;
    if (this.state === State.Content) {
      skipped = this.remaining;
      this.remaining = 0;
      this.endMember();
    }
    if (this.state !== State.Padding) return skipped;
    skipped += this.remaining;
    this.remaining = 0;
    this.state = State.Header;
    return skipped;
  }

  /** The input is complete: throws if it stopped inside a header, a member's data or an extended header. */
  end(): void {
    switch (this.state) {
      case State.Failed:
        throw this.error!;
      case State.Ended:
      case State.Padding:
        return;
      case State.Header:
        if (this.partialLength === 0) return;
        break;
      case State.Content:
      case State.Collect:
        break;
    }
    this.state = State.Failed;
    this.error = new TarFormatError('truncated', 'the archive ends in the middle of a member');
    throw this.error;
  }

  private header(block: Buffer, at: number): void {
    if (isZeroBlock(block, at)) {
      if (++this.zeroBlocks === 2) this.state = State.Ended;
      return;
    }
    if (this.zeroBlocks > 0) throw new TarFormatError('corrupt', 'a zero block is followed by a header, not by the end of the archive');
    const header = decodeHeaderBlock(block, at, this.words);
    switch (header.typeflag) {
      case 'x':
      case 'g':
      case 'L':
      case 'K':
        checkSize(header, header.size);
        if (header.size > MAX_EXTENSION_SIZE) {
          throw new TarFormatError('too-large', `a tar extended header of ${header.size} bytes is larger than allowed`);
        }
        this.collectType = header.typeflag;
        this.collectName = header.name;
        this.contentPadding = padding(header.size);
        this.collect(Collecting.Extension, header.size);
        return;
    }
    const sparse = this.pax?.sparse;
    const member = this.withExtensions(header);
    // The stored size, before a sparse map may replace it with the logical one.
    checkSize(member, member.size);
    if (member.typeflag === 'S') {
      if (!isGnuHeader(block, at)) throw new TarFormatError('corrupt', `tar member "${member.name}" is sparse in a header that is not GNU`);
      const { regions, size, extended } = oldGnuSparseHeader(block, at);
      this.pending = { member, regions, dataBytes: member.size, blocks: 0 };
      member.size = size;
      if (extended) this.collect(Collecting.OldGnuSparse, TAR_BLOCK);
      else this.emit();
      return;
    }
    const sparseFormat = paxSparseFormat(sparse);
    if (sparseFormat) {
      if (HEADER_ONLY_TYPES.has(member.typeflag)) throw new TarFormatError('corrupt', `tar member "${member.name}" has a sparse map but no content`);
      if (sparse!.name) member.name = sparse!.name;
      const dataBytes = member.size;
      member.size = paxSparseSize(sparse!) ?? member.size;
      if (sparseFormat === '0.x') {
        this.pending = { member, regions: paxSparse0x(sparse!), dataBytes, blocks: 0 };
        this.emit();
      } else {
        this.pending = { member, regions: [], dataBytes, blocks: 0, map: new SparseMap1x0() };
        this.nextSparseMapBlock();
      }
      return;
    }
    checkRanges(member);
    this.startContent(member, member.size);
  }

  private collect(what: Collecting, bytes: number): void {
    this.collecting = what;
    this.collected = Buffer.allocUnsafe(bytes);
    this.filled = 0;
    this.state = State.Collect;
    if (bytes === 0) this.collectedAll();
  }

  private collectedAll(): void {
    const data = this.collected;
    this.collected = Buffer.alloc(0);
    switch (this.collecting) {
      case Collecting.Extension:
        this.applyExtension(data);
        break;
      case Collecting.OldGnuSparse:
        if (oldGnuSparseExtension(data, 0, this.pending!.regions)) {
          if (++this.pending!.blocks * TAR_BLOCK > MAX_SPARSE_MAP_BYTES) {
            throw new TarFormatError('too-large', 'an old GNU sparse map is larger than allowed');
          }
          this.collect(Collecting.OldGnuSparse, TAR_BLOCK);
        } else {
          this.emit();
        }
        break;
      case Collecting.SparseMap: {
        const pending = this.pending!;
        pending.dataBytes -= TAR_BLOCK;
        if (pending.map!.add(data)) {
          pending.regions = pending.map!.regions();
          pending.map = undefined;
          this.emit();
        } else {
          this.nextSparseMapBlock();
        }
        break;
      }
    }
  }

  private nextSparseMapBlock(): void {
    const pending = this.pending!;
    if (pending.dataBytes < TAR_BLOCK) throw new TarFormatError('corrupt', `tar member "${pending.member.name}" has a sparse map longer than its data`);
    this.collect(Collecting.SparseMap, TAR_BLOCK);
  }

  /** The sparse member whose map is complete: checked, then on to its data. */
  private emit(): void {
    const { member, regions, dataBytes } = this.pending!;
    this.pending = undefined;
    checkRanges(member);
    checkSize(member, dataBytes);
    member.sparse = checkedRegions(regions, member.size, dataBytes);
    this.startContent(member, dataBytes);
  }

  private startContent(member: TarMember, dataBytes: number): void {
    this.visitor.member(member);
    this.contentPadding = padding(dataBytes);
    if (dataBytes === 0) {
      this.endMember();
    } else {
      this.remaining = dataBytes;
      this.state = State.Content;
    }
  }

  private withExtensions(header: TarHeaderBlock): TarMember {
    const member: TarMember = header;
    const pax = this.pax;
    if (pax) {
      if (pax.path !== undefined) member.name = pax.path;
      if (pax.linkpath !== undefined) member.linkname = pax.linkpath;
      if (pax.size !== undefined) member.size = pax.size;
      if (pax.uid !== undefined) member.uid = pax.uid;
      if (pax.gid !== undefined) member.gid = pax.gid;
      if (pax.mtime !== undefined) member.mtime = pax.mtime;
      if (pax.xattrs) member.xattrs = pax.xattrs;
      this.pax = undefined;
    }
    // GNU long names win over PAX paths, as in Go's archive/tar.
    if (this.longName) member.name = this.longName;
    if (this.longLinkName) member.linkname = this.longLinkName;
    this.longName = this.longLinkName = undefined;
    if (HEADER_ONLY_TYPES.has(member.typeflag)) {
      // Any size these have is not data: no bytes follow (range-checked all the same).
      checkSize(member, member.size);
      member.size = 0;
    }
    // Pre-POSIX archives mark directories with a trailing slash only.
    if (member.typeflag === '\0') member.typeflag = member.name.endsWith('/') ? '5' : '0';
    return member;
  }

  private applyExtension(data: Buffer): void {
    switch (this.collectType) {
      case 'L':
        this.longName = nulTerminated(data);
        break;
      case 'K':
        this.longLinkName = nulTerminated(data);
        break;
      case 'x':
        this.pax = parsePaxRecords(data);
        break;
      case 'g': {
        // Go reports a global header as a member of its own, named by its path record, and forgets what came before it.
        const records = parsePaxRecords(data);
        this.pax = this.longName = this.longLinkName = undefined;
        this.visitor.member({
          name: records.path ?? this.collectName,
          typeflag: 'g',
          ...EMPTY_HEADER_FIELDS,
          ...(records.xattrs ? { xattrs: records.xattrs } : {}),
        });
        this.visitor.memberEnd();
        break;
      }
    }
    this.skipPadding();
  }

  private endMember(): void {
    this.visitor.memberEnd();
    this.skipPadding();
  }

  private skipPadding(): void {
    this.remaining = this.contentPadding;
    this.state = this.remaining > 0 ? State.Padding : State.Header;
  }
}

function nulTerminated(data: Buffer): string {
  const nul = data.indexOf(0);
  return decodeName(data, 0, nul < 0 ? data.length : nul);
}
