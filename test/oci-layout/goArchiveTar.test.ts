import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { decodeName, TarFormatError, TarParser, type TarMember } from '@tsbuild/oci-layout';
import { GO_ARCHIVE_TAR } from '../helpers/fixtures.js';
import { base256, END, header, member, pax, paxRecord } from '../helpers/tarBlocks.js';
import { outcomeAtEveryChunking, randomCuts, tarOutcome, upTo } from '../helpers/tarOutcome.js';

/**
 * Go's archive/tar test suite, run against our TarParser: every archive must
 * give the headers, contents and final error Go's own tests expect
 * (expect.json beside the archives). Compared per header: name, linkname,
 * mode, uid, gid, size (the logical size of sparse files), mtime, typeflag,
 * device numbers and xattrs. Not compared, because TarMember does not carry
 * them (a layer has no use for them): uname/gname, atime/ctime, Format and
 * the raw PAXRecords map.
 */

interface GoHeader {
  Name?: { hex: string };
  Linkname?: { hex: string };
  Mode?: number;
  Uid?: number;
  Gid?: number;
  Size?: number;
  ModTime?: [number, number];
  Typeflag: number;
  Devmajor?: number;
  Devminor?: number;
  Xattrs?: Record<string, string>;
}

interface GoFile {
  file: string;
  oracle: string;
  headers: GoHeader[];
  chksums?: string[];
  contents?: string[];
  err: GoError | null;
  sparse?: boolean;
  sizeOnlyForRegular?: boolean;
}

type GoError = 'ErrHeader' | 'ErrFieldTooLong' | 'io.ErrUnexpectedEOF' | 'io.EOF';

interface TruncationVector {
  parts: [string, number | null][];
  count: number;
  err: GoError;
}

const expectations = JSON.parse(readFileSync(join(GO_ARCHIVE_TAR, 'expect.json'), 'utf8')) as {
  files: GoFile[];
  truncation: { vectors: TruncationVector[] };
};

function archive(file: string): Buffer {
  const path = join(GO_ARCHIVE_TAR, file);
  return file.endsWith('.bz2') ? execFileSync('bzip2', ['-dc', path], { maxBuffer: 64 * 1024 * 1024 }) : readFileSync(path);
}

/** Go's errors, as the reasons of our TarFormatError (null: a clean end). */
const REASONS: Record<GoError, string[] | null> = {
  ErrHeader: ['checksum', 'corrupt'],
  ErrFieldTooLong: ['too-large'],
  'io.ErrUnexpectedEOF': ['truncated'],
  'io.EOF': null,
};

interface ReadMember {
  member: TarMember;
  data: Buffer;
}

function readArchive(bytes: Buffer): { members: ReadMember[]; error: TarFormatError | null } {
  const members: ReadMember[] = [];
  let pieces: Buffer[] = [];
  const parser = new TarParser({
    member(m) {
      members.push({ member: m, data: Buffer.alloc(0) });
      pieces = [];
    },
    content: (piece) => pieces.push(Buffer.from(piece)),
    memberEnd() {
      members[members.length - 1]!.data = Buffer.concat(pieces);
    },
  });
  try {
    parser.write(bytes);
    parser.end();
    return { members, error: null };
  } catch (error) {
    if (!(error instanceof TarFormatError)) throw error;
    return { members, error };
  }
}

/** A member's logical content: its data, with a sparse file's holes filled with zeros (the fixtures' sparse files are small). */
function logicalContent({ member: m, data }: ReadMember): Buffer {
  if (!m.sparse) return data;
  const content = Buffer.alloc(m.size);
  let at = 0;
  for (const region of m.sparse) {
    data.copy(content, region.offset, at, at + region.length);
    at += region.length;
  }
  return content;
}

const md5 = (data: Buffer) => createHash('md5').update(data).digest('hex');

