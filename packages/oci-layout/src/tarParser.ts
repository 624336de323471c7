import { decodeHeaderBlock, isZeroBlock, TAR_BLOCK, TarFormatError, WordView, type TarHeaderBlock } from './tarHeader.js';
import { parsePaxRecords, type PaxRecords } from './tarPax.js';

/** One member of a tar archive, with GNU long names and PAX records applied. */
export interface TarMember extends TarHeaderBlock {
  /** Bytes of content that follow the header: 0 for the types that never have any (links, devices, directories, fifos). */
  size: number;
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

/** Largest GNU long name or PAX header data accepted (each is held in memory). */
const MAX_EXTENSION_SIZE = 4 * 1024 * 1024;

/** Typeflags of members that never carry content, whatever their size field says (as Go's archive/tar reads them). */
const HEADER_ONLY_TYPES = new Set(['1', '2', '3', '4', '5', '6']);

const enum State {
  Header,
  Content,
  Extension,
  Padding,
  Ended,
}

type Extension = 'L' | 'K' | 'x' | 'g';
const EXTENSIONS = new Set<string>(['L', 'K', 'x', 'g']);

const padding = (size: number) => (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;

/**
 * A streaming tar reader: ustar, GNU (long names `L`, long link names `K`,
 * base-256 numbers) and PAX (`x` records for path, linkpath, size, uid, gid,
 * mtime and SCHILY.xattr.*; global `g` headers are skipped). Feed it bytes
 * with `write`, in pieces of any size, and call `end` when there are no
 * more: it calls the visitor synchronously, handing content over as views of
 * the input, so a member costs little beyond decoding its header. Throws
 * TarFormatError for a header that fails its checksum or an archive that ends
 * inside a member. Two zero blocks end the archive; bytes after them are
 * ignored.
 */
export class TarParser {
  private state = State.Header;
  /** A header block that arrived split across writes. */
  private readonly partialBlock = Buffer.alloc(TAR_BLOCK);
  private partialLength = 0;
  /** Bytes left of the current member's content, extension data or padding. */
  private remaining = 0;
  private contentPadding = 0;
  private extension: { type: Extension; data: Buffer; filled: number } | undefined;
  private longName: string | undefined;
  private longLinkName: string | undefined;
  private pax: PaxRecords | undefined;
  private zeroBlocks = 0;
  private readonly words = new WordView();

  constructor(private readonly visitor: TarVisitor) {}

  /** Whether the end-of-archive marker (two zero blocks) has been read. */
  get ended(): boolean {
    return this.state === State.Ended;
  }

  write(chunk: Buffer): void {
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
        case State.Extension: {
          const extension = this.extension!;
          const take = Math.min(extension.data.length - extension.filled, length - at);
          chunk.copy(extension.data, extension.filled, at, at + take);
          extension.filled += take;
          at += take;
          if (extension.filled === extension.data.length) this.applyExtension(extension.type, extension.data);
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
      }
    }
  }

  /** The input is complete: throws if it stopped inside a member or header. */
  end(): void {
    if (this.state === State.Ended) return;
    if (this.state !== State.Header || this.partialLength > 0) throw new TarFormatError('truncated', 'the archive ends in the middle of a member');
    if (this.longName !== undefined || this.longLinkName !== undefined || this.pax) {
      throw new TarFormatError('truncated', 'the archive ends after an extended header, without its member');
    }
  }

  private header(block: Buffer, at: number): void {
    if (isZeroBlock(block, at)) {
      if (++this.zeroBlocks === 2) this.state = State.Ended;
      return;
    }
    this.zeroBlocks = 0;
    const header = decodeHeaderBlock(block, at, this.words);
    if (header.size < 0) throw new TarFormatError('corrupt', `tar member "${header.name}" has a negative size`);
    if (EXTENSIONS.has(header.typeflag)) {
      if (header.size > MAX_EXTENSION_SIZE) throw new TarFormatError('corrupt', `a tar extended header of ${header.size} bytes is larger than allowed`);
      this.extension = { type: header.typeflag as Extension, data: Buffer.alloc(header.size), filled: 0 };
      this.contentPadding = padding(header.size);
      this.state = State.Extension;
      if (header.size === 0) this.applyExtension(this.extension.type, this.extension.data);
      return;
    }
    const member = this.withExtensions(header);
    this.visitor.member(member);
    this.contentPadding = padding(member.size);
    if (member.size === 0) {
      this.endMember();
    } else {
      this.remaining = member.size;
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
    if (this.longName !== undefined) member.name = this.longName;
    if (this.longLinkName !== undefined) member.linkname = this.longLinkName;
    this.longName = this.longLinkName = undefined;
    if (HEADER_ONLY_TYPES.has(member.typeflag)) member.size = 0;
    // Pre-POSIX archives mark directories with a trailing slash only (any bytes such a member has are still skipped).
    if (member.typeflag === '0' && member.name.endsWith('/')) member.typeflag = '5';
    return member;
  }

  private applyExtension(type: Extension, data: Buffer): void {
    this.extension = undefined;
    switch (type) {
      case 'L':
        this.longName = nulTerminated(data);
        break;
      case 'K':
        this.longLinkName = nulTerminated(data);
        break;
      case 'x':
        this.pax = parsePaxRecords(data);
        break;
      case 'g':
        break;
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
  return data.toString('utf8', 0, nul < 0 ? data.length : nul);
}
