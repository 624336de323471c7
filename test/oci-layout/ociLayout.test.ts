import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createRequire, syncBuiltinESMExports } from 'node:module';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { afterAll, describe, expect, it } from 'vitest';
import {
  DigestMismatchError, digestOf, LocalStore, MediaType, normalizeImageName, OciLayout, parseImageName, REF_NAME_ANNOTATION, storeRoot, VerifyingStream,
} from '@tsbuild/oci-layout';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

describe('OciLayout blob store', () => {
  it('creates a valid empty layout', async () => {
    const dir = await dirs.make();
    await OciLayout.open(dir, { create: true });
    expect(JSON.parse(await readFile(join(dir, 'oci-layout'), 'utf8'))).toEqual({ imageLayoutVersion: '1.0.0' });
    expect(JSON.parse(await readFile(join(dir, 'index.json'), 'utf8'))).toEqual({ schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] });
    await expect(OciLayout.open(await dirs.make())).rejects.toThrow(/not an OCI image layout/);
  });

  it('stores a stream under its digest, and refuses content that does not match the expected digest', async () => {
    const dir = await dirs.make();
    const layout = await OciLayout.open(dir, { create: true });
    const data = Buffer.from('hello blob');
    const { digest, size } = await layout.putBlob(Readable.from([data]));
    expect(digest).toBe(digestOf(data));
    expect(size).toBe(data.length);
    expect(await collect(await layout.openBlob(digest, size))).toEqual(data);
    await expect(layout.putBlob(Readable.from([Buffer.from('other')]), { expected: digestOf('something else') })).rejects.toThrow(DigestMismatchError);
    expect((await readdir(join(dir, 'blobs', 'sha256'))).sort()).toEqual([digest.slice(7)]);
    expect((await readdir(dir)).filter((f) => f.startsWith('.blob-'))).toEqual([]);
  });

  it('streams a large blob in odd-sized chunks to disk byte for byte (past the background flush points)', async () => {
    const dir = await dirs.make();
    const layout = await OciLayout.open(dir, { create: true });
    const data = randomBytes(40 * 1024 * 1024 + 12345);
    const chunks: Buffer[] = [];
    for (let at = 0, size = 1; at < data.length; at += size, size = (size * 7 + 13) % 3_000_000 || 1) chunks.push(data.subarray(at, at + size));
    const { digest, size } = await layout.putBlob(Readable.from(chunks));
    expect(digest).toBe(digestOf(data));
    expect(size).toBe(data.length);
    expect((await readFile(layout.blobPath(digest))).equals(data)).toBe(true);
  });

  it('trusts a verifying source for the digest, but still refuses what that source rejects', async () => {
    const dir = await dirs.make();
    const layout = await OciLayout.open(dir, { create: true });
    const good = randomBytes(3 * 1024 * 1024);
    const expected = digestOf(good);
    const verified = Readable.from([good]).pipe(new VerifyingStream(expected, good.length));
    expect(await layout.putBlob(verified, { expected, sourceVerifies: true })).toEqual({ digest: expected, size: good.length });
    expect((await readFile(layout.blobPath(expected))).equals(good)).toBe(true);

    const bad = Buffer.from(good);
    bad[1000] ^= 1;
    const otherDigest = digestOf(Buffer.concat([good, Buffer.from('x')]));
    const corrupted = Readable.from([bad, Buffer.from('x')]).pipe(new VerifyingStream(otherDigest, good.length + 1));
    await expect(layout.putBlob(corrupted, { expected: otherDigest, sourceVerifies: true })).rejects.toThrow(/digest mismatch/);
    expect(await layout.hasBlob(otherDigest)).toBe(false);
    expect((await readdir(dir)).filter((f) => f.startsWith('.blob-'))).toEqual([]);
  });

  it('leaves no temp file when its source fails before the temp file is even open', async () => {
    // The temp file's open is made slow: it lands after the failure, and so after a cleanup that did not wait for it.
    const fsPromises = createRequire(import.meta.url)('node:fs/promises') as typeof import('node:fs/promises');
    const realOpen = fsPromises.open;
    fsPromises.open = async (...args: Parameters<typeof realOpen>) => {
      await new Promise((resolve) => setTimeout(resolve, 50));
      return realOpen(...args);
    };
    syncBuiltinESMExports();
    try {
      const dir = await dirs.make();
      const layout = await OciLayout.open(dir, { create: true });
      const source = new Readable({ read() {} });
      process.nextTick(() => source.destroy(new Error('the source failed')));
      await expect(layout.putBlob(source)).rejects.toThrow('the source failed');
      await new Promise((resolve) => setTimeout(resolve, 100));
      expect((await readdir(dir)).filter((f) => f.startsWith('.blob-'))).toEqual([]);
    } finally {
      fsPromises.open = realOpen;
      syncBuiltinESMExports();
    }
  });

  it('detects a corrupted or truncated blob while reading it', async () => {
    const layout = await OciLayout.open(await dirs.make(), { create: true });
    const { digest, size } = await layout.putBlobBytes(Buffer.from('original content'));
    await writeFile(layout.blobPath(digest), 'tampered content');
    await expect(collect(await layout.openBlob(digest, size))).rejects.toThrow(/digest mismatch/);
    await writeFile(layout.blobPath(digest), 'original');
    await expect(collect(await layout.openBlob(digest, size))).rejects.toThrow(/truncated/);
    await expect(layout.readBlob(digest)).rejects.toThrow(DigestMismatchError);
    await expect(layout.openBlob(digestOf('absent'))).rejects.toThrow(/missing/);
  });

  it('reads sha512-addressed blobs', async () => {
    const layout = await OciLayout.open(await dirs.make(), { create: true });
    const data = Buffer.from('sha512 content');
    const { digest } = await layout.putBlobBytes(data, digestOf(data, 'sha512'));
    expect(digest.startsWith('sha512:')).toBe(true);
    expect(await collect(await layout.openBlob(digest))).toEqual(data);
  });

  it('concurrent index updates never lose each other', async () => {
    const layout = await OciLayout.open(await dirs.make(), { create: true });
    const desc = await layout.putDocument({ hello: 1 }, MediaType.ociManifest);
    await Promise.all(Array.from({ length: 20 }, (_, i) => layout.updateIndex((index) => ({
      ...index,
      manifests: [...index.manifests, { ...desc, annotations: { [REF_NAME_ANNOTATION]: `n${i}` } }],
    }))));
    expect((await layout.readIndex()).manifests).toHaveLength(20);
  });
});