/** The fields compared, as Go states them. */
function goFields(h: GoHeader, withSize: boolean) {
  return {
    name: decodeName(Buffer.from(h.Name?.hex ?? '', 'hex')),
    linkname: decodeName(Buffer.from(h.Linkname?.hex ?? '', 'hex')),
    mode: h.Mode ?? 0,
    uid: h.Uid ?? 0,
    gid: h.Gid ?? 0,
    ...(withSize ? { size: h.Size ?? 0 } : {}),
    typeflag: String.fromCharCode(h.Typeflag),
    devmajor: h.Devmajor ?? 0,
    devminor: h.Devminor ?? 0,
    xattrs: h.Xattrs ?? {},
  };
}

/** The same fields of our member. */
function ourFields(m: TarMember, withSize: boolean) {
  return {
    name: m.name,
    linkname: m.linkname,
    mode: m.mode,
    uid: m.uid,
    gid: m.gid,
    ...(withSize ? { size: m.size } : {}),
    typeflag: m.typeflag,
    devmajor: m.devmajor,
    devminor: m.devminor,
    xattrs: Object.fromEntries(Object.entries(m.xattrs ?? {}).map(([k, v]) => [k, v.toString('hex')])),
  };
}

/** Go's [seconds, nanoseconds] as the double nearest to that decimal time, which is what reading it exactly gives. */
function goTime(seconds: number, nanos: number): number {
  if (nanos === 0) return seconds;
  const negative = seconds < 0;
  const whole = negative ? -(seconds + 1) : seconds;
  const fraction = negative ? 1_000_000_000 - nanos : nanos;
  return Number(`${negative ? '-' : ''}${whole}.${String(fraction).padStart(9, '0')}`);
}

describe("Go's archive/tar test archives", () => {
  test('all 43 are here, each with its expectation', () => {
    expect(expectations.files).toHaveLength(43);
  });

  test.each(expectations.files.map((f) => [f.file, f] as const))('%s reads as Go reads it', (_, expected) => {
    const { members, error } = readArchive(archive(expected.file));
    const reasons = REASONS[expected.err ?? 'io.EOF'];
    if (reasons) expect(reasons).toContain(error?.reason);
    else expect(error).toBeNull();

    expect(members).toHaveLength(expected.headers.length);
    members.forEach(({ member: m }, i) => {
      const goHeader = expected.headers[i]!;
      const withSize = !expected.sizeOnlyForRegular || m.typeflag === '0';
      expect(ourFields(m, withSize), `header ${i}`).toEqual(goFields(goHeader, withSize));
      const [seconds, nanos] = goHeader.ModTime ?? [0, 0];
      expect(m.mtime, `mtime of header ${i}`).toBe(goTime(seconds, nanos));
    });
    if (expected.chksums) expect(members.map((m) => md5(logicalContent(m)))).toEqual(expected.chksums);
    if (expected.contents) expect(members.map((m) => logicalContent(m).toString('hex'))).toEqual(expected.contents);
    if (expected.sparse) {
      // 60 GB logical, a few KB stored: the holes are never expanded, the data regions hold all the stored bytes.
      const [{ member: m, data }] = members as [ReadMember];
      expect(m.sparse!.length).toBeGreaterThan(0);
      expect(m.sparse!.reduce((sum, r) => sum + r.length, 0)).toBe(data.length);
      expect(data.length).toBeLessThan(8192);
    }
  });

  test.each(expectations.files.map((f) => [f.file] as const))('%s gives one result at every chunking', (file) => {
    const bytes = archive(file);
    const sizes = bytes.length > 65536 ? [1, 7, 100, 511, 512, 513] : upTo(520);
    outcomeAtEveryChunking(bytes, sizes, (actual, whole, how) => expect(actual, how).toEqual(whole));
  });

  test("Go's truncation vectors: the same number of headers, and the same end", () => {
    const data2 = Buffer.concat([archive('ustar-file-reg.tar'), Buffer.alloc(10 * 512)]);
    const trash = Buffer.from('garbage '.repeat(64));
    const source = (name: string) => (name === 'data2' ? data2 : name === 'trash' ? trash : archive(name));
    const results = expectations.truncation.vectors.map((vector) => {
      const bytes = Buffer.concat(vector.parts.map(([name, length]) => source(name).subarray(0, length ?? undefined)));
      const { members, error } = tarOutcome(bytes);
      const reasons = REASONS[vector.err];
      return { parts: vector.parts, count: members.length, ends: reasons ? reasons.includes(error?.reason ?? '') : error === null };
    });
    expect(results).toEqual(expectations.truncation.vectors.map((v) => ({ parts: v.parts, count: v.count, ends: true })));
  });
});

