/**
 * Builds tar headers by hand, for seeds and for mutations that need a header
 * the real writer would never emit (bad numbers, hostile names, stray PAX
 * records). Deliberately independent of the parser it feeds.
 */
const BLOCK = 512;

/** Field offsets and widths of a ustar header's numeric fields. */
export const NUMERIC_FIELDS = {
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  devmajor: [329, 8],
  devminor: [337, 8],
};

function octal(value, width) {
  return `${value.toString(8).padStart(width - 1, '0')}\0`;
}

export function writeChecksum(buf, at) {
  buf.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + BLOCK; i++) sum += buf[i];
  buf.write(`${sum.toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
}

/** Whether the block at `at` has a valid (unsigned) checksum and is not all zeros. */
export function isHeaderBlock(buf, at) {
  if (at + BLOCK > buf.length) return false;
  let sum = 0;
  let nonZero = false;
  for (let i = at; i < at + BLOCK; i++) {
    const byte = i >= at + 148 && i < at + 156 ? 0x20 : buf[i];
    sum += byte;
    if (buf[i] !== 0) nonZero = true;
  }
  const stored = parseInt(buf.toString('latin1', at + 148, at + 156).replace(/[\0 ]/g, ''), 8);
  return nonZero && stored === sum;
}

/** Offsets of every 512-aligned block that looks like a header. */
export function headerOffsets(buf) {
  const out = [];
  for (let at = 0; at + BLOCK <= buf.length; at += BLOCK) if (isHeaderBlock(buf, at)) out.push(at);
  return out;
}

/**
 * One header block. `name` and `linkname` may be Buffers (byte names).
 * @param {{name: string|Buffer, type?: string, size?: number, mode?: number, uid?: number, gid?: number, mtime?: number, linkname?: string|Buffer, devmajor?: number, devminor?: number}} h
 */
export function header(h) {
  const block = Buffer.alloc(BLOCK);
  Buffer.from(h.name).copy(block, 0, 0, 100);
  block.write(octal(h.mode ?? (h.type === '5' ? 0o755 : 0o644), 8), 100, 'latin1');
  block.write(octal(h.uid ?? 0, 8), 108, 'latin1');
  block.write(octal(h.gid ?? 0, 8), 116, 'latin1');
  block.write(octal(h.size ?? 0, 12), 124, 'latin1');
  block.write(octal(h.mtime ?? 1_700_000_000, 12), 136, 'latin1');
  block.write(h.type ?? '0', 156, 'latin1');
  if (h.linkname !== undefined) Buffer.from(h.linkname).copy(block, 157, 0, 100);
  block.write('ustar\x0000', 257, 'latin1');
  block.write(octal(h.devmajor ?? 0, 8), 329, 'latin1');
  block.write(octal(h.devminor ?? 0, 8), 337, 'latin1');
  writeChecksum(block, 0);
  return block;
}

function padded(data) {
  const out = Buffer.alloc(Math.ceil(data.length / BLOCK) * BLOCK);
  data.copy(out);
  return out;
}

/** A PAX record `LENGTH key=value\n` with its self-counting length. */
export function paxRecord(key, value) {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length++;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

/** An extension header (`x` PAX, `g` global PAX, `L`/`K` GNU long names) with its data. */
export function extension(type, data) {
  return Buffer.concat([header({ name: type === 'x' || type === 'g' ? 'PaxHeaders/x' : '././@LongLink', type, size: data.length }), padded(data)]);
}

/** A member: its header and its padded content. */
export function member(h, content = Buffer.alloc(0)) {
  return Buffer.concat([header({ ...h, size: h.size ?? content.length }), padded(content)]);
}

export function archive(...parts) {
  return Buffer.concat([...parts, Buffer.alloc(2 * BLOCK)]);
}
