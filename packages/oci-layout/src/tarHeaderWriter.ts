import { encodeName } from './byteNames.js';
import type { EntryType } from './layerEntry.js';
import { EMPTY_HEADER_FIELDS, TAR_BLOCK as BLOCK, type TarHeaderBlock } from './tarHeader.js';
import type { TarChunks } from './tarChunks.js';

// A layer's tar headers: ustar fields, and PAX records for what they cannot hold. The tar
// format is written here rather than with tar-stream's packer: that one replaces a mode of 0
// with 0o644 (whiteouts must be mode 0) and writes PAX values as UTF-8 text, which corrupts
// binary xattrs such as security.capability.

const MAX_OCTAL_7 = 0o7777777;
const MAX_OCTAL_11 = 0o77777777777;

/** The tar typeflag of each kind of entry (ustar). */
export const TAR_TYPEFLAG: Readonly<Record<EntryType, string>> = {
  file: '0',
  hardlink: '1',
  symlink: '2',
  'character-device': '3',
  'block-device': '4',
  directory: '5',
  fifo: '6',
};

export interface TarHeader extends TarHeaderBlock {
  xattrs: Record<string, Buffer>;
  /** PAX records beyond the ones the fields need (a sparse file's map records). */
  records?: Buffer[];
}

export const EMPTY_FILE: Omit<TarHeader, 'name'> = { ...EMPTY_HEADER_FIELDS, typeflag: TAR_TYPEFLAG.file, xattrs: {} };

/** Whether `name` goes into a header field as it is: ASCII without NUL, at most 100 bytes (most names). */
function fitsAsAscii(name: string): boolean {
  if (name.length > 100) return false;
  for (let i = 0; i < name.length; i++) {
    const unit = name.charCodeAt(i);
    if (unit === 0 || unit >= 0x80) return false;
  }
  return true;
}

const NO_BYTES = Buffer.alloc(0);

/** Whether an object has no own keys, without making the array Object.keys makes (once per file). */
function isEmpty(record: Record<string, unknown>): boolean {
  for (const key in record) if (Object.hasOwn(record, key)) return false;
  return true;
}

/** An entry's header into `out`: a PAX header first for what the ustar fields cannot hold. */
export function writeHeader(header: TarHeader, out: TarChunks): void {
  // Most entries of a tree need no PAX record: they skip the checks' allocations.
  if (!header.records && header.size <= MAX_OCTAL_11 && header.uid <= MAX_OCTAL_7 && header.gid <= MAX_OCTAL_7
    && Number.isInteger(header.mtime) && header.mtime >= 0 && header.mtime <= MAX_OCTAL_11
    && fitsAsAscii(header.name) && fitsAsAscii(header.linkname) && isEmpty(header.xattrs)) {
    encodeHeader(header, header.name, header.linkname, out);
    return;
  }
  const records: Buffer[] = [];
  const plainName = fitsAsAscii(header.name);
  const nameBytes = plainName ? NO_BYTES : encodeName(header.name);
  if (!plainName && (nameBytes.length > 100 || !isAscii(nameBytes))) records.push(paxRecord('path', nameBytes));
  const plainLink = fitsAsAscii(header.linkname);
  const linkBytes = plainLink ? NO_BYTES : encodeName(header.linkname);
  if (!plainLink && (linkBytes.length > 100 || !isAscii(linkBytes))) records.push(paxRecord('linkpath', linkBytes));
  if (header.size > MAX_OCTAL_11) records.push(paxRecord('size', Buffer.from(String(header.size))));
  if (header.uid > MAX_OCTAL_7) records.push(paxRecord('uid', Buffer.from(String(header.uid))));
  if (header.gid > MAX_OCTAL_7) records.push(paxRecord('gid', Buffer.from(String(header.gid))));
  if (!Number.isInteger(header.mtime) || header.mtime < 0 || header.mtime > MAX_OCTAL_11) records.push(paxRecord('mtime', Buffer.from(paxTime(header.mtime))));
  for (const name of Object.keys(header.xattrs).sort()) {
    records.push(paxRecord(`SCHILY.xattr.${name}`, header.xattrs[name]));
  }
  if (header.records) records.push(...header.records);
  if (records.length > 0) {
    const body = Buffer.concat(records);
    encodeHeader({ ...EMPTY_FILE, name: 'PaxHeader', typeflag: 'x', mode: 0o644, size: body.length, mtime: header.mtime }, PAX_HEADER_NAME, NO_BYTES, out);
    out.append(body);
    out.pad(body.length);
  }
  encodeHeader(header, plainName ? header.name : nameBytes, plainLink ? header.linkname : linkBytes, out);
}

/** A PAX time: decimal seconds and nanoseconds, never exponent notation (which readers refuse). */
function paxTime(seconds: number): string {
  const text = Math.abs(seconds).toFixed(9).replace(/\.?0+$/, '');
  return seconds < 0 ? `-${text}` : text;
}

function isAscii(bytes: Buffer): boolean {
  return bytes.every((byte) => byte > 0 && byte < 0x80);
}

