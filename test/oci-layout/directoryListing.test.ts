import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { link, lstat, mkdir, mkdtemp, readdir, rm, symlink, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { encodeName, listDirectoryStats, listDirectoryAsync, readFileInto, readSmallFiles } from '@tsbuild/oci-layout';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-listing-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const FIELDS = ['dev', 'ino', 'mode', 'nlink', 'uid', 'gid', 'rdev', 'size', 'mtimeMs', 'ctimeMs'] as const;
const KINDS = ['isFile', 'isDirectory', 'isSymbolicLink', 'isCharacterDevice', 'isBlockDevice', 'isFIFO', 'isSocket'] as const;

describe('listDirectoryStats', () => {
  test('lists every kind of entry with the lstat Node reports, to the same millisecond fractions', async () => {
    await writeFile(join(work, 'file'), 'data');
    await link(join(work, 'file'), join(work, 'hard'));
    await mkdir(join(work, 'dir'));
    await symlink('missing-target', join(work, 'link'));
    await writeFile(join(work, 'ünïcode name'), '');
    execFileSync('mkfifo', [join(work, 'fifo')]);
    const listed = listDirectoryStats(work);
    expect(listed.map((e) => e.name).sort()).toEqual((await readdir(work)).sort());
    for (const { name, stats } of listed) {
      const node = await lstat(join(work, name));
      for (const field of FIELDS) expect([name, field, stats[field]]).toEqual([name, field, node[field]]);
      for (const kind of KINDS) expect([name, kind, stats[kind]()]).toEqual([name, kind, node[kind]()]);
    }
    const devices = listDirectoryStats('/dev').find((e) => e.name === 'null')!.stats;
    expect([devices.isCharacterDevice(), devices.rdev]).toEqual([true, (await lstat('/dev/null')).rdev]);
  });

  test('an empty directory lists nothing; many entries each keep their own name and lstat', async () => {
    await mkdir(join(work, 'empty'));
    expect(listDirectoryStats(join(work, 'empty'))).toEqual([]);
    for (let i = 0; i < 700; i++) await writeFile(join(work, `f${i}`), 'x'.repeat(i));
    const listed = listDirectoryStats(work).filter((e) => e.name !== 'empty');
    expect(listed.map((e) => e.name).sort()).toEqual(Array.from({ length: 700 }, (_, i) => `f${i}`).sort());
    for (const { name, stats } of listed) expect([name, stats.size]).toEqual([name, Number(name.slice(1))]);
  });

  test('a missing directory, or a file, fails like Node does (code, syscall, path)', async () => {
    await writeFile(join(work, 'file'), '');
    expect(() => listDirectoryStats(join(work, 'missing'))).toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'scandir', path: join(work, 'missing') }));
    expect(() => listDirectoryStats(join(work, 'file'))).toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });
});

describe('listDirectoryAsync', () => {
  test('lists on the thread pool what listDirectoryStats lists, names that are not UTF-8 included', async () => {
    for (let i = 0; i < 300; i++) await writeFile(join(work, `f${i}`), 'x'.repeat(i));
    await mkdir(join(work, 'dir'));
    await symlink('f1', join(work, 'link'));
    await writeFile(Buffer.concat([Buffer.from(`${work}/`), Buffer.from([0x66, 0xff])]), 'bytes');
    const plain = (list: { name: string; stats: Record<string, unknown> }[]) =>
      list.map(({ name, stats }) => [name, ...FIELDS.map((f) => stats[f]), ...KINDS.map((k) => (stats[k] as () => boolean)())])
        .sort((a, b) => String(a[0]).localeCompare(String(b[0])));
    const listing = await listDirectoryAsync(work);
    expect(listing.length).toBe(303);
    const listed = listing.entries();
    expect(plain(listed as never)).toEqual(plain(listDirectoryStats(work) as never));
    expect(listed.map((e) => encodeName(e.name).toString('hex'))).toContain('66ff');
  });

  test('a missing directory, or a file, rejects like Node does (code, syscall, path)', async () => {
    await writeFile(join(work, 'file'), '');
    await expect(listDirectoryAsync(join(work, 'missing'))).rejects.toThrow(expect.objectContaining({ code: 'ENOENT', syscall: 'scandir', path: join(work, 'missing') }));
    await expect(listDirectoryAsync(join(work, 'file'))).rejects.toThrow(expect.objectContaining({ code: 'ENOTDIR' }));
  });
});

describe('names that are not UTF-8', () => {
  test('are listed, read one by one and read in a batch by their exact bytes (byteNames.ts)', async () => {
    const raw = [Buffer.from([0x66, 0xff]), Buffer.from([0x66, 0xfe]), Buffer.from([0xed, 0xa0, 0x80]), Buffer.from('plain')];
    for (const [i, name] of raw.entries()) await writeFile(Buffer.concat([Buffer.from(`${work}/`), name]), `content ${i}`);
    const listed = listDirectoryStats(work);
    expect(listed.map((e) => encodeName(e.name).toString('hex')).sort()).toEqual(raw.map((n) => n.toString('hex')).sort());
    // Each name is its own: none became a replacement character shared with another.
    expect(new Set(listed.map((e) => e.name)).size).toBe(raw.length);
    for (const { name, stats } of listed) {
      const i = raw.findIndex((n) => n.equals(encodeName(name)));
      const one = Buffer.alloc(stats.size + 1);
      expect(one.subarray(0, readFileInto(join(work, name), one)).toString()).toBe(`content ${i}`);
    }
    const batch = await readSmallFiles(work, listed.map((e) => e.name), listed.map((e) => e.stats.size));
    expect(batch.contents.map((b) => ('message' in b ? b.message : b.toString())))
      .toEqual(listed.map((e) => `content ${raw.findIndex((n) => n.equals(encodeName(e.name)))}`));
  });
});

