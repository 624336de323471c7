import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import { buffer as collect } from 'node:stream/consumers';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { compareLayerPaths, createLayer, type Compression, type LayerChange, type LayerEntry } from '@tsbuild/oci-layout';

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

  test('content shorter or longer than the declared size is an error, not a corrupt tar', async () => {
    const short = createLayer([entry('f', { type: 'file', size: 5, content: Readable.from([Buffer.from('abc')]) })], { compression: 'gzip' });
    await expect(collect(short.stream)).rejects.toThrow('content of "f" has 3 bytes, its header says 5');
    await expect(short.diffId).rejects.toThrow();
    const long = createLayer([entry('f', { type: 'file', size: 2, content: Readable.from([Buffer.from('abc')]) })], { compression: 'none' });
    await expect(collect(long.stream)).rejects.toThrow('content of "f" is longer than its declared size 2');
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

  test('compareLayerPaths sorts by bytes, parents before children', () => {
    expect(['a/b', 'a', 'a-c', 'B', 'a/b/c', 'é'].sort(compareLayerPaths)).toEqual(['B', 'a', 'a-c', 'a/b', 'a/b/c', 'é']);
  });
});