/** `LEN key=value\n`, where LEN counts the whole record including its own digits. */
export function paxRecord(key: string, value: Buffer): Buffer {
  const rest = Buffer.concat([Buffer.from(` ${key}=`), value, Buffer.from('\n')]);
  let length = rest.length + String(rest.length).length;
  if (String(length).length !== String(rest.length).length) length = rest.length + String(length).length;
  return Buffer.concat([Buffer.from(String(length)), rest]);
}

const PAX_HEADER_NAME = Buffer.from('PaxHeader');

const USTAR_MAGIC = Buffer.from('ustar\u000000', 'latin1');
/** The header bytes encodeHeader writes: name to devminor. */
const USTAR_WRITTEN = 345;

/**
 * The header bytes that files of one tree mostly share (mode, owner, mtime,
 * typeflag, magic, device numbers, and the checksum field's spaces), with
 * their sum: encoded when they change, copied while they repeat. Name, size,
 * link name and checksum are written over them.
 */
class SharedFields {
  readonly bytes = Buffer.alloc(USTAR_WRITTEN);
  sum = 0;
  private mode = -1;
  private uid = -1;
  private gid = -1;
  private mtime = -1;
  private typeflag = '';
  private devmajor = -1;
  private devminor = -1;

  /** The fields of `header`, encoded anew only if one differs from the last header's. */
  of(header: TarHeader): this {
    const mtime = Math.min(Math.max(Math.floor(header.mtime), 0), MAX_OCTAL_11);
    if (header.mode === this.mode && header.uid === this.uid && header.gid === this.gid && mtime === this.mtime
      && header.typeflag === this.typeflag && header.devmajor === this.devmajor && header.devminor === this.devminor) return this;
    const block = this.bytes;
    block.fill(0);
    writeOctal(block, 100, 8, header.mode);
    writeOctal(block, 108, 8, Math.min(header.uid, MAX_OCTAL_7));
    writeOctal(block, 116, 8, Math.min(header.gid, MAX_OCTAL_7));
    writeOctal(block, 136, 12, mtime);
    block.fill(0x20, 148, 156);
    block[156] = header.typeflag.charCodeAt(0);
    USTAR_MAGIC.copy(block, 257);
    writeOctal(block, 329, 8, header.devmajor);
    writeOctal(block, 337, 8, header.devminor);
    this.sum = 0;
    for (let i = 0; i < USTAR_WRITTEN; i++) this.sum += block[i]!;
    ({ mode: this.mode, uid: this.uid, gid: this.gid, typeflag: this.typeflag, devmajor: this.devmajor, devminor: this.devminor } = header);
    this.mtime = mtime;
    return this;
  }
}

const sharedFields = new SharedFields();

/** Writes `name` (at most `width` bytes: a string `fitsAsAscii` passed, or bytes) at `offset`; returns the sum of its bytes. */
function writeName(block: Buffer, offset: number, width: number, name: Buffer | string): number {
  let sum = 0;
  if (typeof name === 'string') {
    // A loop, not Buffer#write: a native call per file costs more than a short name's bytes.
    for (let i = 0; i < name.length; i++) sum += block[offset + i] = name.charCodeAt(i);
  } else {
    const end = Math.min(name.length, width);
    for (let i = 0; i < end; i++) sum += block[offset + i] = name[i]!;
  }
  return sum;
}

/** One ustar header block into `out`; fields that do not fit were already written as PAX records. Names come as bytes, or as strings `fitsAsAscii` passed. */
function encodeHeader(header: TarHeader, name: Buffer | string, linkname: Buffer | string, out: TarChunks): void {
  const at = out.space(BLOCK);
  const block = out.buffer;
  const shared = sharedFields.of(header);
  // Everything past devminor (uname, gname, prefix) stays the zeros TarChunks starts with.
  block.set(shared.bytes, at);
  let checksum = shared.sum + writeName(block, at, 100, name) + writeName(block, at + 157, 100, linkname);
  checksum += writeOctal(block, at + 124, 12, Math.min(header.size, MAX_OCTAL_11));
  writeOctal(block, at + 148, 7, checksum);
  block[at + 155] = 0x20;
}

/**
 * `value` in octal, zero-padded to `width - 1` digits and a NUL (digit by
 * digit: a string per field costs more on small files); returns the sum of
 * the bytes written.
 */
function writeOctal(block: Buffer, offset: number, width: number, value: number): number {
  if (!Number.isSafeInteger(value) || value < 0 || value >= 8 ** (width - 1)) {
    block.write(`${value.toString(8).padStart(width - 1, '0')}\u0000`, offset, width, 'ascii');
    let sum = 0;
    for (let i = offset; i < offset + width; i++) sum += block[i]!;
    return sum;
  }
  let rest = value;
  let sum = 0;
  for (let i = offset + width - 2; i >= offset; i--) {
    const digit = 0x30 + (rest % 8);
    block[i] = digit;
    sum += digit;
    rest = Math.floor(rest / 8);
  }
  block[offset + width - 1] = 0;
  return sum;
}
