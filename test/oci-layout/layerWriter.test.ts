import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { buffer as collect } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { compareLayerPaths, createLayer, decodeName, encodeName, LayerContentError, readLayer, type Compression, type LayerChange, type LayerEntry } from '@tsbuild/oci-layout';

let work: string;
beforeEach(async () => {
  work = await mkdtemp(join(tmpdir(), 'tsbuild-writer-'));
});
afterEach(async () => {
  await rm(work, { recursive: true, force: true });
});

const LONG_NAME = `deep/${'directory-name-'.repeat(10)}/fichier-é.txt`;

function capNetRawBlob(): Buffer {
  const blob = Buffer.alloc(20);
  blob.writeUInt32LE(0x02000001, 0);
  blob.writeUInt32LE(1 << 13, 4);
  return blob;
}

function entry(path: string, fields: Partial<LayerEntry> & Pick<LayerEntry, 'type'>): LayerChange {
  return { kind: 'entry', entry: { path, mode: 0o644, uid: 0, gid: 0, mtime: 1_700_000_000, size: 0, ...fields } };
}

function sampleChanges(): LayerChange[] {
  const text = (s: string) => ({ size: Buffer.byteLength(s), open: () => Readable.from([Buffer.from(s)]) });
  return [
    entry('bin', { type: 'directory', mode: 0o755 }),
    entry('bin/ping', { type: 'file', mode: 0o4755, uid: 1000, gid: 50, xattrs: { 'security.capability': capNetRawBlob() }, ...text('ping') }),
    entry('bin/ping6', { type: 'hardlink', linkname: '/bin/ping' }),
    entry('bin/sh', { type: 'symlink', mode: 0o777, linkname: 'dash' }),
    entry(LONG_NAME, { type: 'file', ...text('long') }),
    entry('dev/null', { type: 'character-device', mode: 0o666, devmajor: 1, devminor: 3 }),
    { kind: 'whiteout', path: 'etc/motd' },
    { kind: 'opaque', path: 'var/lib' },
  ];
}

async function layerBytes(compression: Compression): Promise<{ blob: Buffer; diffId: string }> {
  const { stream, diffId } = createLayer(sampleChanges(), { compression });
  const blob = await collect(stream);
  return { blob, diffId: await diffId };
}

const sha256 = (data: Buffer) => `sha256:${createHash('sha256').update(data).digest('hex')}`;

