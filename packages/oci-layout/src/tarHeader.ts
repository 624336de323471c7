import { decodeName } from './byteNames.js';

/**
 * Why an archive cannot be read: a header failed its checksum, the input
 * stopped inside a member, a field or record is malformed or out of range,
 * or an extended header (or sparse map) is larger than a reader holds.
 */
export type TarFormatReason = 'checksum' | 'truncated' | 'corrupt' | 'too-large';

/** A tar archive that cannot be read: why, for the reader to explain. */
export class TarFormatError extends Error {
  constructor(
    readonly reason: TarFormatReason,
    message: string,
  ) {
    super(message);
  }
}

export const TAR_BLOCK = 512;

/** The fields of one header block as stored, before GNU long names or PAX records apply. */
export interface TarHeaderBlock {
  /** Name bytes as decoded by `decodeName` (non-UTF-8 bytes survive as lone surrogates). */
  name: string;
  /** One character, as stored ('\0' is a pre-POSIX regular file, or a directory when the name ends in `/`). */
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

/** Every numeric and link field of a header empty: the writer's whiteouts and the reader's global headers set only name and type. */
export const EMPTY_HEADER_FIELDS: Readonly<Omit<TarHeaderBlock, 'name' | 'typeflag'>> = {
  mode: 0,
  uid: 0,
  gid: 0,
  size: 0,
  mtime: 0,
  linkname: '',
  devmajor: 0,
  devminor: 0,
};

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
 * A numeric field, read as Go's archive/tar does: GNU base-256 (two's
 * complement) when the first byte has its high bit set, else octal digits,
 * which may be surrounded by spaces and NULs and end at a NUL. NaN when the
 * field holds anything else, or a value beyond 2^53 (no field of a sane
 * archive comes near, and it would lose precision).
 */
function parseNumeric(block: Buffer, at: number, length: number): number {
  if (block[at]! & 0x80) return base256(block, at, length);
  let start = at;
  let end = at + length;
  while (start < end && (block[start] === SPACE || block[start] === 0)) start++;
  while (end > start && (block[end - 1] === SPACE || block[end - 1] === 0)) end--;
  let value = 0;
  for (let i = start; i < end; i++) {
    const byte = block[i]!;
    if (byte === 0) break;
    const digit = byte - ZERO_DIGIT;
    if (digit < 0 || digit > 7) return NaN;
    value = value * 8 + digit;
  }
  return value;
}

function base256(block: Buffer, at: number, length: number): number {
  const invert = block[at]! & 0x40 ? 0xff : 0;
  let value = (block[at]! ^ invert) & 0x7f;
  for (let i = at + 1; i < at + length; i++) {
    value = value * 256 + (block[i]! ^ invert);
    if (value > Number.MAX_SAFE_INTEGER) return NaN;
  }
  return invert ? -value - 1 : value;
}

function numericField(block: Buffer, at: number, length: number, field: string): number {
  const value = parseNumeric(block, at, length);
  if (Number.isNaN(value)) throw new TarFormatError('corrupt', `a tar header has a malformed ${field} field`);
  return value;
}

/** The end of a NUL-terminated (or field-filling) string field. */
function textEnd(block: Buffer, at: number, length: number): number {
  const nul = block.indexOf(0, at);
  return nul < 0 || nul > at + length ? at + length : nul;
}

/** A NUL-terminated (or field-filling) name field: bytes, decoded with `decodeName`. */
function textField(block: Buffer, at: number, length: number): string {
  const end = textEnd(block, at, length);
  return end === at ? '' : decodeName(block, at, end);
}

function hasMagic(block: Buffer, at: number, magic: string): boolean {
  for (let i = 0; i < magic.length; i++) if (block[at + 257 + i] !== magic.charCodeAt(i)) return false;
  return true;
}

/** Header layouts, told apart as Go's archive/tar does: by magic, version and star's trailer. */
const enum HeaderFormat {
  V7,
  Ustar,
  Star,
  Gnu,
}