describe('image names and the store root', () => {
  it('normalises short names the way podman does for local images', () => {
    expect(normalizeImageName('hello')).toBe('localhost/hello:latest');
    expect(normalizeImageName('hello:v1')).toBe('localhost/hello:v1');
    expect(normalizeImageName('team/app')).toBe('localhost/team/app:latest');
    expect(normalizeImageName('quay.io/team/app:1.0')).toBe('quay.io/team/app:1.0');
    expect(normalizeImageName('localhost:5000/app')).toBe('localhost:5000/app:latest');
    expect(normalizeImageName('docker.io/busybox')).toBe('docker.io/library/busybox:latest');
    expect(parseImageName(`app@${digestOf('x')}`)).toEqual({ registry: 'localhost', repository: 'app', digest: digestOf('x') });
    for (const bad of ['Hello', 'a//b', 'app:', 'app:-bad', '', 'app@sha256:123']) expect(() => normalizeImageName(bad)).toThrow();
  });

  it('--root, then TSBUILD_ROOT, then XDG_DATA_HOME, then ~/.local/share', () => {
    expect(storeRoot('/explicit', { TSBUILD_ROOT: '/env' })).toBe('/explicit');
    expect(storeRoot(undefined, { TSBUILD_ROOT: '/env', XDG_DATA_HOME: '/xdg' })).toBe('/env');
    expect(storeRoot(undefined, { XDG_DATA_HOME: '/xdg' })).toBe('/xdg/tsbuild');
    expect(storeRoot(undefined, {})).toMatch(/\/\.local\/share\/tsbuild$/);
  });

  it('resolves images by name or unique ID prefix', async () => {
    const store = await LocalStore.open(await dirs.make());
    const a = await store.layout.putDocument({ a: 1 }, MediaType.ociManifest);
    await store.tag(a, ['one', 'two:v2']);
    expect((await store.resolve('one')).name).toBe('localhost/one:latest');
    expect((await store.resolve(a.digest.slice(7, 19))).descriptor.digest).toBe(a.digest);
    await expect(store.resolve('three')).rejects.toThrow(/not found/);
    await store.untag('one');
    expect((await store.list()).map((i) => i.name)).toEqual(['localhost/two:v2']);
  });
});