describe('readFileInto', () => {
  test('reads a file whole, shows one grown past the expected size, and stops at its end', async () => {
    await writeFile(join(work, 'f'), 'hello');
    const exact = Buffer.alloc(6);
    expect(readFileInto(join(work, 'f'), exact)).toBe(5);
    expect(exact.subarray(0, 5).toString()).toBe('hello');
    // The caller expected 3 bytes and asked for 4: the file has grown.
    expect(readFileInto(join(work, 'f'), Buffer.alloc(4))).toBe(4);
    await truncate(join(work, 'f'), 2);
    expect(readFileInto(join(work, 'f'), Buffer.alloc(6))).toBe(2);
    await writeFile(join(work, 'big'), Buffer.alloc(3 * 1024 * 1024 + 7, 'x'));
    const big = Buffer.alloc(3 * 1024 * 1024 + 8);
    expect(readFileInto(join(work, 'big'), big)).toBe(3 * 1024 * 1024 + 7);
  });

  test('never reads through a symlink, and a missing file fails with ENOENT', async () => {
    await writeFile(join(work, 'target'), 'secret');
    await symlink(join(work, 'target'), join(work, 'link'));
    expect(() => readFileInto(join(work, 'link'), Buffer.alloc(16))).toThrow(expect.objectContaining({ code: 'ELOOP', syscall: 'open' }));
    expect(() => readFileInto(join(work, 'gone'), Buffer.alloc(16))).toThrow(expect.objectContaining({ code: 'ENOENT', path: join(work, 'gone') }));
  });
});

describe('readSmallFiles', () => {
  test('reads a directory\'s files in one go: each its bytes (grown ones one byte past their size) or its own error', async () => {
    await writeFile(join(work, 'a'), 'alpha');
    await writeFile(join(work, 'empty'), '');
    await writeFile(join(work, 'grown'), 'grown!');
    await writeFile(join(work, 'target'), 'secret');
    await symlink(join(work, 'target'), join(work, 'link'));
    const many = Array.from({ length: 300 }, (_, i) => `f${i}`);
    for (const name of many) await writeFile(join(work, name), name.repeat(7));
    const read = (await readSmallFiles(work, ['a', 'empty', 'grown', 'link', 'gone', ...many], [5, 0, 3, 6, 1, ...many.map((n) => n.length * 7)])).contents;
    expect(read.slice(0, 3).map((r) => r.toString())).toEqual(['alpha', '', 'grow']);
    expect(read[3]).toMatchObject({ code: 'ELOOP', syscall: 'open', path: join(work, 'link') });
    expect(read[4]).toMatchObject({ code: 'ENOENT', path: join(work, 'gone') });
    expect(read.slice(5).map((r) => r.toString())).toEqual(many.map((n) => n.repeat(7)));
  });

  test('gives each file\'s ctime after its read, as lstat gives it; a file changed since has a later one', async () => {
    await writeFile(join(work, 'a'), 'alpha');
    await writeFile(join(work, 'b'), 'bravo');
    const before = await lstat(join(work, 'b'));
    await sleep(20);
    await writeFile(join(work, 'b'), 'BRAVO');
    const read = await readSmallFiles(work, ['a', 'b'], [5, 5]);
    expect(read.ctimesMs[0]).toBe((await lstat(join(work, 'a'))).ctimeMs);
    expect(read.contents[1]!.toString()).toBe('BRAVO');
    expect(read.ctimesMs[1]).toBe((await lstat(join(work, 'b'))).ctimeMs);
    expect(read.ctimesMs[1]).toBeGreaterThan(before.ctimeMs);
  });

  test('with sha256, gives each file\'s SHA-256 of the very bytes it read, and none for a failed read or when not asked', async () => {
    const names = Array.from({ length: 200 }, (_, i) => `f${i}`);
    for (const name of names) await writeFile(join(work, name), name.repeat(13));
    await writeFile(join(work, 'empty'), '');
    await writeFile(join(work, 'grown'), 'grown!');
    const all = [...names, 'empty', 'grown', 'gone'];
    const read = await readSmallFiles(work, all, [...names.map((n) => n.length * 13), 0, 3, 1], { sha256: true });
    const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');
    expect(read.sha256).toEqual([...names.map((n) => sha256(Buffer.from(n.repeat(13)))), sha256(Buffer.alloc(0)), sha256(Buffer.from('grow')), '']);
    expect(read.contents.slice(0, -1).map((c) => sha256(c as Buffer))).toEqual(read.sha256!.slice(0, -1));
    expect((await readSmallFiles(work, ['f1'], [26])).sha256).toBeUndefined();
  });

  test('a missing directory fails every file with ENOENT', async () => {
    const read = (await readSmallFiles(join(work, 'missing'), ['x', 'y'], [1, 2])).contents;
    expect(read.map((r) => (r as NodeJS.ErrnoException).code)).toEqual(['ENOENT', 'ENOENT']);
  });
});
