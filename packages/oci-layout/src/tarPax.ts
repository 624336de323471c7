import { decodeName } from './byteNames.js';
import { TarFormatError } from './tarHeader.js';

/** The GNU sparse records of a PAX header (formats 0.0, 0.1 and 1.0), as text; `tarSparse` reads them. */
export interface PaxSparseRecords {
  major?: string;
  minor?: string;
  name?: string;
  /** `GNU.sparse.size` (0.x) or, failing that, `GNU.sparse.realsize` (1.0): the logical size. */
  size?: string;
  numBlocks?: string;
  /** `GNU.sparse.map` (0.1), or the `GNU.sparse.offset`/`numbytes` pairs of 0.0 joined the same way. */
  map?: string;
}

/** What a PAX extended header says about the next member, in the fields a layer reader uses. */
export interface PaxRecords {
  path?: string;
  linkpath?: string;
  size?: number;
  uid?: number;
  gid?: number;
  /** Seconds since the epoch, fractional allowed. */
  mtime?: number;
  /** `SCHILY.xattr.NAME` records: values are raw bytes (security.capability is binary). */
  xattrs?: Record<string, Buffer>;
  sparse?: PaxSparseRecords;
}

const XATTR_PREFIX = 'SCHILY.xattr.';
const SPACE = 0x20;
const EQUALS = 0x3d;
const NEWLINE = 0x0a;

/** The GNU sparse records kept as they are written, and the field of PaxSparseRecords each fills. */
const SPARSE_TEXT_RECORDS = new Map<string, 'major' | 'minor' | 'size' | 'numBlocks' | 'map'>([
  ['GNU.sparse.major', 'major'],
  ['GNU.sparse.minor', 'minor'],
  ['GNU.sparse.size', 'size'],
  ['GNU.sparse.numblocks', 'numBlocks'],
  ['GNU.sparse.map', 'map'],
]);

function corrupt(why: string): TarFormatError {
  return new TarFormatError('corrupt', `a PAX header is corrupt: ${why}`);
}

const DECIMAL = /^[+-]?[0-9]+$/;
const PAX_TIME = /^([+-]?[0-9]+)(?:\.([0-9]*))?$/;

/** A decimal integer as Go's strconv.ParseInt takes it (sign allowed), within what a double holds exactly. */
export function paxInteger(text: string, key: string): number {
  const value = DECIMAL.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(value)) throw corrupt(`${key}=${JSON.stringify(text.slice(0, 40))} is no integer`);
  return value;
}

/** A PAX time: decimal seconds, optionally a fraction (digits only, nanoseconds kept). */
function paxTime(text: string, key: string): number {
  const match = PAX_TIME.exec(text);
  if (!match) throw corrupt(`${key}=${JSON.stringify(text.slice(0, 40))} is no time`);
  const seconds = paxInteger(match[1]!, key);
  const nanos = Number((match[2] ?? '').slice(0, 9).padEnd(9, '0'));
  return match[1]!.startsWith('-') ? seconds - nanos / 1e9 : seconds + nanos / 1e9;
}

function hasNul(data: Buffer, start: number, end: number): boolean {
  const nul = data.indexOf(0, start);
  return nul >= 0 && nul < end;
}

/**
 * Parses PAX records (`LENGTH KEY=VALUE\n`, LENGTH counting the whole
 * record) by Go's archive/tar rules: a malformed record, a NUL in a path or
 * in a key, or a malformed number or time is an error; an empty value leaves
 * the header's field as it is. Path values are bytes, decoded with
 * `decodeName`; xattr values stay bytes.
 */
export function parsePaxRecords(data: Buffer): PaxRecords {
  const records: PaxRecords = {};
  const sparseMap: string[] = [];
  let offset = 0;
  while (offset < data.length) {
    // Some writers pad the header's data with NULs after the last record.
    if (data[offset] === 0) break;
    const space = data.indexOf(SPACE, offset);
    if (space < 0) throw corrupt('a record has no length');
    const lengthText = data.toString('latin1', offset, space);
    const length = /^[0-9]+$/.test(lengthText) ? Number(lengthText) : NaN;
    const end = offset + length;
    if (!Number.isSafeInteger(length) || length < 5 || end > data.length || end - 1 < space + 1 || data[end - 1] !== NEWLINE) {
      throw corrupt('a record has a bad length');
    }
    const equals = data.indexOf(EQUALS, space + 1);
    if (equals < 0 || equals >= end || equals === space + 1) throw corrupt('a record has no key');
    const key = data.toString('utf8', space + 1, equals);
    const valueStart = equals + 1;
    const valueEnd = end - 1;
    const isPath = key === 'path' || key === 'linkpath' || key === 'uname' || key === 'gname';
    if (isPath ? hasNul(data, valueStart, valueEnd) : hasNul(data, space + 1, equals)) throw corrupt(`record ${JSON.stringify(key)} holds a NUL`);
    offset = end;
    if (key.startsWith(XATTR_PREFIX)) {
      (records.xattrs ??= {})[key.slice(XATTR_PREFIX.length)] = Buffer.from(data.subarray(valueStart, valueEnd));
      continue;
    }
    const text = data.toString('utf8', valueStart, valueEnd);
    if (key === 'GNU.sparse.offset' || key === 'GNU.sparse.numbytes') {
      // Sparse 0.0 lists its map as pairs of records, which must alternate.
      const expected = sparseMap.length % 2 === 0 ? 'GNU.sparse.offset' : 'GNU.sparse.numbytes';
      if (key !== expected || text.includes(',')) throw corrupt('the GNU sparse 0.0 map is out of order');
      sparseMap.push(text);
      continue;
    }
    if (valueStart === valueEnd) continue;
    const sparseField = SPARSE_TEXT_RECORDS.get(key);
    if (sparseField) {
      (records.sparse ??= {})[sparseField] = text;
      continue;
    }
    switch (key) {
      case 'path':
      case 'linkpath':
        records[key] = decodeName(data, valueStart, valueEnd);
        break;
      case 'size':
      case 'uid':
      case 'gid':
        records[key] = paxInteger(text, key);
        break;
      case 'mtime':
        records.mtime = paxTime(text, key);
        break;
      case 'atime':
      case 'ctime':
        paxTime(text, key);
        break;
      case 'GNU.sparse.name':
        (records.sparse ??= {}).name = decodeName(data, valueStart, valueEnd);
        break;
      case 'GNU.sparse.realsize':
        (records.sparse ??= {}).size ??= text;
        break;
    }
  }
  if (sparseMap.length > 0) (records.sparse ??= {}).map = sparseMap.join(',');
  return records;
}
