/**
 * File and tar member names are bytes; inside tsbuild they are strings. A
 * byte that is not part of valid UTF-8 is carried as the lone surrogate
 * U+DC80..U+DCFF (Python's "surrogateescape"). Valid UTF-8 never decodes to a
 * lone surrogate, so every byte string maps to exactly one string and back:
 * two distinct names never collapse into one path.
 *
 * Decode at the edges where names arrive as bytes (tar headers, PAX records,
 * readdir with `encoding: 'buffer'`), encode where they leave (tar headers,
 * fs calls through `fsPath`).
 */

const ESCAPE_BASE = 0xdc00;
const ESCAPED = /[\udc80-\udcff]/;

function continuation(byte: number | undefined): boolean {
  return byte !== undefined && (byte & 0xc0) === 0x80;
}

/** Length of the valid UTF-8 sequence starting at `at`, or 0 when the byte there starts none (RFC 3629: no overlongs, no surrogates, nothing past U+10FFFF). */
function sequenceLength(bytes: Uint8Array, at: number, end: number): number {
  const lead = bytes[at]!;
  const second = at + 1 < end ? bytes[at + 1] : undefined;
  const third = at + 2 < end ? bytes[at + 2] : undefined;
  const fourth = at + 3 < end ? bytes[at + 3] : undefined;
  if (lead >= 0xc2 && lead <= 0xdf) return continuation(second) ? 2 : 0;
  if (lead >= 0xe0 && lead <= 0xef) {
    if (second === undefined) return 0;
    const low = lead === 0xe0 ? 0xa0 : 0x80;
    const high = lead === 0xed ? 0x9f : 0xbf;
    return second >= low && second <= high && continuation(third) ? 3 : 0;
  }
  if (lead >= 0xf0 && lead <= 0xf4) {
    if (second === undefined) return 0;
    const low = lead === 0xf0 ? 0x90 : 0x80;
    const high = lead === 0xf4 ? 0x8f : 0xbf;
    return second >= low && second <= high && continuation(third) && continuation(fourth) ? 4 : 0;
  }
  return 0;
}

/** The name held in `bytes[start, end)`. */
export function decodeName(bytes: Buffer, start = 0, end = bytes.length): string {
  let ascii = true;
  for (let i = start; i < end; i++) {
    if (bytes[i]! >= 0x80) {
      ascii = false;
      break;
    }
  }
  if (ascii) return bytes.toString('latin1', start, end);
  let text = '';
  let runStart = start;
  let i = start;
  while (i < end) {
    if (bytes[i]! < 0x80) {
      i++;
      continue;
    }
    const length = sequenceLength(bytes, i, end);
    if (length > 0) {
      i += length;
      continue;
    }
    text += bytes.toString('utf8', runStart, i) + String.fromCharCode(ESCAPE_BASE + bytes[i]!);
    i++;
    runStart = i;
  }
  return text + bytes.toString('utf8', runStart, end);
}

/** Whether `name` holds bytes that are not UTF-8 (and so must reach the kernel as a Buffer). */
export function hasEscapedBytes(name: string): boolean {
  return ESCAPED.test(name);
}

/** The bytes of a name made by `decodeName` (plain UTF-8 for any other string). */
export function encodeName(name: string): Buffer {
  if (!hasEscapedBytes(name)) return Buffer.from(name, 'utf8');
  const parts: Buffer[] = [];
  let runStart = 0;
  let i = 0;
  while (i < name.length) {
    const unit = name.charCodeAt(i);
    if (unit >= 0xd800 && unit <= 0xdbff && i + 1 < name.length) {
      const next = name.charCodeAt(i + 1);
      if (next >= 0xdc00 && next <= 0xdfff) {
        i += 2;
        continue;
      }
    }
    if (unit >= 0xdc80 && unit <= 0xdcff) {
      parts.push(Buffer.from(name.slice(runStart, i), 'utf8'), Buffer.of(unit - ESCAPE_BASE));
      runStart = i + 1;
    }
    i++;
  }
  parts.push(Buffer.from(name.slice(runStart), 'utf8'));
  return Buffer.concat(parts);
}

/** A path for Node's fs: the string itself, or its bytes when it carries non-UTF-8 bytes. */
export function fsPath(path: string): string | Buffer {
  return hasEscapedBytes(path) ? encodeName(path) : path;
}