describe("Go's archives, mutated", () => {
  /** Whether the block at `at` holds a header whose checksum is right (unsigned sum, checksum field as spaces). */
  function isHeader(bytes: Buffer, at: number): boolean {
    const stored = parseInt(bytes.toString('latin1', at + 148, at + 156).replace(/[\0 ]/g, ''), 8);
    return !Number.isNaN(stored) && stored === checksumOf(bytes, at);
  }

  function checksumOf(bytes: Buffer, at: number): number {
    let sum = 8 * 0x20;
    for (let i = at; i < at + 512; i++) if (i < at + 148 || i >= at + 156) sum += bytes[i]!;
    return sum;
  }

  /**
   * `count` copies of `bytes`, each with a few bytes changed at seeded random
   * places; changed headers get their checksum fixed, so the change reaches
   * the fields behind it.
   */
  function mutants(bytes: Buffer, count: number, seed: number): Buffer[] {
    return Array.from({ length: count }, (_, i) => {
      const copy = Buffer.from(bytes);
      const places = randomCuts(Math.min(copy.length, 4096), 1 + (i % 6), seed * 100 + i);
      places.forEach((at, j) => (copy[at] = (copy[at]! + 1 + j * 37 + i) & 0xff));
      for (const at of new Set(places.map((p) => p - (p % 512)))) {
        if (at + 512 <= copy.length && isHeader(bytes, at)) copy.write(`${checksumOf(copy, at).toString(8).padStart(6, '0')}\0 `, at + 148, 'latin1');
      }
      return copy;
    });
  }

  // Each mutant either reads or ends in a TarFormatError (anything else escapes tarOutcome and fails), the same at every chunking.
  test.each(expectations.files.filter((f) => !f.file.endsWith('.bz2')).map((f, i) => [f.file, i] as const))('%s: every mutant gives one result at every chunking', (file, seed) => {
    for (const mutant of mutants(archive(file), 12, seed + 1)) {
      outcomeAtEveryChunking(mutant, [1, 3, 511, 512, 513], (actual, whole, how) => expect(actual, how).toEqual(whole));
    }
  });
});

/** A sparse map whose regions hold 100 bytes, over a member that stores `stored`. */
const sparseWithData = (stored: number) =>
  Buffer.concat([
    pax([paxRecord('GNU.sparse.numblocks', '1'), paxRecord('GNU.sparse.map', '0,100'), paxRecord('GNU.sparse.size', '100')]),
    member({ name: 's' }, 'x'.repeat(stored)),
    END,
  ]);

/**
 * Where we read differently from Go, on purpose. Each row is asserted, so a
 * change of behaviour fails here and the table is kept true.
 */