function headerFormat(block: Buffer, at: number): HeaderFormat {
  if (hasMagic(block, at, 'ustar\0')) {
    const star = block[at + 508] === 0x74 && block[at + 509] === 0x61 && block[at + 510] === 0x72 && block[at + 511] === 0;
    return star ? HeaderFormat.Star : HeaderFormat.Ustar;
  }
  return hasMagic(block, at, 'ustar  \0') ? HeaderFormat.Gnu : HeaderFormat.V7;
}

const PREFIX_OFFSET = 345;
const GNU_ATIME_OFFSET = 345;
const GNU_CTIME_OFFSET = 357;

/**
 * GNU headers have no prefix field: atime and ctime are where ustar keeps it.
 * Go's writer before 1.8 put a ustar prefix there anyway; when those bytes
 * are no valid times but ASCII text, they are that prefix (as Go reads them).
 */
function gnuPrefix(block: Buffer, at: number): string {
  const timesValid =
    (block[at + GNU_ATIME_OFFSET] === 0 || !Number.isNaN(parseNumeric(block, at + GNU_ATIME_OFFSET, 12))) &&
    (block[at + GNU_CTIME_OFFSET] === 0 || !Number.isNaN(parseNumeric(block, at + GNU_CTIME_OFFSET, 12)));
  if (timesValid) return '';
  const end = textEnd(block, at + PREFIX_OFFSET, 155);
  for (let i = at + PREFIX_OFFSET; i < end; i++) if (block[i]! >= 0x80) return '';
  return block.toString('latin1', at + PREFIX_OFFSET, end);
}

function namePrefix(block: Buffer, at: number, format: HeaderFormat): string {
  switch (format) {
    case HeaderFormat.Ustar:
      return block[at + PREFIX_OFFSET] === 0 ? '' : textField(block, at + PREFIX_OFFSET, 155);
    case HeaderFormat.Star:
      return block[at + PREFIX_OFFSET] === 0 ? '' : textField(block, at + PREFIX_OFFSET, 131);
    case HeaderFormat.Gnu:
      return gnuPrefix(block, at);
    case HeaderFormat.V7:
      return '';
  }
}

/** Whether the header at `at` is a GNU one: only those carry an old GNU sparse map (star's 'S' is another layout). */
export function isGnuHeader(block: Buffer, at: number): boolean {
  return headerFormat(block, at) === HeaderFormat.Gnu;
}

/** A numeric field of an old GNU sparse map (offset or length of a region), with the header's rules. */
export function sparseNumber(block: Buffer, at: number): number {
  return numericField(block, at, 12, 'sparse map');
}

/**
 * Decodes the header block at `at` (512 bytes must be there). Verifies its
 * checksum; the caller has already set zero blocks aside. Numbers are only
 * parsed here: their ranges are the parser's to check, once extended headers
 * have had their say.
 */
export function decodeHeaderBlock(block: Buffer, at: number, view: WordView): TarHeaderBlock {
  // A checksum field that is no number (NaN) fails the checksum, as in Go: both say "not a header".
  const stored = parseNumeric(block, at + CHECKSUM_OFFSET, CHECKSUM_LENGTH);
  if (stored !== unsignedChecksum(block, at, view) && stored !== checksum(block, at, true)) {
    throw new TarFormatError('checksum', 'a tar header failed its checksum');
  }
  const format = headerFormat(block, at);
  const name = textField(block, at, 100);
  const prefix = namePrefix(block, at, format);
  return {
    name: prefix === '' ? name : `${prefix}/${name}`,
    typeflag: String.fromCharCode(block[at + 156]!),
    mode: numericField(block, at + 100, 8, 'mode'),
    uid: numericField(block, at + 108, 8, 'uid'),
    gid: numericField(block, at + 116, 8, 'gid'),
    size: numericField(block, at + 124, 12, 'size'),
    mtime: numericField(block, at + 136, 12, 'mtime'),
    linkname: textField(block, at + 157, 100),
    devmajor: format === HeaderFormat.V7 ? 0 : numericField(block, at + 329, 8, 'devmajor'),
    devminor: format === HeaderFormat.V7 ? 0 : numericField(block, at + 337, 8, 'devminor'),
  };
}
