import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { encodeName, TarFormatError, TarParser, type TarMember } from '@tsbuild/oci-layout';
import { base256, BLOCK, END, gnuSparseExtension, gnuSparseFields, header, member, padded, pax, paxRecord } from '../helpers/tarBlocks.js';
import { outcomeAtEveryChunking, tarOutcome, upTo } from '../helpers/tarOutcome.js';

const sizeField = (value: bigint): [number, Buffer][] => [[124, base256(value, 12)]];

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

  test('joins the ustar prefix to the name; GNU headers keep times there, unless a pre-1.8 Go writer put a prefix', () => {
    const archive = Buffer.concat([
      member({ name: 'file.txt', prefix: `${'d'.repeat(120)}/sub` }),
      member({ name: 'gnu.txt', prefix: '00000000001\0' + '00000000002\0', magic: 'gnu' }),
      member({ name: 'go17.txt', prefix: 'go17/prefix', magic: 'gnu' }),
      member({ name: 'binary.txt', prefix: 'bin\xff', magic: 'gnu' }),
      END,
    ]);
    expect(parse(archive).map((p) => p.member.name)).toEqual([`${'d'.repeat(120)}/sub/file.txt`, 'gnu.txt', 'go17/prefix/go17.txt', 'binary.txt']);
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

  test('reports a global PAX header as a member of its own (as Go does), applying it to no other member', () => {
    const archive = Buffer.concat([pax([paxRecord('path', 'global'), paxRecord('uid', '7')], 'g'), member({ name: 'own' }), END]);
    expect(parse(archive).map((p) => [p.member.name, p.member.typeflag, p.member.uid])).toEqual([
      ['global', 'g', 0],
      ['own', '0', 0],
    ]);
  });

  test('reads base-256 numbers and accepts signed checksums', () => {
    const archive = Buffer.concat([header({ name: 'big', raw: sizeField(3n) }), padded(Buffer.from('abc')), header({ name: 'ü-signed' }, 'signed'), END]);
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

  test('ends at two zero blocks, ignoring what follows', () => {
    const archive = Buffer.concat([member({ name: 'a' }), member({ name: 'b' }), END, Buffer.from('trailing garbage')]);
    const parser = new TarParser({ member() {}, content() {}, memberEnd() {} });
    parser.write(archive);
    expect(parser.ended).toBe(true);
    expect(parse(archive).map((p) => p.member.name)).toEqual(['a', 'b']);
  });

  test('a lone zero block followed by a header is corrupt (as in Go), whatever the chunking', () => {
    const archive = Buffer.concat([member({ name: 'a' }), Buffer.alloc(BLOCK), member({ name: 'b' }), END]);
    expect(parseError(archive).reason).toBe('corrupt');
    for (const size of [1, 100, 512, 513]) expect(tarOutcome(archive, [size]).error?.reason).toBe('corrupt');
  });

  test('a header that fails its checksum is an error', () => {
    const error = parseError(Buffer.concat([member({ name: 'ok' }), header({ name: 'bad' }, 'wrong'), END]));
    expect(error.reason).toBe('checksum');
    expect(parseError(Buffer.alloc(4096, 'not a tar header ')).reason).toBe('checksum');
  });

  test.each([
    ['inside a header', (a: Buffer) => a.subarray(0, BLOCK + 100)],
    ['inside content', (a: Buffer) => a.subarray(0, 2 * BLOCK + 10)],
    ['inside an extended header', (a: Buffer) => Buffer.concat([a.subarray(0, BLOCK), pax([paxRecord('path', 'cut')]).subarray(0, BLOCK + 5)])],
    ['after a zero block, inside the next', (a: Buffer) => Buffer.concat([a.subarray(0, BLOCK), Buffer.alloc(BLOCK + 10)])],
  ])('an archive that ends %s is truncated', (_, cut) => {
    const archive = Buffer.concat([member({ name: 'a' }), member({ name: 'b' }, 'b'.repeat(100)), END]);
    const error = parseError(cut(archive));
    expect(error.reason).toBe('truncated');
  });

  // Go's reader ends cleanly wherever a whole header could start, or inside padding; so do we.
  test('an archive that ends inside padding, or after an extended header without its member, ends cleanly (as in Go)', () => {
    const archive = Buffer.concat([member({ name: 'a' }), member({ name: 'b' }, 'b'.repeat(100)), END]);
    expect(parse(archive.subarray(0, 2 * BLOCK + 200)).map((p) => p.member.name)).toEqual(['a', 'b']);
    expect(parse(pax([paxRecord('path', 'orphan')]))).toEqual([]);
    expect(parse(member({ name: 'L', typeflag: 'L' }, 'orphan\0'))).toEqual([]);
  });

  test('a corrupt PAX header is an error', () => {
    const archive = Buffer.concat([member({ name: 'PaxHeader', typeflag: 'x' }, '99 path=x\n'), member({ name: 'a' }), END]);
    expect(parseError(archive).reason).toBe('corrupt');
  });

  test('an archive without the end-of-archive blocks still ends cleanly after a whole member', () => {
    expect(parse(member({ name: 'a' }, 'a')).map((p) => p.member.name)).toEqual(['a']);
  });
});

describe('TarParser.skipContent, for readers that seek', () => {
  test('finds the members reading all would find, jumping over exactly their data and padding', () => {
    const archive = Buffer.concat([
      pax([paxRecord('path', 'a/long/pax/name')]),
      member({ name: 'short' }, 'x'.repeat(700)),
      member({ name: 'dir/', typeflag: '5' }),
      member({ name: 'empty' }),
      member({ name: 'exact' }, 'y'.repeat(BLOCK)),
      END,
    ]);
    const names: string[] = [];
    const parser = new TarParser({ member: (m) => void names.push(m.name), content: () => expect.fail('content was skipped'), memberEnd() {} });
    const jumps: number[] = [];
    let at = 0;
    while (!parser.ended) {
      const skip = parser.skipContent();
      if (skip > 0) {
        jumps.push(skip);
        at += skip;
        continue;
      }
      parser.write(archive.subarray(at, at + BLOCK));
      at += BLOCK;
    }
    expect(names).toEqual(parse(archive).map((p) => p.member.name));
    expect(jumps).toEqual([2 * BLOCK, BLOCK]);
    expect(at).toBe(archive.length);
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

/** Archives that once hung the parser, made its result depend on chunking, or carry numbers no archive should. */
const hostile: [string, Buffer][] = [
  ['PAX size=-1536', Buffer.concat([pax([paxRecord('size', '-1536')]), member({ name: 'neg' }, 'x'.repeat(2000)), END])],
  ['PAX size=-512', Buffer.concat([pax([paxRecord('size', '-512')]), member({ name: 'neg' }, 'x'.repeat(600)), END])],
  ['PAX size=-1', Buffer.concat([pax([paxRecord('size', '-1')]), member({ name: 'neg' }), END])],
  ['PAX size beyond 2^53', Buffer.concat([pax([paxRecord('size', '99999999999999999999')]), member({ name: 'huge' }), END])],
  ['PAX size in hex', Buffer.concat([pax([paxRecord('size', '0x10')]), member({ name: 'hex' }), END])],
  ['PAX size 1e3', Buffer.concat([pax([paxRecord('size', '1e3')]), member({ name: 'exp' }), END])],
  ['PAX uid=-1', Buffer.concat([pax([paxRecord('uid', '-1')]), member({ name: 'uid' }), END])],
  ['PAX uid=4294967296', Buffer.concat([pax([paxRecord('uid', '4294967296')]), member({ name: 'uid' }), END])],
  ['PAX gid=4294967295', Buffer.concat([pax([paxRecord('gid', '4294967295')]), member({ name: 'gid' }), END])],
  ['PAX mtime=1e300', Buffer.concat([pax([paxRecord('mtime', '1' + '0'.repeat(300))]), member({ name: 'mtime' }), END])],
  ['PAX mtime garbage', Buffer.concat([pax([paxRecord('mtime', '12.3.4')]), member({ name: 'mtime' }), END])],
  ['PAX record length past the data', Buffer.concat([member({ name: 'PaxHeader', typeflag: 'x' }, '9999 path=x\n'), member({ name: 'a' }), END])],
  ['PAX record length 0', Buffer.concat([member({ name: 'PaxHeader', typeflag: 'x' }, '0 path=x\n'), member({ name: 'a' }), END])],
  ['PAX header of 2 MiB', Buffer.concat([header({ name: 'PaxHeader', typeflag: 'x', size: 2 * 1024 * 1024 }), Buffer.alloc(4096, '1'), END])],
  ['base-256 size -512', Buffer.concat([header({ name: 'neg', raw: sizeField(-512n) }), Buffer.alloc(2048, 'x'), END])],
  ['base-256 size -1536', Buffer.concat([header({ name: 'neg', raw: sizeField(-1536n) }), Buffer.alloc(2048, 'x'), END])],
  ['base-256 size 2^80', Buffer.concat([header({ name: 'huge', raw: sizeField(1n << 80n) }), END])],
  ['base-256 negative size on a symlink', Buffer.concat([header({ name: 'l', typeflag: '2', linkname: 't', raw: sizeField(-1n) }), END])],
  ['base-256 uid -1', Buffer.concat([header({ name: 'u', raw: [[108, base256(-1n, 8)]] }), END])],
  ['base-256 mtime 2^60', Buffer.concat([header({ name: 't', raw: [[136, base256(1n << 60n, 12)]] }), END])],
  ['devmajor 0o7777777', Buffer.concat([header({ name: 'd', typeflag: '3', devmajor: 0o7777777 }), END])],
  ['garbage in a size field', Buffer.concat([header({ name: 'g', raw: [[124, '12 34\0']] }), END])],
  ['a huge GNU long name', Buffer.concat([header({ name: 'L', typeflag: 'L', size: 64 * 1024 * 1024 }), Buffer.alloc(8192, 'n'), END])],
  ['an L header with size -512', Buffer.concat([header({ name: 'L', typeflag: 'L', raw: sizeField(-512n) }), Buffer.alloc(1024, 'n'), END])],
  ['sparse 1.0 map with 10^15 entries', Buffer.concat([pax([paxRecord('GNU.sparse.major', '1'), paxRecord('GNU.sparse.minor', '0'), paxRecord('GNU.sparse.realsize', '10')]), member({ name: 's' }, `1000000000000000\n${'1\n'.repeat(600_000)}`), END])],
  ['sparse 1.0 map longer than the data', Buffer.concat([pax([paxRecord('GNU.sparse.major', '1'), paxRecord('GNU.sparse.minor', '0'), paxRecord('GNU.sparse.realsize', '10')]), member({ name: 's' }, '3\n0\n'), END])],
  ['sparse 0.1 regions overlap', Buffer.concat([pax([paxRecord('GNU.sparse.numblocks', '2'), paxRecord('GNU.sparse.map', '0,5,3,5'), paxRecord('GNU.sparse.size', '20')]), member({ name: 's' }, 'x'.repeat(10)), END])],
  ['sparse 0.1 region past the size', Buffer.concat([pax([paxRecord('GNU.sparse.numblocks', '1'), paxRecord('GNU.sparse.map', '15,10'), paxRecord('GNU.sparse.size', '20')]), member({ name: 's' }, 'x'.repeat(10)), END])],
  ['sparse 0.1 negative offset', Buffer.concat([pax([paxRecord('GNU.sparse.numblocks', '1'), paxRecord('GNU.sparse.map', '-5,10'), paxRecord('GNU.sparse.size', '20')]), member({ name: 's' }, 'x'.repeat(10)), END])],
  ['sparse 0.1 regions need more data than stored', Buffer.concat([pax([paxRecord('GNU.sparse.numblocks', '1'), paxRecord('GNU.sparse.map', '0,100'), paxRecord('GNU.sparse.size', '200')]), member({ name: 's' }, 'x'.repeat(10)), END])],
  ['sparse 0.0 map out of order', Buffer.concat([pax([paxRecord('GNU.sparse.numbytes', '1'), paxRecord('GNU.sparse.offset', '0')]), member({ name: 's' }, 'x'), END])],
  ['GNU sparse with an endless chain of extension blocks', Buffer.concat([header({ name: 's', typeflag: 'S', magic: 'gnu', raw: gnuSparseFields([], 10, true) }), ...Array.from({ length: 2100 }, () => gnuSparseExtension([], true))])],
  ['GNU sparse extension block cut short', Buffer.concat([header({ name: 's', typeflag: 'S', magic: 'gnu', raw: gnuSparseFields([[0, 1]], 10, true) }), gnuSparseExtension([[5, 1]], false).subarray(0, 300)])],
  ['GNU sparse in a ustar header', Buffer.concat([header({ name: 's', typeflag: 'S', raw: gnuSparseFields([[0, 1]], 10, false), size: 1 }), padded(Buffer.from('x')), END])],
  ['a zero block, then a header', Buffer.concat([Buffer.alloc(BLOCK), member({ name: 'a' }), END])],
];

describe('TarParser on hostile input', () => {
  test.each(hostile)('%s: a TarFormatError, the same at every chunking', (_, archive) => {
    // Every piece size up to 700 for small archives; the 1 MiB ones get a sample (the work grows with size over piece size).
    const sizes = archive.length > 65536 ? [7, 100, 511, 512, 513] : upTo(700);
    const whole = outcomeAtEveryChunking(archive, sizes, (actual, expected, how) => expect(actual, how).toEqual(expected));
    expect(whole.error).not.toBeNull();
  });

  test('the reasons are typed: out-of-range numbers are corrupt, oversized extensions too large', () => {
    const reasons = Object.fromEntries(hostile.map(([name, archive]) => [name, tarOutcome(archive).error?.reason]));
    expect(reasons).toMatchObject({
      'PAX size=-1536': 'corrupt',
      'PAX uid=4294967296': 'corrupt',
      'base-256 size 2^80': 'corrupt',
      'PAX header of 2 MiB': 'too-large',
      'a huge GNU long name': 'too-large',
      'sparse 1.0 map with 10^15 entries': 'too-large',
      'GNU sparse with an endless chain of extension blocks': 'too-large',
      'GNU sparse extension block cut short': 'truncated',
    });
    expect(tarOutcome(hostile[0]![1]).error!.message).toMatch(/size -1536, out of range/);
  });

  test('the largest values that are in range are read', () => {
    const archive = Buffer.concat([
      pax([paxRecord('uid', '4294967294'), paxRecord('gid', '0'), paxRecord('mtime', '-86400.5')]),
      member({ name: 'edge', typeflag: '3', devmajor: 0xfff, devminor: 0xfffff }),
      END,
    ]);
    expect(tarOutcome(archive).members[0]).toMatchObject({ uid: 4294967294, gid: 0, mtime: -86400.5, devmajor: 0xfff, devminor: 0xfffff });
  });
});

/** A sparse file of 1 GiB logical size: 'head' at 0, 'middle' at 512 MiB, 'tail' at its end. */
const SPARSE_SIZE = 1024 ** 3;
const SPARSE_REGIONS = [
  { offset: 0, length: 4 },
  { offset: 512 * 1024 ** 2, length: 6 },
  { offset: SPARSE_SIZE - 4, length: 4 },
];
const SPARSE_DATA = 'headmiddletail';

describe('TarParser on sparse members', () => {
  const pairs = SPARSE_REGIONS.map((r) => [r.offset, r.length] as [number, number]);
  const formats: [string, Buffer][] = [
    [
      'GNU S with extension blocks',
      Buffer.concat([
        header({ name: 'big', typeflag: 'S', magic: 'gnu', size: SPARSE_DATA.length, raw: gnuSparseFields(pairs.slice(0, 1), SPARSE_SIZE, true) }),
        gnuSparseExtension(pairs.slice(1, 2), true),
        gnuSparseExtension(pairs.slice(2), false),
        padded(Buffer.from(SPARSE_DATA)),
        END,
      ]),
    ],
    [
      'PAX 0.0',
      Buffer.concat([
        pax([paxRecord('GNU.sparse.size', String(SPARSE_SIZE)), paxRecord('GNU.sparse.numblocks', '3'), ...pairs.flatMap(([o, l]) => [paxRecord('GNU.sparse.offset', String(o)), paxRecord('GNU.sparse.numbytes', String(l))])]),
        member({ name: 'big' }, SPARSE_DATA),
        END,
      ]),
    ],
    [
      'PAX 0.1',
      Buffer.concat([
        pax([paxRecord('GNU.sparse.size', String(SPARSE_SIZE)), paxRecord('GNU.sparse.numblocks', '3'), paxRecord('GNU.sparse.map', pairs.flat().join(',')), paxRecord('GNU.sparse.name', 'big')]),
        member({ name: 'GNUSparseFile.0/big' }, SPARSE_DATA),
        END,
      ]),
    ],
    [
      'PAX 1.0',
      Buffer.concat([
        pax([paxRecord('GNU.sparse.major', '1'), paxRecord('GNU.sparse.minor', '0'), paxRecord('GNU.sparse.realsize', String(SPARSE_SIZE)), paxRecord('GNU.sparse.name', 'big')]),
        member({ name: 'GNUSparseFile.0/big' }, Buffer.concat([padded(Buffer.from(`3\n${pairs.flat().join('\n')}\n`)), Buffer.from(SPARSE_DATA)])),
        END,
      ]),
    ],
  ];

  test.each(formats)('%s: one member of the logical size, its data regions, only their bytes, at every chunking', (_, archive) => {
    const whole = outcomeAtEveryChunking(archive, upTo(600), (actual, expected, how) => expect(actual, how).toEqual(expected));
    expect(whole.error).toBeNull();
    expect(whole.members).toHaveLength(1);
    expect(whole.members[0]).toMatchObject({ name: 'big', size: SPARSE_SIZE, sparse: SPARSE_REGIONS, contentLength: SPARSE_DATA.length });
    expect(parse(archive)[0]!.content).toBe(SPARSE_DATA);
  });

  test('reads what GNU tar writes for a sparse file, in each of its formats', async () => {
    const work = await mkdtemp(join(tmpdir(), 'tsbuild-tar-'));
    try {
      const file = join(work, 'holes');
      execFileSync('truncate', ['-s', '100M', file]);
      execFileSync('dd', ['if=/dev/urandom', `of=${file}`, 'bs=4096', 'count=1', 'seek=1000', 'conv=notrunc'], { stdio: 'ignore' });
      for (const format of [['--format=gnu'], ['--format=pax', '--sparse-version=0.0'], ['--format=pax', '--sparse-version=0.1'], ['--format=pax', '--sparse-version=1.0']]) {
        const archive = execFileSync('tar', [...format, '--sparse', '-cf', '-', '-C', work, 'holes'], { maxBuffer: 64 * 1024 * 1024 });
        const [only] = parse(archive);
        expect(only!.member, format.join(' ')).toMatchObject({ name: 'holes', size: 100 * 1024 * 1024 });
        const data = only!.member.sparse!.filter((r) => r.length > 0);
        expect(data.reduce((sum, r) => sum + r.length, 0)).toBe(only!.content.length);
        expect(data.some((r) => r.offset <= 1000 * 4096 && r.offset + r.length >= 1001 * 4096)).toBe(true);
      }
    } finally {
      await rm(work, { recursive: true, force: true });
    }
  });
});

describe('TarParser on names that are not UTF-8', () => {
  test('decodes header names, GNU long names and PAX paths byte for byte, keeping distinct names distinct', () => {
    const raw = Buffer.from('hi\x80\x81\x82\x83bye', 'latin1');
    const other = Buffer.from('hi\xef\xbf\xbd\xef\xbf\xbdbye', 'latin1');
    const archive = Buffer.concat([
      member({ name: raw, typeflag: '2', linkname: raw }),
      member({ name: other }),
      member({ name: 'L', typeflag: 'L', magic: 'gnu' }, Buffer.concat([Buffer.from('long/'), raw, Buffer.of(0)])),
      member({ name: 'x', magic: 'gnu' }),
      pax([paxRecord('path', Buffer.concat([Buffer.from('pax/'), raw])), paxRecord('linkpath', raw)]),
      member({ name: 'y', typeflag: '2' }),
      END,
    ]);
    const names = parse(archive).map((p) => [encodeName(p.member.name), encodeName(p.member.linkname)]);
    expect(names).toEqual([
      [raw, raw],
      [other, Buffer.alloc(0)],
      [Buffer.concat([Buffer.from('long/'), raw]), Buffer.alloc(0)],
      [Buffer.concat([Buffer.from('pax/'), raw]), raw],
    ]);
    expect(new Set(parse(archive).map((p) => p.member.name)).size).toBe(4);
  });
});
