import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { TarFormatError, TarParser, type TarMember } from '@tsbuild/oci-layout';

const BLOCK = 512;

interface RawHeader {
  name: string;
  typeflag?: string;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: number;
  linkname?: string;
  devmajor?: number;
  devminor?: number;
  prefix?: string;
  magic?: 'ustar' | 'gnu';
  /** Raw bytes for the size field (base-256 tests). */
  sizeField?: Buffer;
}

const octal = (value: number, width: number) => `${value.toString(8).padStart(width - 1, '0')}\0`;

/** One header block as a tar writer lays it out, checksum included. */
function header(h: RawHeader, checksum: 'unsigned' | 'signed' | 'wrong' = 'unsigned'): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(h.name, 0, 100);
  block.write(octal(h.mode ?? 0o644, 8), 100);
  block.write(octal(h.uid ?? 0, 8), 108);
  block.write(octal(h.gid ?? 0, 8), 116);
  if (h.sizeField) h.sizeField.copy(block, 124);
  else block.write(octal(h.size ?? 0, 12), 124);
  block.write(octal(h.mtime ?? 1_700_000_000, 12), 136);
  block.write(h.typeflag ?? '0', 156);
  block.write(h.linkname ?? '', 157, 100);
  if (h.magic === 'gnu') block.write('ustar  \0', 257);
  else block.write('ustar\x0000', 257);
  block.write(octal(h.devmajor ?? 0, 8), 329);
  block.write(octal(h.devminor ?? 0, 8), 337);
  if (h.prefix) block.write(h.prefix, 345, 155);
  block.fill(' ', 148, 156);
  let sum = 0;
  for (const byte of block) sum += checksum === 'signed' && byte >= 0x80 ? byte - 256 : byte;
  if (checksum === 'wrong') sum += 1;
  block.write(`${octal(sum, 7)} `, 148);
  return block;
}

function padded(data: Buffer): Buffer {
  const rest = data.length % BLOCK;
  return rest === 0 ? data : Buffer.concat([data, Buffer.alloc(BLOCK - rest)]);
}

function member(h: RawHeader, content: Buffer | string = Buffer.alloc(0)): Buffer {
  const data = Buffer.from(content);
  return Buffer.concat([header({ ...h, size: h.size ?? data.length }), padded(data)]);
}

/** A PAX record: its length counts itself. */
function paxRecord(key: string, value: Buffer | string): Buffer {
  const body = Buffer.concat([Buffer.from(` ${key}=`), Buffer.from(value), Buffer.from('\n')]);
  let length = body.length + 1;
  while (String(length).length + body.length !== length) length++;
  return Buffer.concat([Buffer.from(String(length)), body]);
}

function pax(records: Buffer[], typeflag: 'x' | 'g' = 'x'): Buffer {
  return member({ name: 'PaxHeader', typeflag }, Buffer.concat(records));
}

const END = Buffer.alloc(2 * BLOCK);

interface Parsed {
  member: TarMember;
  content: string;
  pieces: number;
}

/** Parses `archive` fed in pieces of `pieceSize` bytes (all at once by default). */
function parse(archive: Buffer, pieceSize = archive.length): Parsed[] {
  const members: Parsed[] = [];
  let chunks: Buffer[] = [];
  let current: TarMember | undefined;
  const parser = new TarParser({
    member(m) {
      current = m;
      chunks = [];
    },
    content(piece) {
      chunks.push(Buffer.from(piece));
    },
    memberEnd() {
      members.push({ member: current!, content: Buffer.concat(chunks).toString('latin1'), pieces: chunks.length });
    },
  });
  for (let at = 0; at < archive.length; at += Math.max(1, pieceSize)) parser.write(archive.subarray(at, at + Math.max(1, pieceSize)));
  parser.end();
  return members;
}

function parseError(archive: Buffer): TarFormatError {
  try {
    parse(archive);
  } catch (error) {
    if (error instanceof TarFormatError) return error;
    throw error;
  }
  throw new Error('the archive parsed');
}

