/** Tar archives built block by block, for tests that need bytes no well-behaved writer makes. */

export const BLOCK = 512;

export interface RawHeader {
  name: string | Buffer;
  typeflag?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: number;
  linkname?: string | Buffer;
  devmajor?: number;
  devminor?: number;
  prefix?: string;
  magic?: 'ustar' | 'gnu' | 'v7';
  /** Raw bytes laid over the block at an offset, after the fields (base-256 numbers, GNU sparse maps, garbage). */
  raw?: [offset: number, bytes: Buffer | string][];
}

const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, '0')}\0`;

/** One header block as a tar writer lays it out, checksum included. */
export function header(h: RawHeader, checksum: 'unsigned' | 'signed' | 'wrong' = 'unsigned'): Buffer {
  const block = Buffer.alloc(BLOCK);
  Buffer.from(h.name).copy(block, 0, 0, 100);
  block.write(octal(h.mode ?? 0o644, 8), 100);
  block.write(octal(h.uid ?? 0, 8), 108);
  block.write(octal(h.gid ?? 0, 8), 116);
  block.write(octal(h.size ?? 0, 12), 124);
  block.write(octal(h.mtime ?? 1_700_000_000, 12), 136);
  block.write(h.typeflag ?? '0', 156, 'latin1');
  Buffer.from(h.linkname ?? '').copy(block, 157, 0, 100);
  if (h.magic === 'gnu') block.write('ustar  \0', 257);
  else if (h.magic !== 'v7') block.write('ustar\x0000', 257);
  if (h.magic !== 'v7') {
    block.write(octal(h.devmajor ?? 0, 8), 329);
    block.write(octal(h.devminor ?? 0, 8), 337);
  }
  if (h.prefix) block.write(h.prefix, 345, 155);
  for (const [offset, bytes] of h.raw ?? []) Buffer.from(bytes).copy(block, offset);
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += checksum === 'signed' && byte >= 0x80 ? byte - 256 : byte;
  if (checksum === 'wrong') sum += 1;
  block.write(`${octal(sum, 7)} `, 148);
  return block;
}

export function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

/** A header and its content, padded; `size` defaults to the content's length. */
export function member(h: RawHeader, content: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = Buffer.from(content);
  return Buffer.concat([header({ ...h, size: h.size ?? data.length }), padded(data)]);
}

/** A PAX record: its length counts itself. */
export function paxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length++;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

export function pax(records: Buffer[], typeflag: 'x' | 'g' = 'x'): Buffer {
  return member({ name: 'PaxHeader', typeflag }, Buffer.concat(records));
}

/** A base-256 (GNU binary) numeric field of `width` bytes; negative values in two's complement. */
export function base256(value: bigint, width: number): Buffer {
  const field = Buffer.alloc(width);
  let rest = BigInt.asUintN(8 * width, value);
  for (let i = width - 1; i >= 0; i--) {
    field[i] = Number(rest & 0xffn);
    rest >>= 8n;
  }
  field[0] = value < 0n ? field[0]! | 0xc0 : field[0]! | 0x80;
  return field;
}

/** The old GNU sparse map fields of an 'S' header: up to 4 regions, the real size, whether extension blocks follow. */
export function gnuSparseFields(regions: [number, number][], realSize: number, extended: boolean): [number, Buffer | string][] {
  const fields: [number, Buffer | string][] = regions.map(([offset, length], i) => [386 + 24 * i, `${octal(offset, 12)}${octal(length, 12)}`]);
  fields.push([482, Buffer.of(extended ? 1 : 0)], [483, octal(realSize, 12)]);
  return fields;
}

/** An old GNU sparse extension block: up to 21 regions and whether another block follows. */
export function gnuSparseExtension(regions: [number, number][], extended: boolean): Buffer {
  const block = Buffer.alloc(BLOCK);
  regions.forEach(([offset, length], i) => block.write(`${octal(offset, 12)}${octal(length, 12)}`, 24 * i));
  block[504] = extended ? 1 : 0;
  return block;
}

export const END = Buffer.alloc(2 * BLOCK);
