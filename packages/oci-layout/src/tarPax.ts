import { TarFormatError } from './tarHeader.js';

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
}

const XATTR_PREFIX = 'SCHILY.xattr.';
const SPACE = 0x20;
const EQUALS = 0x3d;
const NEWLINE = 0x0a;

function corrupt(): TarFormatError {
  return new TarFormatError('corrupt', 'a PAX header is corrupt');
}

/** A decimal record field; a value that is no number is ignored, as GNU tar does with unknown keywords. */
function numberValue(text: string, integer: boolean): number | undefined {
  const value = Number(text);
  if (text === '' || !Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) return undefined;
  return value;
}

/**
 * Parses PAX records (`LENGTH KEY=VALUE\n`, LENGTH counting the whole
 * record). Values stay bytes until a key that is text asks for them.
 */
export function parsePaxRecords(data: Buffer): PaxRecords {
  const records: PaxRecords = {};
  let offset = 0;
  while (offset < data.length) {
    // Some writers pad the header's data with NULs after the last record.
    if (data[offset] === 0) break;
    const space = data.indexOf(SPACE, offset);
    const length = space < 0 ? NaN : Number(data.toString('latin1', offset, space));
    const end = offset + length;
    if (!Number.isSafeInteger(length) || length <= space - offset + 1 || end > data.length || data[end - 1] !== NEWLINE) throw corrupt();
    const equals = data.indexOf(EQUALS, space + 1);
    if (equals < 0 || equals >= end) throw corrupt();
    const key = data.toString('utf8', space + 1, equals);
    const valueStart = equals + 1;
    const valueEnd = end - 1;
    if (key.startsWith(XATTR_PREFIX)) {
      (records.xattrs ??= {})[key.slice(XATTR_PREFIX.length)] = Buffer.from(data.subarray(valueStart, valueEnd));
    } else {
      const text = () => data.toString('utf8', valueStart, valueEnd);
      switch (key) {
        case 'path':
          records.path = text();
          break;
        case 'linkpath':
          records.linkpath = text();
          break;
        case 'size':
          records.size = numberValue(text(), true);
          break;
        case 'uid':
          records.uid = numberValue(text(), true);
          break;
        case 'gid':
          records.gid = numberValue(text(), true);
          break;
        case 'mtime':
          records.mtime = numberValue(text(), false);
          break;
      }
    }
    offset = end;
  }
  return records;
}
