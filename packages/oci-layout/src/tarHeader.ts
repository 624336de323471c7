/** A tar archive that cannot be read: why, for the reader to explain. */
export class TarFormatError extends Error {
  constructor(
    readonly reason: 'checksum' | 'truncated' | 'corrupt',
    message: string,
  ) {
    super(message);
  }
}

export const TAR_BLOCK = 512;

/** The fields of one header block as stored, before GNU long names or PAX records apply. */
export interface TarHeaderBlock {
  name: string;
  /** One character; '\0' (pre-POSIX regular file) is reported as '0'. */
  typeflag: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  linkname: string;
  devmajor: number;
  devminor: number;
}

const CHECKSUM_OFFSET = 148;
const CHECKSUM_LENGTH = 8;
const SPACE = 0x20;
const ZERO_DIGIT = 0x30;

/** The block's byte sum with the checksum field counted as spaces, bytes read as unsigned (POSIX) or signed (some old tars). */
function checksum(block: Buffer, at: number, signed: boolean): number {
  let sum = SPACE * CHECKSUM_LENGTH;
  for (let i = at, end = at + TAR_BLOCK; i < end; i++) {
    if (i === at + CHECKSUM_OFFSET) i += CHECKSUM_LENGTH;
    const byte = block[i]!;
    sum += signed && byte >= 0x80 ? byte - 256 : byte;
  }
  return sum;
}

/** Input buffers as 32-bit words, for checksums four bytes at a time: one view per buffer, made when a header in it needs one. */
export class WordView {
  private buffer: ArrayBufferLike | undefined;
  private words: Int32Array<ArrayBufferLike> = new Int32Array(0);

  of(block: Buffer): Int32Array<ArrayBufferLike> {
    if (block.buffer !== this.buffer) {
      this.buffer = block.buffer;
      this.words = new Int32Array(block.buffer, 0, block.buffer.byteLength >> 2);
    }
    return this.words;
  }
}

/**
 * The unsigned checksum, four bytes at a time where the block is 4-byte
 * aligned: two 16-bit lanes add alternate bytes (128 words add at most
 * 65,280 to a lane, so lanes never carry into each other). This is the
 * parser's hottest loop for archives of small files.
 */
function unsignedChecksum(block: Buffer, at: number, view: WordView): number {
  const byteOffset = block.byteOffset + at;
  if ((byteOffset & 3) !== 0) return checksum(block, at, false);
  const words = view.of(block);
  let lanes = 0;
  for (let i = byteOffset >> 2, end = i + TAR_BLOCK / 4; i < end; i++) {
    const word = words[i]!;
    lanes += (word & 0x00ff00ff) + ((word >>> 8) & 0x00ff00ff);
  }
  let sum = (lanes & 0xffff) + (lanes >>> 16) + SPACE * CHECKSUM_LENGTH;
  for (let i = at + CHECKSUM_OFFSET; i < at + CHECKSUM_OFFSET + CHECKSUM_LENGTH; i++) sum -= block[i]!;
  return sum;
}

/** Whether the block is all zeros: two of them end an archive. */
export function isZeroBlock(block: Buffer, at: number): boolean {
  for (let i = at, end = at + TAR_BLOCK; i < end; i++) if (block[i] !== 0) return false;
  return true;
}

/**
 * A numeric field: octal digits (leading spaces or NULs allowed, ended by a
 * space or NUL), or GNU's base-256 when the first byte has its high bit set.
 */
function numericField(block: Buffer, at: number, length: number): number {
  const first = block[at]!;
  if (first & 0x80) return base256(block, at, length);
  let i = at;
  const end = at + length;
  while (i < end && (block[i] === SPACE || block[i] === 0)) i++;
  let value = 0;
  for (; i < end; i++) {
    const digit = block[i]! - ZERO_DIGIT;
    if (digit < 0 || digit > 7) break;
    value = value * 8 + digit;
  }
  return value;
}

function base256(block: Buffer, at: number, length: number): number {
  const negative = block[at] === 0xff;
  let value = negative ? -1 : block[at]! & 0x7f;
  for (let i = at + 1; i < at + length; i++) value = value * 256 + block[i]!;
  if (!Number.isSafeInteger(value)) throw new TarFormatError('corrupt', 'a tar header has a number too large to represent');
  return value;
}

/** A NUL-terminated (or field-filling) UTF-8 string field. */
function textField(block: Buffer, at: number, length: number): string {
  let end = at;
  const limit = at + length;
  while (end < limit && block[end] !== 0) end++;
  return end === at ? '' : block.toString('utf8', at, end);
}

function hasMagic(block: Buffer, at: number, magic: string): boolean {
  for (let i = 0; i < magic.length; i++) if (block[at + 257 + i] !== magic.charCodeAt(i)) return false;
  return true;
}

/** star (marked by "tar" at the block's end) keeps times after a shorter prefix. */
function prefixLength(block: Buffer, at: number): number {
  return block[at + 508] === 0x74 && block[at + 509] === 0x61 && block[at + 510] === 0x72 && block[at + 511] === 0 ? 131 : 155;
}

/**
 * Decodes the header block at `at` (512 bytes must be there). Verifies its
 * checksum; the caller has already set zero blocks aside.
 */
export function decodeHeaderBlock(block: Buffer, at: number, view: WordView): TarHeaderBlock {
  const stored = numericField(block, at + CHECKSUM_OFFSET, CHECKSUM_LENGTH);
  if (stored !== unsignedChecksum(block, at, view) && stored !== checksum(block, at, true)) {
    throw new TarFormatError('checksum', 'a tar header failed its checksum');
  }
  let name = textField(block, at, 100);
  // POSIX ustar splits long names into prefix/name; GNU tar ("ustar  ") uses those bytes for other things.
  if (hasMagic(block, at, 'ustar\0') && block[at + 345] !== 0) name = `${textField(block, at + 345, prefixLength(block, at))}/${name}`;
  const flagByte = block[at + 156]!;
  const typeflag = flagByte === 0 ? '0' : String.fromCharCode(flagByte);
  const device = typeflag === '3' || typeflag === '4';
  return {
    name,
    typeflag,
    mode: numericField(block, at + 100, 8),
    uid: numericField(block, at + 108, 8),
    gid: numericField(block, at + 116, 8),
    size: numericField(block, at + 124, 12),
    mtime: numericField(block, at + 136, 12),
    linkname: textField(block, at + 157, 100),
    devmajor: device ? numericField(block, at + 329, 8) : 0,
    devminor: device ? numericField(block, at + 337, 8) : 0,
  };
}
