import { execFileSync } from 'node:child_process';
import { createReadStream } from 'node:fs';
import { lstat, mkdtemp, readFile, readdir, readlink, rm, stat, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import {
  applyChanges,
  applyLayer,
  createLayer,
  decodeName,
  fsNative,
  type Compression,
  type LayerChange,
  type LayerEntry,
} from '@tsbuild/oci-layout';

let base: string;
let rootfs: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'tsbuild-apply-'));
  rootfs = join(base, 'rootfs');
  await mkdir(rootfs);
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function entry(path: string, fields: Partial<LayerEntry> & Pick<LayerEntry, 'type'>): LayerChange {
  return { kind: 'entry', entry: { path, mode: 0o644, uid: 0, gid: 0, mtime: 1_600_000_000, size: 0, ...fields } };
}

function file(path: string, text: string, fields: Partial<LayerEntry> = {}): LayerChange {
  const data = Buffer.from(text);
  return entry(path, { type: 'file', size: data.length, open: () => Readable.from([data]), ...fields });
}

function dir(path: string, fields: Partial<LayerEntry> = {}): LayerChange {
  return entry(path, { type: 'directory', mode: 0o755, ...fields });
}

async function layerBlob(changes: LayerChange[], compression: Compression = 'gzip'): Promise<Buffer> {
  const { stream } = createLayer(changes, { compression });
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function apply(changes: LayerChange[], compression: Compression = 'gzip') {
  return applyLayer(rootfs, Readable.from([await layerBlob(changes, compression)]));
}

async function tree(root: string, prefix = ''): Promise<string[]> {
  const names = (await readdir(join(root, prefix))).sort();
  const lines: string[] = [];
  for (const name of names) {
    const rel = prefix ? `${prefix}/${name}` : name;
    const st = await lstat(join(root, rel));
    lines.push(rel);
    if (st.isDirectory()) lines.push(...(await tree(root, rel)));
  }
  return lines;
}

// The 20-byte vfs_cap_data v2 that `setcap cap_net_raw+ep` writes.
function capNetRawBlob(): Buffer {
  const blob = Buffer.alloc(20);
  blob.writeUInt32LE(0x02000001, 0);
  blob.writeUInt32LE(1 << 13, 4);
  return blob;
}

describe('applyLayer', () => {
  test.each(['gzip', 'zstd', 'none'] as const)('round trips every entry kind and its metadata (%s)', async (compression) => {
    const changes: LayerChange[] = [
      dir('bin', { mode: 0o755, mtime: 1_500_000_000 }),
      file('bin/ping', 'ELF...', { mode: 0o755, xattrs: { 'security.capability': capNetRawBlob() } }),
      file('bin/su', 'su', { mode: 0o4755 }),
      entry('bin/su-link', { type: 'hardlink', linkname: 'bin/su' }),
      entry('bin/sh', { type: 'symlink', linkname: '/bin/dash', mtime: 1_400_000_000 }),
      dir('dev', { mode: 0o755 }),
      entry('dev/null', { type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 }),
      entry('dev/pipe', { type: 'fifo', mode: 0o640 }),
      file('home/user/notes', 'hello', { mode: 0o640, uid: 1000, gid: 50, mtime: 1_234_567_890 }),
      dir('tmp', { mode: 0o1777, mtime: 1_300_000_000 }),
    ];
    const { entries } = await apply(changes, compression);
    expect(entries).toBe(changes.length);

    const ping = join(rootfs, 'bin/ping');
    expect(fsNative().lgetxattr(ping, 'security.capability')).toEqual(capNetRawBlob());
    expect(execFileSync('getcap', [ping]).toString()).toContain('cap_net_raw=ep');
    expect((await stat(join(rootfs, 'bin/su'))).mode & 0o7777).toBe(0o4755);
    const su = await stat(join(rootfs, 'bin/su'));
    const suLink = await stat(join(rootfs, 'bin/su-link'));
    expect(suLink.ino).toBe(su.ino);
    expect(su.nlink).toBe(2);
    expect(await readlink(join(rootfs, 'bin/sh'))).toBe('/bin/dash');
    expect((await lstat(join(rootfs, 'bin/sh'))).mtimeMs).toBe(1_400_000_000_000);
    const devNull = await lstat(join(rootfs, 'dev/null'));
    expect(devNull.isCharacterDevice()).toBe(true);
    expect(devNull.rdev).toBe(0x103);
    expect(devNull.mode & 0o7777).toBe(0o666);
    const pipe = await lstat(join(rootfs, 'dev/pipe'));
    expect(pipe.isFIFO()).toBe(true);
    expect(pipe.mode & 0o7777).toBe(0o640);
    const notes = await lstat(join(rootfs, 'home/user/notes'));
    expect(await readFile(join(rootfs, 'home/user/notes'), 'utf8')).toBe('hello');
    expect([notes.mode & 0o7777, notes.uid, notes.gid, notes.mtimeMs]).toEqual([0o640, 1000, 50, 1_234_567_890_000]);
    const tmp = await lstat(join(rootfs, 'tmp'));
    expect([tmp.mode & 0o7777, tmp.mtimeMs]).toEqual([0o1777, 1_300_000_000_000]);
    // Set after its children were written.
    expect((await lstat(join(rootfs, 'bin'))).mtimeMs).toBe(1_500_000_000_000);
  });

  test('setuid survives a non-root owner (chmod after chown)', async () => {
    await apply([file('usr/bin/newgrp', 'x', { mode: 0o6755, uid: 1000, gid: 50 })]);
    const st = await stat(join(rootfs, 'usr/bin/newgrp'));
    expect([st.mode & 0o7777, st.uid, st.gid]).toEqual([0o6755, 1000, 50]);
  });

  test('a later layer replaces files, keeps directories, and its whiteouts delete lower paths', async () => {
    await apply([
      dir('etc'),
      file('etc/keep', 'keep'),
      file('etc/gone', 'gone'),
      dir('var/cache/apt'),
      file('var/cache/apt/pkgcache.bin', 'big'),
      file('etc/replaced', 'old'),
      dir('became-file'),
      file('became-file/child', 'x'),
    ]);
    await apply([
      dir('etc', { mode: 0o700, uid: 0 }),
      { kind: 'whiteout', path: 'etc/gone' },
      { kind: 'whiteout', path: 'var/cache' },
      { kind: 'whiteout', path: 'never/existed' },
      { kind: 'whiteout', path: 'etc/keep/not-a-dir' },
      file('etc/replaced', 'new'),
      file('became-file', 'now a file'),
    ]);
    expect(await tree(rootfs)).toEqual(['became-file', 'etc', 'etc/keep', 'etc/replaced', 'var']);
    expect((await stat(join(rootfs, 'etc'))).mode & 0o7777).toBe(0o700);
    expect(await readFile(join(rootfs, 'etc/replaced'), 'utf8')).toBe('new');
    expect(await readFile(join(rootfs, 'became-file'), 'utf8')).toBe('now a file');
  });

  test('an opaque directory hides the lower layers but keeps what its own layer wrote, before or after the marker', async () => {
    await apply([dir('app'), file('app/old', 'old'), dir('app/lib'), file('app/lib/old.so', 'old'), file('other', 'o')]);
    await apply([
      dir('app'),
      file('app/before', 'b'),
      dir('app/lib'),
      { kind: 'opaque', path: 'app' },
      file('app/after', 'a'),
    ]);
    expect(await tree(rootfs)).toEqual(['app', 'app/after', 'app/before', 'app/lib', 'other']);
  });

  test('files get owner and mode from the layer, whatever a setgid directory or the umask would give them', async () => {
    await apply([
      dir('shared', { mode: 0o2775, gid: 50 }),
      file('shared/root-owned', 'r', { uid: 0, gid: 0 }),
      file('shared/implicit/deep', 'd', { uid: 0, gid: 0 }),
      file('shared/user-owned', 'u', { uid: 1000, gid: 1000 }),
      file('world-writable', 'w', { mode: 0o666 }),
      file('private', 'p', { mode: 0o600 }),
      file('sticky-exec', 's', { mode: 0o1755 }),
    ]);
    const owner = async (path: string) => {
      const st = await lstat(join(rootfs, path));
      return [st.mode & 0o7777, st.uid, st.gid];
    };
    expect(await owner('shared')).toEqual([0o2775, 0, 50]);
    expect(await owner('shared/root-owned')).toEqual([0o644, 0, 0]);
    expect(await owner('shared/implicit/deep')).toEqual([0o644, 0, 0]);
    expect(await owner('shared/user-owned')).toEqual([0o644, 1000, 1000]);
    expect(await owner('world-writable')).toEqual([0o666, 0, 0]);
    expect(await owner('private')).toEqual([0o600, 0, 0]);
    expect(await owner('sticky-exec')).toEqual([0o1755, 0, 0]);
  });

  test('a whiteout keeps what its own layer wrote there, before or after it', async () => {
    await mkdir(join(rootfs, 'w/lower'), { recursive: true });
    await apply([file('w/a', '1'), file('w/sub/b', '2'), { kind: 'whiteout', path: 'w' }, file('w/sub/c', '3')]);
    expect(await tree(rootfs)).toEqual(['w', 'w/a', 'w/sub', 'w/sub/b', 'w/sub/c']);
    expect(await readFile(join(rootfs, 'w/sub/c'), 'utf8')).toBe('3');
  });

  test('onto an empty root, whiteouts and opaque markers keep all the layer wrote: nothing lower is there to hide', async () => {
    await apply([
      file('w/a', '1'),
      { kind: 'whiteout', path: 'w/a' },
      { kind: 'whiteout', path: 'w' },
      file('w/b', '2'),
      dir('o'),
      file('o/x', '3'),
      { kind: 'opaque', path: 'o' },
      { kind: 'opaque', path: '' },
    ]);
    expect(await tree(rootfs)).toEqual(['o', 'o/x', 'w', 'w/a', 'w/b']);
    // A second layer onto the now filled root removes what the first one wrote.
    await apply([{ kind: 'whiteout', path: 'w/a' }, { kind: 'opaque', path: 'o' }, file('o/y', '4')]);
    expect(await tree(rootfs)).toEqual(['o', 'o/y', 'w', 'w/b']);
  });

  test('many files, small and large, arrive complete with their metadata', async () => {
    const big = 'x'.repeat(5 * 1024 * 1024 + 3);
    const changes = Array.from({ length: 300 }, (_, i) =>
      file(`many/d${i % 7}/f${i}`, i % 100 === 0 ? big : `content ${i}`, { mode: 0o640 + (i % 2), mtime: 1_000_000 + i }),
    );
    await apply(changes);
    for (let i = 0; i < 300; i++) {
      const path = join(rootfs, `many/d${i % 7}/f${i}`);
      expect(await readFile(path, 'utf8')).toBe(i % 100 === 0 ? big : `content ${i}`);
      const st = await lstat(path);
      expect([st.mode & 0o7777, st.mtimeMs]).toEqual([0o640 + (i % 2), (1_000_000 + i) * 1000]);
    }
  });

  test('a corrupt layer fails with a clear error', async () => {
    const blob = await layerBlob([file('a', 'x'.repeat(10_000))], 'none');
    await expect(applyLayer(rootfs, Readable.from([blob.subarray(0, 3000)]))).rejects.toThrow(/layer is truncated/);
  });
});

describe('sparse files', () => {
  /** A sparse entry whose content is just its regions' bytes, as a reader hands it over. */
  function sparseFile(path: string, size: number, regions: { offset: number; data: string }[]): LayerChange {
    const data = Buffer.from(regions.map((r) => r.data).join(''));
    const sparse = regions.map((r) => ({ offset: r.offset, length: Buffer.byteLength(r.data) }));
    return entry(path, { type: 'file', size, sparse, content: Readable.from([data]) });
  }

  test('data lands at its offsets, holes stay holes, and the file has its logical size', async () => {
    const GiB = 1024 ** 3;
    await applyChanges(rootfs, [
      sparseFile('big', 60 * GiB, [
        { offset: 0, data: 'head' },
        { offset: 20 * GiB, data: 'middle' },
        { offset: 60 * GiB - 4, data: 'tail' },
      ]),
      sparseFile('trailing-hole', 1 * GiB, [{ offset: 4096, data: 'x' }]),
      sparseFile('all-hole', 5 * GiB, []),
    ]);
    const big = await stat(join(rootfs, 'big'));
    expect(big.size).toBe(60 * GiB);
    // Three 4 KiB blocks at most (the file system's block size), not 60 GiB.
    expect(big.blocks * 512).toBeLessThanOrEqual(3 * 64 * 1024);
    const read = (path: string, offset: number, length: number) =>
      execFileSync('dd', [`if=${join(rootfs, path)}`, 'bs=1', `skip=${offset}`, `count=${length}`, 'status=none']).toString('latin1');
    expect(read('big', 0, 6)).toBe('head\0\0');
    expect(read('big', 20 * GiB - 1, 8)).toBe('\0middle\0');
    expect(read('big', 60 * GiB - 5, 5)).toBe('\0tail');
    expect((await stat(join(rootfs, 'trailing-hole'))).size).toBe(GiB);
    expect(read('trailing-hole', 4095, 3)).toBe('\0x\0');
    const allHole = await stat(join(rootfs, 'all-hole'));
    expect([allHole.size, allHole.blocks]).toEqual([5 * GiB, 0]);
  });

  test('a small sparse file reads back byte for byte as its dense form', async () => {
    const regions = [
      { offset: 3, data: 'abc' },
      { offset: 9000, data: 'x'.repeat(70_000) },
      { offset: 100_000, data: 'end' },
    ];
    const expected = Buffer.alloc(100_010);
    for (const r of regions) expected.write(r.data, r.offset, 'latin1');
    await applyChanges(rootfs, [sparseFile('small', expected.length, regions)]);
    expect((await readFile(join(rootfs, 'small'))).equals(expected)).toBe(true);
  });
});

describe('names are bytes', () => {
  const name = (bytes: string) => decodeName(Buffer.from(bytes, 'latin1'));
  const bytesOf = (names: Buffer[]) => names.map((n) => n.toString('latin1')).sort();

  test('two names that differ only in bytes that are not UTF-8 stay two files, byte for byte', async () => {
    await applyChanges(rootfs, [
      file(name('hi\x80\x81\x82\x83bye'), 'one'),
      file(name('hi\x80\x81\x82\x84bye'), 'two'),
      dir(name('dir\xff')),
      file(name('dir\xff/in\xfe'), 'inside'),
      entry(name('link\xc0'), { type: 'symlink', linkname: name('dir\xff/in\xfe') }),
      entry(name('hard\xc1'), { type: 'hardlink', linkname: name('hi\x80\x81\x82\x83bye') }),
    ]);
    const top = await readdir(rootfs, { encoding: 'buffer' });
    expect(bytesOf(top)).toEqual(['dir\xff', 'hard\xc1', 'hi\x80\x81\x82\x83bye', 'hi\x80\x81\x82\x84bye', 'link\xc0']);
    const listed = execFileSync('find', [rootfs, '-mindepth', '1', '-printf', '%P\\n']).toString('latin1').trim().split('\n');
    expect(listed).toContain('hi\x80\x81\x82\x84bye');
    expect(listed).toContain('dir\xff/in\xfe');
    expect((await readFile(Buffer.from(`${rootfs}/hi\x80\x81\x82\x83bye`, 'latin1'))).toString()).toBe('one');
    expect((await readFile(Buffer.from(`${rootfs}/hi\x80\x81\x82\x84bye`, 'latin1'))).toString()).toBe('two');
    expect((await readFile(Buffer.from(`${rootfs}/link\xc0`, 'latin1'))).toString()).toBe('inside');
    expect((await lstat(Buffer.from(`${rootfs}/hard\xc1`, 'latin1'))).nlink).toBe(2);
  });

  test('whiteouts and opaque directories find byte names, in this layer and below', async () => {
    await applyChanges(rootfs, [dir(name('o\x80')), file(name('o\x80/lower\x81'), 'lower'), file(name('gone\x82'), 'x')]);
    await applyChanges(rootfs, [
      file(name('o\x80/own\x83'), 'own'),
      { kind: 'opaque', path: name('o\x80') },
      { kind: 'whiteout', path: name('gone\x82') },
    ]);
    expect(bytesOf(await readdir(rootfs, { encoding: 'buffer' }))).toEqual(['o\x80']);
    expect(bytesOf(await readdir(Buffer.from(`${rootfs}/o\x80`, 'latin1'), { encoding: 'buffer' }))).toEqual(['own\x83']);
  });
});

describe('tar members made by GNU tar', () => {
  test('names that are not UTF-8 and sparse files (PAX 1.0) land byte for byte and with their holes', async () => {
    const source = join(base, 'source');
    await mkdir(source);
    await writeFile(Buffer.from(`${source}/hi\x80\x81\x82\x83bye`, 'latin1'), 'one');
    await writeFile(Buffer.from(`${source}/hi\x80\x81\x82\x84bye`, 'latin1'), 'two');
    execFileSync('truncate', ['-s', '3G', join(source, 'holes')]);
    execFileSync('sh', ['-c', `printf data | dd of=${join(source, 'holes')} bs=1 seek=2000000000 conv=notrunc status=none`]);
    const tarball = join(base, 'layer.tar');
    execFileSync('tar', ['--sparse', '--posix', '-C', source, '-cf', tarball, '.']);
    await applyLayer(rootfs, createReadStream(tarball));

    const names = (await readdir(rootfs, { encoding: 'buffer' })).map((n) => n.toString('latin1')).sort();
    expect(names).toEqual(['hi\x80\x81\x82\x83bye', 'hi\x80\x81\x82\x84bye', 'holes']);
    expect((await readFile(Buffer.from(`${rootfs}/hi\x80\x81\x82\x84bye`, 'latin1'))).toString()).toBe('two');
    const holes = await stat(join(rootfs, 'holes'));
    expect(holes.size).toBe(3 * 1024 ** 3);
    expect(holes.blocks * 512).toBeLessThanOrEqual(64 * 1024);
    const at = execFileSync('dd', [`if=${join(rootfs, 'holes')}`, 'bs=1', 'skip=1999999999', 'count=6', 'status=none']);
    expect(at.toString('latin1')).toBe('\0data\0');
  });
});