describe('createLayer', () => {
  test('is reproducible and its diff_id is the digest of the uncompressed tar', async () => {
    const first = await layerBytes('gzip');
    const second = await layerBytes('gzip');
    expect(second.blob.equals(first.blob)).toBe(true);
    expect(first.blob.readUInt32LE(4)).toBe(0); // gzip header mtime
    expect(first.diffId).toBe(sha256(gunzipSync(first.blob)));
    const plain = await layerBytes('none');
    expect(plain.diffId).toBe(first.diffId);
    expect(sha256(plain.blob)).toBe(first.diffId);
  });

  test('zstd output is a zstd frame that the zstd tool decompresses to the same tar', async () => {
    const { blob, diffId } = await layerBytes('zstd');
    expect(blob.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
    expect(sha256(execFileSync('zstd', ['-dc'], { input: blob }))).toBe(diffId);
  });

  test('GNU tar lists the normalised headers and restores the capability xattr', async () => {
    const { blob } = await layerBytes('none');
    const layer = join(work, 'layer.tar');
    await writeFile(layer, blob);
    const listing = execFileSync('tar', ['-tvf', layer, '--numeric-owner', '--full-time'], { env: { ...process.env, TZ: 'UTC' } }).toString().trim().split('\n').map((line) => line.replace(/ +/g, ' '));
    expect(listing).toEqual([
      'drwxr-xr-x 0/0 0 2023-11-14 22:13:20 bin/',
      '-rwsr-xr-x 1000/50 4 2023-11-14 22:13:20 bin/ping',
      'hrw-r--r-- 0/0 0 2023-11-14 22:13:20 bin/ping6 link to bin/ping',
      'lrwxrwxrwx 0/0 0 2023-11-14 22:13:20 bin/sh -> dash',
      `-rw-r--r-- 0/0 4 2023-11-14 22:13:20 ${LONG_NAME}`,
      'crw-rw-rw- 0/0 1,3 2023-11-14 22:13:20 dev/null',
      '---------- 0/0 0 1970-01-01 00:00:00 etc/.wh.motd',
      '---------- 0/0 0 1970-01-01 00:00:00 var/lib/.wh..wh..opq',
    ]);
    const out = join(work, 'out');
    execFileSync('mkdir', [out]);
    execFileSync('tar', ['--xattrs', "--xattrs-include=*", '-xf', layer, '-C', out, 'bin/ping']);
    expect(execFileSync('getcap', [join(out, 'bin/ping')]).toString()).toContain('cap_net_raw=ep');
  });

  test('a header that differs from the one before in a single field carries that field (the writer reuses shared fields)', async () => {
    const file = (path: string, fields: Partial<LayerEntry>) => entry(path, { type: 'file', ...fields });
    const changes = [
      file('a', {}), file('b', { mtime: 1_700_000_001 }), file('c', { mtime: 1_700_000_001, gid: 7 }), file('d', { mtime: 1_700_000_001, gid: 7, uid: 7 }),
      file('e', { mtime: 1_700_000_001, gid: 7, uid: 7, mode: 0o600 }), entry('f', { type: 'character-device', devmajor: 1, devminor: 3 }),
      entry('g', { type: 'character-device', devmajor: 1, devminor: 5 }), entry('h', { type: 'block-device', devmajor: 1, devminor: 5 }), file('i', {}),
    ];
    const tar = await collect(createLayer(changes, { compression: 'none' }).stream);
    const listing = execFileSync('tar', ['-tvf', '-', '--numeric-owner', '--full-time'], { input: tar, env: { ...process.env, TZ: 'UTC' } })
      .toString().trim().split('\n').map((line) => line.replace(/ +/g, ' '));
    expect(listing).toEqual([
      '-rw-r--r-- 0/0 0 2023-11-14 22:13:20 a',
      '-rw-r--r-- 0/0 0 2023-11-14 22:13:21 b',
      '-rw-r--r-- 0/7 0 2023-11-14 22:13:21 c',
      '-rw-r--r-- 7/7 0 2023-11-14 22:13:21 d',
      '-rw------- 7/7 0 2023-11-14 22:13:21 e',
      'crw-r--r-- 0/0 1,3 2023-11-14 22:13:20 f',
      'crw-r--r-- 0/0 1,5 2023-11-14 22:13:20 g',
      'brw-r--r-- 0/0 1,5 2023-11-14 22:13:20 h',
      '-rw-r--r-- 0/0 0 2023-11-14 22:13:20 i',
    ]);
  });

  test('content shorter or longer than the declared size is an error, not a corrupt tar', async () => {
    const short = createLayer([entry('f', { type: 'file', size: 5, content: Readable.from([Buffer.from('abc')]) })], { compression: 'gzip' });
    await expect(collect(short.stream)).rejects.toMatchObject({
      constructor: LayerContentError,
      kind: 'content-changed',
      exitCode: 1,
      message: '"f" changed while it was written into the layer: 3 bytes read where 5 were listed (run it again)',
    });
    await expect(short.diffId).rejects.toThrow();
    const long = createLayer([entry('f', { type: 'file', size: 2, content: Readable.from([Buffer.from('abc')]) })], { compression: 'none' });
    await expect(collect(long.stream)).rejects.toThrow('"f" changed while it was written into the layer: more than 2 bytes read where 2 were listed (run it again)');
  });

  test('reads a bounded number of small files ahead; large files are opened only when written', async () => {
    let open = 0;
    let maxOpen = 0;
    const opened: string[] = [];
    const big = 2 * 1024 * 1024;
    function* changes(): Generator<LayerChange> {
      for (let i = 0; i < 200; i++) {
        const name = i === 100 ? 'big' : `f${String(i).padStart(3, '0')}`;
        const size = i === 100 ? big : 3;
        yield entry(name, {
          type: 'file',
          size,
          open: () => {
            opened.push(name);
            maxOpen = Math.max(maxOpen, ++open);
            const stream = Readable.from([Buffer.alloc(size, 'a')]);
            stream.on('end', () => open--);
            return stream;
          },
        });
      }
    }
    const tar = await collect(createLayer(changes(), { compression: 'none' }).stream);
    expect(maxOpen).toBeGreaterThan(1);
    expect(maxOpen).toBeLessThanOrEqual(64);
    // The big file is opened after every small file before it and before the ones after it were due.
    expect(opened.indexOf('big')).toBeGreaterThanOrEqual(100);
    const names = execFileSync('tar', ['-tf', '-'], { input: tar }).toString().trim().split('\n');
    expect(names).toHaveLength(200);
    expect(names[100]).toBe('big');
    expect(execFileSync('tar', ['-xOf', '-', 'big'], { input: tar, maxBuffer: 8 * big }).length).toBe(big);
  });

  test('whole-file reads of every size between small and large come out byte for byte in GNU tar', async () => {
    // Sizes around the block, the writer's chunks (256 KiB) and what it passes on uncopied (64 KiB).
    const sizes = [0, 1, 511, 512, 513, 1024, 65535, 65536, 65537, 200_000, 262_143, 262_144, 262_145, 3, 700_000];
    const body = (i: number, size: number) => Buffer.alloc(size, `file ${i};`);
    const changes = sizes.flatMap((size, i) => [
      entry(`d${i}`, { type: 'directory', mode: 0o755 }),
      entry(`d${i}/f`, { type: 'file', size, read: () => body(i, size) }),
    ]);
    const tar = await collect(createLayer(changes, { compression: 'none' }).stream);
    expect(execFileSync('tar', ['-tf', '-'], { input: tar }).toString().trim().split('\n')).toEqual(sizes.flatMap((_, i) => [`d${i}/`, `d${i}/f`]));
    for (const [i, size] of sizes.entries()) {
      expect(execFileSync('tar', ['-xOf', '-', `d${i}/f`], { input: tar, maxBuffer: 4 * size + 1024 }).equals(body(i, size))).toBe(true);
    }
    // A large file is streamed even when it could be read whole.
    const large = 2 * 1024 * 1024;
    const streamed = createLayer([entry('l', { type: 'file', size: large, read: () => { throw new Error('read whole'); }, open: () => Readable.from([Buffer.alloc(large, 'l')]) })], { compression: 'none' });
    expect((await collect(streamed.stream)).length).toBe(512 + large + 1024);
    const grown = createLayer([entry('g', { type: 'file', size: 4, read: () => Buffer.from('grown') })], { compression: 'none' });
    await expect(collect(grown.stream)).rejects.toThrow('"g" changed while it was written into the layer: 5 bytes read where 4 were listed (run it again)');
  });

  test('compareLayerPaths sorts by bytes, parents before children', () => {
    expect(['a/b', 'a', 'a-c', 'B', 'a/b/c', 'é'].sort(compareLayerPaths)).toEqual(['B', 'a', 'a-c', 'a/b', 'a/b/c', 'é']);
  });

  /** The layer's changes as readLayer gives them back, each file's content read. */
  async function reread(tar: Buffer): Promise<(LayerChange & { text?: string })[]> {
    const changes: (LayerChange & { text?: string })[] = [];
    for await (const change of readLayer(Readable.from([tar]))) {
      const text = change.kind === 'entry' && change.entry.content ? (await collect(change.entry.content)).toString('latin1') : undefined;
      if (change.kind === 'entry') delete change.entry.content;
      changes.push(text === undefined ? change : { ...change, text });
    }
    return changes;
  }

  const SPARSE_SIZE = 60e9;
  const sparseEntry = (): LayerChange =>
    entry('var/lib/sparse.db', {
      type: 'file',
      size: SPARSE_SIZE,
      sparse: [
        { offset: 4096, length: 5 },
        { offset: 30e9, length: 6 },
        { offset: SPARSE_SIZE - 3, length: 3 },
      ],
      open: () => Readable.from([Buffer.from('firstmiddleend')]),
    });

  test('writes a sparse entry (PAX sparse 1.0) that reads back as the same entry, holes never expanded', async () => {
    const tar = await collect(createLayer([sparseEntry()], { compression: 'none' }).stream);
    expect(tar.length).toBeLessThan(8192);
    const [change] = await reread(tar);
    expect(change).toEqual({ ...sparseEntry(), entry: { ...(sparseEntry() as { entry: LayerEntry }).entry, open: undefined }, text: 'firstmiddleend' });
  });

  test('GNU tar extracts the sparse entry with its logical size, data at its offsets, and holes as holes', async () => {
    const small = entry('holes', {
      type: 'file',
      size: 50 * 1024 * 1024,
      sparse: [{ offset: 10 * 1024 * 1024, length: 4 }],
      open: () => Readable.from([Buffer.from('data')]),
    });
    const tar = await collect(createLayer([small], { compression: 'none' }).stream);
    const out = join(work, 'out');
    execFileSync('mkdir', [out]);
    execFileSync('tar', ['-xf', '-', '-C', out], { input: tar });
    const stat = execFileSync('stat', ['-c', '%s %b', join(out, 'holes')]).toString().trim().split(' ').map(Number);
    expect(stat[0]).toBe(50 * 1024 * 1024);
    expect(stat[1]! * 512).toBeLessThan(1024 * 1024);
    const fd = execFileSync('dd', [`if=${join(out, 'holes')}`, 'bs=1', `skip=${10 * 1024 * 1024 - 2}`, 'count=8'], { stdio: ['ignore', 'pipe', 'ignore'] });
    expect(fd.toString('latin1')).toBe('\0\0data\0\0');
  });

  test('refuses sparse regions that overlap or lie outside the file, and content that does not fill them', async () => {
    const bad = (sparse: { offset: number; length: number }[], data = 'x') =>
      collect(createLayer([entry('s', { type: 'file', size: 10, sparse, open: () => Readable.from([Buffer.from(data)]) })], { compression: 'none' }).stream);
    await expect(bad([{ offset: 5, length: 1 }, { offset: 2, length: 1 }])).rejects.toThrow(/sparse regions/);
    await expect(bad([{ offset: 9, length: 2 }])).rejects.toThrow(/sparse regions/);
    await expect(bad([{ offset: 0, length: 3 }])).rejects.toThrow(/1 bytes read where 3 were listed/);
  });

  test('names that are not UTF-8 round-trip byte for byte, and stay distinct', async () => {
    const raw = Buffer.from('hi\x80\x81\x82\x83bye', 'latin1');
    const replaced = Buffer.from('hi\xef\xbf\xbd\xef\xbf\xbdbye', 'latin1');
    const changes = [
      entry(decodeName(raw), { type: 'file', size: 1, open: () => Readable.from([Buffer.from('a')]) }),
      entry(decodeName(replaced), { type: 'file', size: 1, open: () => Readable.from([Buffer.from('b')]) }),
      entry(`dir/${decodeName(raw)}`, { type: 'symlink', linkname: decodeName(raw) }),
      { kind: 'whiteout', path: decodeName(Buffer.concat([raw, Buffer.from('-gone')])) } as LayerChange,
    ];
    const tar = await collect(createLayer(changes, { compression: 'none' }).stream);
    const back = await reread(tar);
    expect(back.map((c) => encodeName(c.kind === 'entry' ? c.entry.path : c.path))).toEqual([raw, replaced, Buffer.concat([Buffer.from('dir/'), raw]), Buffer.concat([raw, Buffer.from('-gone')])]);
    expect(back.map((c) => (c.kind === 'entry' ? c.entry.linkname : undefined))).toEqual([undefined, undefined, decodeName(raw), undefined]);
    // GNU tar, reading the same bytes, sees the same names.
    const listed = execFileSync('tar', ['--quoting-style=literal', '-tf', '-'], { input: tar }).subarray(0, -1);
    const lines: Buffer[] = [];
    for (let at = 0; at <= listed.length; ) {
      const end = listed.indexOf(0x0a, at);
      lines.push(listed.subarray(at, end < 0 ? listed.length : end));
      at = end < 0 ? listed.length + 1 : end + 1;
    }
    expect(lines).toContainEqual(raw);
    expect(lines).toContainEqual(replaced);
    // A new layer written from what was read is the same bytes.
    const again = await collect(
      createLayer(
        back.map((c) => (c.kind === 'entry' && c.text !== undefined ? { kind: 'entry', entry: { ...c.entry, open: () => Readable.from([Buffer.from(c.text!, 'latin1')]) } } : c) as LayerChange),
        { compression: 'none' },
      ).stream,
    );
    expect(again.equals(tar)).toBe(true);
  });
});