const differences: { case: string; go: string; ours: string; why: string; archive: Buffer; outcome: string }[] = [
  {
    case: 'uid or gid outside 0..2^32-2',
    go: 'accepted (an int)',
    ours: 'corrupt',
    why: "Linux ids are 32 bits and (uid_t)-1 means none: such a value can only be truncated into another user, root included",
    archive: Buffer.concat([pax([paxRecord('uid', '4294967296')]), member({ name: 'a' }), END]),
    outcome: 'corrupt',
  },
  {
    case: 'negative size on a member that has no data (symlink)',
    go: 'ignored: header-only types skip no data',
    ours: 'corrupt',
    why: 'every numeric field is range-checked; a negative size is never written by an honest tar',
    archive: Buffer.concat([header({ name: 'l', typeflag: '2', linkname: 't', raw: [[124, base256(-1n, 12)]] }), END]),
    outcome: 'corrupt',
  },
  {
    case: 'mtime beyond ±8.64e12 seconds',
    go: 'accepted',
    ours: 'corrupt',
    why: 'no JavaScript Date (nor utimes through Node) can hold it',
    archive: Buffer.concat([pax([paxRecord('mtime', '9000000000000')]), member({ name: 'a' }), END]),
    outcome: 'corrupt',
  },
  {
    case: 'device numbers beyond Linux dev_t (major > 4095, minor > 2^20-1)',
    go: 'accepted',
    ours: 'corrupt',
    why: 'mknod would silently make another device',
    archive: Buffer.concat([header({ name: 'd', typeflag: '3', devmajor: 4096 }), END]),
    outcome: 'corrupt',
  },
  {
    case: "sparse regions that do not add up to the member's stored data",
    go: 'the header is returned; reading its content fails (errMissData / errUnrefData)',
    ours: 'corrupt, before the member is reported',
    why: 'a parser that hands every byte on checks what it can before it starts, so no partial file is reported as a member',
    archive: sparseWithData(10),
    outcome: 'corrupt',
  },
  {
    case: "a PAX 1.0 sparse map longer than the member's data",
    go: 'io.ErrUnexpectedEOF',
    ours: 'corrupt',
    why: 'the archive is not cut short; the member contradicts itself',
    archive: Buffer.concat([
      pax([paxRecord('GNU.sparse.major', '1'), paxRecord('GNU.sparse.minor', '0'), paxRecord('GNU.sparse.realsize', '10')]),
      member({ name: 's' }, '3\n0\n'),
      END,
    ]),
    outcome: 'corrupt',
  },
  {
    case: 'a PAX record length with a sign ("+12 ...")',
    go: 'accepted (strconv.ParseInt)',
    ours: 'corrupt',
    why: 'POSIX makes the length decimal digits; a sign is no writer\'s output',
    archive: Buffer.concat([member({ name: 'PaxHeader', typeflag: 'x' }, '+11 path=x\n'), member({ name: 'a' }), END]),
    outcome: 'corrupt',
  },
  {
    case: "NULs after a PAX header's last record",
    go: 'ErrHeader',
    ours: 'ignored',
    why: 'some writers pad the extended header data with NULs; nothing is lost by reading past them',
    archive: Buffer.concat([member({ name: 'PaxHeader', typeflag: 'x' }, Buffer.concat([paxRecord('path', 'padded'), Buffer.alloc(20)])), member({ name: 'a' }), END]),
    outcome: 'padded',
  },
  {
    case: 'an xattr record with an empty value',
    go: 'dropped (an empty PAX value means "keep the header\'s field")',
    ours: 'kept, as an empty xattr',
    why: 'an empty value is a real xattr value (markers such as user.* flags); there is no header field to keep',
    archive: Buffer.concat([pax([paxRecord('SCHILY.xattr.user.flag', '')]), member({ name: 'a' }), END]),
    outcome: 'a user.flag=',
  },
];

describe('justified differences from Go', () => {
  test.each(differences.map((d) => [d.case, d] as const))('%s', (_, difference) => {
    const { members, error } = tarOutcome(difference.archive);
    const outcome = error
      ? error.reason
      : members.map((m) => [m.name, ...Object.entries(m.xattrs ?? {}).map(([k, v]) => `${k}=${v.toString()}`)].join(' ')).join(',');
    expect(outcome).toBe(difference.outcome);
  });
});