describe('TarParser', () => {
  test('reads ustar members of every type, with their attributes', () => {
    const archive = Buffer.concat([
      member({ name: 'dir/', typeflag: '5', mode: 0o755, uid: 1000, gid: 50, mtime: 1_600_000_000 }),
      member({ name: 'dir/file', mode: 0o4750 }, 'hello\n'),
      member({ name: 'dir/hard', typeflag: '1', linkname: 'dir/file' }),
      member({ name: 'dir/soft', typeflag: '2', linkname: '../target' }),
      member({ name: 'dev/sda', typeflag: '4', devmajor: 8, devminor: 1 }),
      member({ name: 'dev/tty', typeflag: '3', devmajor: 5, devminor: 0 }),
      member({ name: 'run/fifo', typeflag: '6' }),
      END,
    ]);
    const members = parse(archive).map(({ member: m, content }) => ({ ...m, content }));
    expect(members).toEqual([
      { name: 'dir/', typeflag: '5', mode: 0o755, uid: 1000, gid: 50, size: 0, mtime: 1_600_000_000, linkname: '', devmajor: 0, devminor: 0, content: '' },
      { name: 'dir/file', typeflag: '0', mode: 0o4750, uid: 0, gid: 0, size: 6, mtime: 1_700_000_000, linkname: '', devmajor: 0, devminor: 0, content: 'hello\n' },
      expect.objectContaining({ name: 'dir/hard', typeflag: '1', linkname: 'dir/file', size: 0 }),
      expect.objectContaining({ name: 'dir/soft', typeflag: '2', linkname: '../target' }),
      expect.objectContaining({ name: 'dev/sda', typeflag: '4', devmajor: 8, devminor: 1 }),
      expect.objectContaining({ name: 'dev/tty', typeflag: '3', devmajor: 5, devminor: 0 }),
      expect.objectContaining({ name: 'run/fifo', typeflag: '6' }),
    ]);
  });

  test('gives the same members whatever pieces the bytes arrive in', () => {
    const archive = Buffer.concat([
      pax([paxRecord('path', `long/${'p'.repeat(150)}`)]),
      member({ name: 'ignored' }, 'x'.repeat(1500)),
      member({ name: 'L', typeflag: 'L' }, `gnu/${'n'.repeat(200)}\0`),
      member({ name: 'short' }, 'y'.repeat(513)),
      member({ name: 'empty' }),
      END,
    ]);
    const whole = parse(archive).map(({ member: m, content }) => [m.name, content]);
    expect(whole.map(([name]) => name)).toEqual([`long/${'p'.repeat(150)}`, `gnu/${'n'.repeat(200)}`, 'empty']);
    for (const size of [1, 7, 511, 512, 513, 1000]) {
      expect(parse(archive, size).map(({ member: m, content }) => [m.name, content])).toEqual(whole);
    }
  });

  test('hands content over as views of the input, a piece per write at most', () => {
    const archive = Buffer.concat([member({ name: 'a' }, 'a'.repeat(3000)), END]);
    expect(parse(archive)[0]!.pieces).toBe(1);
    // 512 bytes after the header in the first write, then 1024, 1024 and the last 440.
    expect(parse(archive, 1024)[0]!.pieces).toBe(4);
  });

  test('joins the ustar prefix to the name; GNU headers have no prefix', () => {
    const archive = Buffer.concat([
      member({ name: 'file.txt', prefix: `${'d'.repeat(120)}/sub` }),
      member({ name: 'gnu.txt', prefix: 'not a prefix', magic: 'gnu' }),
      END,
    ]);
    expect(parse(archive).map((p) => p.member.name)).toEqual([`${'d'.repeat(120)}/sub/file.txt`, 'gnu.txt']);
  });

  test('applies GNU long names (L) and long link names (K) to the next member only', () => {
    const longName = `usr/share/${'ünïcode-'.repeat(20)}/file`;
    const longLink = `/opt/${'target/'.repeat(30)}end`;
    const archive = Buffer.concat([
      member({ name: '././@LongLink', typeflag: 'L', magic: 'gnu' }, `${longName}\0`),
      member({ name: '././@LongLink', typeflag: 'K', magic: 'gnu' }, `${longLink}\0`),
      member({ name: longName.slice(0, 99), typeflag: '2', linkname: longLink.slice(0, 99), magic: 'gnu' }),
      member({ name: 'next', typeflag: '2', linkname: 'plain', magic: 'gnu' }),
      END,
    ]);
    expect(parse(archive).map((p) => [p.member.name, p.member.linkname])).toEqual([
      [longName, longLink],
      ['next', 'plain'],
    ]);
  });

  test('reads what GNU tar writes for long names and long symlink targets', async () => {
    const work = await mkdtemp(join(tmpdir(), 'tsbuild-tar-'));
    try {
      const deep = join(work, 'src', 'd'.repeat(90), 'e'.repeat(90));
      await mkdir(deep, { recursive: true });
      await writeFile(join(deep, 'f'.repeat(90)), 'content');
      await symlink(`/${'t'.repeat(150)}`, join(work, 'src', 'link'));
      const archive = execFileSync('tar', ['--format=gnu', '--sort=name', '-cf', '-', '-C', join(work, 'src'), '.']);
      const members = parse(archive).map((p) => [p.member.name, p.member.typeflag, p.member.linkname, p.content]);
      expect(members).toContainEqual([`./${'d'.repeat(90)}/${'e'.repeat(90)}/${'f'.repeat(90)}`, '0', '', 'content']);
      expect(members).toContainEqual(['./link', '2', `/${'t'.repeat(150)}`, '']);
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });

  test('applies PAX records: path, linkpath, size, uid, gid, fractional mtime, binary xattrs', () => {
    const capability = Buffer.from([0x01, 0x00, 0x00, 0x02, 0x0a, 0x3d, 0x80, 0xff, 0xfe, 0x00, 0x20]);
    const archive = Buffer.concat([
      pax([
        paxRecord('path', 'päx/näme'),
        paxRecord('linkpath', 'lïnk'),
        paxRecord('uid', '3000000000'),
        paxRecord('gid', '77'),
        paxRecord('mtime', '1700000000.25'),
        paxRecord('SCHILY.xattr.security.capability', capability),
        paxRecord('SCHILY.xattr.user.note', 'a=b'),
        paxRecord('uname', 'ignored'),
      ]),
      member({ name: 'short', typeflag: '2', linkname: 'short-link' }),
      pax([paxRecord('size', '5')]),
      member({ name: 'sized', size: 0 }, Buffer.alloc(0)),
      Buffer.from('12345'.padEnd(BLOCK, '\0')),
      member({ name: 'after' }),
      END,
    ]);
    const [first, sized, after] = parse(archive);
    expect(first!.member).toMatchObject({ name: 'päx/näme', linkname: 'lïnk', uid: 3_000_000_000, gid: 77, mtime: 1_700_000_000.25 });
    expect(first!.member.xattrs).toEqual({ 'security.capability': capability, 'user.note': Buffer.from('a=b') });
    expect([sized!.member.name, sized!.member.size, sized!.content]).toEqual(['sized', 5, '12345']);
    expect(after!.member.xattrs).toBeUndefined();
    expect(after!.member.name).toBe('after');
  });

  test('skips global PAX headers', () => {
    const archive = Buffer.concat([pax([paxRecord('path', 'global')], 'g'), member({ name: 'own' }), END]);
    expect(parse(archive).map((p) => p.member.name)).toEqual(['own']);
  });

  test('reads base-256 numbers and accepts signed checksums', () => {
    const size = Buffer.alloc(12);
    size[0] = 0x80;
    size.writeUIntBE(3, 6, 6);
    const archive = Buffer.concat([header({ name: 'big', sizeField: size }), padded(Buffer.from('abc')), header({ name: 'ü-signed' }, 'signed'), END]);
    expect(parse(archive).map((p) => [p.member.name, p.member.size, p.content])).toEqual([
      ['big', 3, 'abc'],
      ['ü-signed', 0, ''],
    ]);
  });

  test('reads no content for links, devices, directories and fifos, whatever their size field says', () => {
    const archive = Buffer.concat([header({ name: 'link', typeflag: '2', linkname: 'x', size: 700 }), member({ name: 'next' }, 'n'), END]);
    expect(parse(archive).map((p) => [p.member.name, p.member.size, p.content])).toEqual([
      ['link', 0, ''],
      ['next', 1, 'n'],
    ]);
  });

  test('takes a regular file whose name ends in a slash for a directory (pre-POSIX), skipping its bytes', () => {
    const archive = Buffer.concat([member({ name: 'old/', typeflag: '\0' }, 'stray bytes'), member({ name: 'next' }), END]);
    expect(parse(archive).map((p) => [p.member.name, p.member.typeflag])).toEqual([
      ['old/', '5'],
      ['next', '0'],
    ]);
  });

  test('ends at two zero blocks, ignoring what follows; a lone zero block is skipped', () => {
    const archive = Buffer.concat([member({ name: 'a' }), Buffer.alloc(BLOCK), member({ name: 'b' }), END, Buffer.from('trailing garbage')]);
    const parser = new TarParser({ member() {}, content() {}, memberEnd() {} });
    parser.write(archive);
    expect(parser.ended).toBe(true);
    expect(parse(archive).map((p) => p.member.name)).toEqual(['a', 'b']);
  });

  test('a header that fails its checksum is an error', () => {
    const error = parseError(Buffer.concat([member({ name: 'ok' }), header({ name: 'bad' }, 'wrong'), END]));
    expect(error.reason).toBe('checksum');
    expect(parseError(Buffer.alloc(4096, 'not a tar header ')).reason).toBe('checksum');
  });

  test.each([
    ['inside a header', (a: Buffer) => a.subarray(0, BLOCK + 100)],
    ['inside content', (a: Buffer) => a.subarray(0, 2 * BLOCK + 10)],
    ['inside the padding after content', (a: Buffer) => a.subarray(0, 2 * BLOCK + 200)],
  ])('an archive that ends %s is truncated', (_, cut) => {
    const archive = Buffer.concat([member({ name: 'a' }), member({ name: 'b' }, 'b'.repeat(100)), END]);
    const error = parseError(cut(archive));
    expect(error.reason).toBe('truncated');
  });

  test('an archive that ends after an extended header, without its member, is truncated', () => {
    expect(parseError(pax([paxRecord('path', 'orphan')])).reason).toBe('truncated');
    expect(parseError(member({ name: 'L', typeflag: 'L' }, 'orphan\0')).reason).toBe('truncated');
  });

  test('a corrupt PAX header is an error', () => {
    const archive = Buffer.concat([member({ name: 'PaxHeader', typeflag: 'x' }, '99 path=x\n'), member({ name: 'a' }), END]);
    expect(parseError(archive).reason).toBe('corrupt');
  });

  test('an archive without the end-of-archive blocks still ends cleanly after a whole member', () => {
    expect(parse(member({ name: 'a' }, 'a')).map((p) => p.member.name)).toEqual(['a']);
  });
});

describe('TarParser on archives that tar-stream and GNU tar write', () => {
  let work: string;
  beforeEach(async () => {
    work = await mkdtemp(join(tmpdir(), 'tsbuild-tar-'));
  });
  afterEach(async () => {
    await rm(work, { recursive: true, force: true });
  });

  test('reads a PAX archive of GNU tar with non-ASCII names', async () => {
    await mkdir(join(work, 'src', 'ünï'), { recursive: true });
    await writeFile(join(work, 'src', 'ünï', 'çödé.txt'), 'x'.repeat(10_000));
    const archive = execFileSync('tar', ['--format=pax', '--sort=name', '-cf', '-', '-C', join(work, 'src'), '.']);
    const file = parse(archive, 333).find((p) => p.member.name.endsWith('.txt'))!;
    expect(file.member.name).toBe('./ünï/çödé.txt');
    expect(file.content).toBe('x'.repeat(10_000));
  });
});
