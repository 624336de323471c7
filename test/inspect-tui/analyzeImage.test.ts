import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Readable } from 'node:stream';
import { buffer as collect } from 'node:stream/consumers';
import { createLayer, openDockerArchive, type SparseRegion } from '@tsbuild/oci-layout';
import { aggregateFiles, analyzeImage, layerChanges, TsdiveError, type ImageAnalysis } from '@tsbuild/inspect-tui';
import { tempDirs } from '../helpers/tempDirs.js';
import { writeDockerArchive, type TestLayer } from './dockerArchiveFixture.js';
import { DIVE_IMAGE } from '../helpers/fixtures.js';

const dirs = tempDirs();
afterAll(() => dirs.cleanup());

describe('analyzeImage on dive\'s own test image', () => {
  it('gives exactly the figures dive\'s tests expect', async () => {
    const image = await openDockerArchive(DIVE_IMAGE);
    const a = await analyzeImage(image);
    expect(a.efficiencyScore).toBe(0.9844212134184309);
    expect(a.sizeBytes).toBe(1220598);
    expect(a.userSizeBytes).toBe(66237);
    expect(a.wastedBytes).toBe(32025);
    expect(a.userWastedPercent).toBe(0.4834911001404049);
    expect(a.inefficientFiles.map((f) => [f.path, f.count, f.sizeBytes])).toEqual([
      ['/root/saved.txt', 2, 12810],
      ['/root/example/somefile1.txt', 2, 12810],
      ['/root/example/somefile3.txt', 2, 6405],
    ]);
  });

  it('says which layers wrote and removed each wasted path, with their commands', async () => {
    const a = await analyzeImage(await openDockerArchive(DIVE_IMAGE));
    const somefile3 = a.inefficientFiles.find((f) => f.path === '/root/example/somefile3.txt')!;
    expect(somefile3.layers).toEqual([
      { index: 6, command: 'cp /somefile.txt /root/example/somefile3.txt', action: 'wrote', sizeBytes: 6405 },
      { index: 7, command: 'mv /root/example/somefile3.txt /root/saved.txt', action: 'removed', sizeBytes: 0 },
    ]);
    expect(a.layers.map((l) => l.command)[9]).toBe('rm -rf /root/example/');
  });

  it('marks the paths of each layer against the layers below', async () => {
    const a = await analyzeImage(await openDockerArchive(DIVE_IMAGE));
    const marks = (i: number) => Object.fromEntries(layerChanges(a.layers[i]!).map((c) => [c.path, c.change]));
    // chmod 444 rewrote the file with the same bytes: a mode change
    expect(marks(4)['root/example/somefile1.txt']).toBe('modified');
    // rm -rf /root/example removes the directory and everything still below it
    expect(marks(9)).toMatchObject({
      'root/example': 'removed',
      'root/example/somefile1.txt': 'removed',
      'root/example/somefile2.txt': 'removed',
      'root/example/really/nested': 'removed',
      root: 'unmodified',
    });
    expect(marks(9)['root/example/somefile3.txt']).toBeUndefined();
  });
});

/*
 * A small image worked out by hand with dive's rules:
 *   layer 0: etc/a (100 B), etc/b (50 B), opt/x (10 B), opt/y (20 B), lnk -> etc/a
 *   layer 1: etc/a same bytes, mode 0600; etc/c (30 B); whiteout etc/b; lnk -> etc/c
 *   layer 2: opt made opaque, opt/z (5 B)
 *   layer 3: whiteout etc
 * Leaves counted per path (cumulative / smallest):
 *   /etc/a 100+100 / 100, /etc/b 50+0 / 0 (a whited-out file counts 0), /lnk 0+0 / 0,
 *   /opt/x 10, /opt/y 20, /etc/c 30, /opt/z 5 (dive ignores the opaque marker),
 *   /etc 130 (a whited-out directory counts what is left below it: a + c).
 *   score = (100+0+0+10+20+30+5+130) / (200+50+0+10+20+30+5+130) = 295 / 445
 *   wasted = 200 + 50 + 0 = 250; layer sizes 180, 130, 5, 0; user bytes 135.
 */
const HAND_LAYERS: TestLayer[] = [
  {
    createdBy: 'base',
    entries: [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/a', content: 'a'.repeat(100) },
      { name: 'etc/b', content: 'b'.repeat(50) },
      { name: 'lnk', type: 'symlink', linkname: 'etc/a' },
      { name: 'opt/', type: 'directory' },
      { name: 'opt/x', content: 'x'.repeat(10) },
      { name: 'opt/y', content: 'y'.repeat(20) },
    ],
  },
  {
    createdBy: 'tweak etc',
    entries: [
      { name: 'etc/', type: 'directory' },
      { name: 'etc/a', content: 'a'.repeat(100), mode: 0o600 },
      { name: 'etc/c', content: 'c'.repeat(30) },
      { name: 'etc/.wh.b' },
      { name: 'lnk', type: 'symlink', linkname: 'etc/c' },
    ],
  },
  {
    createdBy: 'replace opt',
    entries: [
      { name: 'opt/', type: 'directory' },
      { name: 'opt/.wh..wh..opq' },
      { name: 'opt/z', content: 'z'.repeat(5) },
    ],
  },
  { createdBy: 'rm -rf /etc', entries: [{ name: '.wh.etc' }] },
];

function expectHandFigures(a: ImageAnalysis): void {
  expect(a.efficiencyScore).toBe(295 / 445);
  expect(a.wastedBytes).toBe(250);
  expect(a.layers.map((l) => l.sizeBytes)).toEqual([180, 130, 5, 0]);
  expect(a.sizeBytes).toBe(315);
  expect(a.userSizeBytes).toBe(135);
  expect(a.userWastedPercent).toBe(250 / 135);
  expect(a.inefficientFiles.map((f) => [f.path, f.count, f.sizeBytes])).toEqual([
    ['/etc/a', 2, 200],
    ['/etc/b', 2, 50],
    ['/lnk', 2, 0],
  ]);
}

describe('analyzeImage on an image worked out by hand', () => {
  it('computes dive\'s figures', async () => {
    const file = join(await dirs.make(), 'hand.tar');
    await writeDockerArchive(file, HAND_LAYERS);
    expectHandFigures(await analyzeImage(await openDockerArchive(file)));
  });

  it('rejects a layer that is no tar with a typed error naming the layer, which tsdive exits 2 on', async () => {
    const file = join(await dirs.make(), 'broken.tar');
    const notATar = Buffer.alloc(1024, 'x');
    await writeDockerArchive(file, [HAND_LAYERS[0]!, { createdBy: 'broken', entries: [], tar: notATar }]);
    const image = await openDockerArchive(file);
    const failure = analyzeImage(image);
    await expect(failure).rejects.toBeInstanceOf(TsdiveError);
    await expect(failure).rejects.toMatchObject({
      kind: 'unreadable-layer',
      exitCode: 2,
      message: expect.stringContaining(`layer 1 (${image.layers[1]!.descriptor.digest}): `),
    });
  });

  it('gives the same figures when the archive holds gzip-compressed layers', async () => {
    const file = join(await dirs.make(), 'hand-gz.tar');
    await writeDockerArchive(file, HAND_LAYERS, { gzipLayers: true });
    const image = await openDockerArchive(file);
    expect(image.layers[0]!.descriptor.mediaType).toBe('application/vnd.docker.image.rootfs.diff.tar.gzip');
    expect(image.layers[0]!.descriptor.digest).not.toBe(image.layers[0]!.diffId);
    expectHandFigures(await analyzeImage(image));
  });

  it('marks changes, including link targets and opaque directories', async () => {
    const file = join(await dirs.make(), 'hand.tar');
    await writeDockerArchive(file, HAND_LAYERS);
    const a = await analyzeImage(await openDockerArchive(file));
    const marks = (i: number) => Object.fromEntries(layerChanges(a.layers[i]!).map((c) => [c.path, c.change]));
    expect(marks(1)).toEqual({ etc: 'unmodified', 'etc/a': 'modified', 'etc/b': 'removed', 'etc/c': 'added', lnk: 'modified' });
    expect(marks(2)).toEqual({ opt: 'unmodified', 'opt/z': 'added', 'opt/x': 'removed', 'opt/y': 'removed' });
    expect(layerChanges(a.layers[2]!).find((c) => c.path === 'opt')!.opaque).toBe(true);
    expect(marks(3)).toEqual({ etc: 'removed', 'etc/a': 'removed', 'etc/c': 'removed' });
    expect(layerChanges(a.layers[3]!).find((c) => c.path === 'etc/a')!.info).toMatchObject({ type: 'file', size: 100, mode: 0o600 });
  });

  it('aggregates the filesystem as it stands after a layer', async () => {
    const file = join(await dirs.make(), 'hand.tar');
    await writeDockerArchive(file, HAND_LAYERS);
    const a = await analyzeImage(await openDockerArchive(file));
    const after = (i: number) => Object.fromEntries([...aggregateFiles(a, i)].map(([p, f]) => [p, [f.type, f.size, f.mode.toString(8), f.linkname]]));
    expect(after(2)).toEqual({
      etc: ['directory', 0, '755', undefined],
      'etc/a': ['file', 100, '600', undefined],
      'etc/c': ['file', 30, '644', undefined],
      lnk: ['symlink', 0, '644', 'etc/c'],
      opt: ['directory', 0, '755', undefined],
      'opt/z': ['file', 5, '644', undefined],
    });
    expect(Object.keys(after(3)).sort()).toEqual(['lnk', 'opt', 'opt/z']);
    expect(Object.keys(after(0)).sort()).toEqual(['etc', 'etc/a', 'etc/b', 'lnk', 'opt', 'opt/x', 'opt/y']);
  });

  it('takes layer commands from the history entries that made layers', async () => {
    const file = join(await dirs.make(), 'hand.tar');
    await writeDockerArchive(file, HAND_LAYERS);
    const a = await analyzeImage(await openDockerArchive(file));
    expect(a.layers.map((l) => l.command)).toEqual(['base', 'tweak etc', 'replace opt', 'rm -rf /etc']);
  });
});

describe('analyzeImage comparing file contents', () => {
  it('tells equal bytes from different ones however the layer bytes arrive in pieces', async () => {
    // Text of distinct lines, so one changed character in the middle is a different file of the same size.
    const big = Array.from({ length: 40_000 }, (_, i) => `line ${i}`).join('\n');
    const changed = `${big.slice(0, 200_000)}X${big.slice(200_001)}`;
    const file = join(await dirs.make(), 'contents.tar');
    await writeDockerArchive(file, [
      { createdBy: 'write', entries: [{ name: 'data', content: big }] },
      // A small file first moves `data` to another offset in the stream, so its bytes split differently.
      { createdBy: 'same bytes', entries: [{ name: 'pad', content: 'x'.repeat(777) }, { name: 'data', content: big }] },
      { createdBy: 'one byte changed', entries: [{ name: 'data', content: changed }] },
      { createdBy: 'empty', entries: [{ name: 'data', content: '' }, { name: 'empty', content: '' }] },
    ]);
    const a = await analyzeImage(await openDockerArchive(file));
    const markOf = (i: number, path: string) => layerChanges(a.layers[i]!).find((c) => c.path === path)!.change;
    expect([markOf(1, 'data'), markOf(2, 'data'), markOf(3, 'data')]).toEqual(['unmodified', 'modified', 'modified']);
    const aggregate = aggregateFiles(a, 3);
    expect(aggregate.get('data')!.hash).toBe(aggregate.get('empty')!.hash);
  });
});

describe('analyzeImage on sparse files', () => {
  /** A layer holding one sparse file of 60 GB whose data is `data` in `regions`. */
  const sparseLayer = (regions: SparseRegion[], data: string) =>
    collect(
      createLayer([{ kind: 'entry', entry: { path: 'disk.img', type: 'file', mode: 0o644, uid: 0, gid: 0, mtime: 0, size: 60e9, sparse: regions, open: () => Readable.from([Buffer.from(data)]) } }], {
        compression: 'none',
      }).stream,
    );

  it('counts their real (logical) size, as dive does, and tells layouts apart without expanding holes', async () => {
    const file = join(await dirs.make(), 'sparse.tar');
    const here = [{ offset: 1e9, length: 4 }];
    const elsewhere = [{ offset: 2e9, length: 4 }];
    await writeDockerArchive(file, [
      { createdBy: 'write', entries: [], tar: await sparseLayer(here, 'data') },
      { createdBy: 'same again', entries: [], tar: await sparseLayer(here, 'data') },
      { createdBy: 'moved', entries: [], tar: await sparseLayer(elsewhere, 'data') },
    ]);
    const a = await analyzeImage(await openDockerArchive(file));
    expect(a.layers.map((l) => l.sizeBytes)).toEqual([60e9, 60e9, 60e9]);
    expect(layerChanges(a.layers[0]!).find((c) => c.path === 'disk.img')!.info).toMatchObject({ type: 'file', size: 60e9 });
    const markOf = (i: number) => layerChanges(a.layers[i]!).find((c) => c.path === 'disk.img')!.change;
    expect([markOf(1), markOf(2)]).toEqual(['unmodified', 'modified']);
    expect(a.inefficientFiles.map((f) => [f.path, f.count, f.sizeBytes])).toEqual([['/disk.img', 3, 180e9]]);
  });
});

describe('analyzeImage on paths that go and come back', () => {
  it('keeps counting a path removed with its directory and written again', async () => {
    const file = join(await dirs.make(), 'again.tar');
    await writeDockerArchive(file, [
      { createdBy: 'write', entries: [{ name: 'a/', type: 'directory' }, { name: 'a/f', content: 'x'.repeat(10) }, { name: 'keep', content: 'k' }] },
      { createdBy: 'rm -rf /a', entries: [{ name: '.wh.a' }] },
      { createdBy: 'write again', entries: [{ name: 'a/', type: 'directory' }, { name: 'a/f', content: 'y'.repeat(10) }] },
    ]);
    const a = await analyzeImage(await openDockerArchive(file));
    expect(a.inefficientFiles).toEqual([
      { path: '/a/f', count: 2, sizeBytes: 20, layers: [
        { index: 0, command: 'write', action: 'wrote', sizeBytes: 10 },
        { index: 2, command: 'write again', action: 'wrote', sizeBytes: 10 },
      ] },
    ]);
    const marks = (i: number) => Object.fromEntries(layerChanges(a.layers[i]!).map((c) => [c.path, c.change]));
    expect(marks(1)).toEqual({ a: 'removed', 'a/f': 'removed' });
    expect(marks(2)).toEqual({ a: 'added', 'a/f': 'added' });
    expect([...aggregateFiles(a, 2).keys()].sort()).toEqual(['a', 'a/f', 'keep']);
  });

  it('does not list what a layer with an opaque root writes again as removed', async () => {
    const file = join(await dirs.make(), 'opaque-root.tar');
    await writeDockerArchive(file, [
      { createdBy: 'base', entries: [{ name: 'etc/', type: 'directory' }, { name: 'etc/a', content: 'a'.repeat(100) }, { name: 'opt/x', content: 'x' }] },
      { createdBy: 'replace all', entries: [{ name: '.wh..wh..opq' }, { name: 'etc/a', content: 'b'.repeat(5) }] },
    ]);
    const a = await analyzeImage(await openDockerArchive(file));
    const changes = layerChanges(a.layers[1]!).map((c) => [c.path, c.change]);
    expect(changes).toEqual(expect.arrayContaining([['etc/a', 'modified'], ['etc', 'unmodified'], ['opt', 'removed'], ['opt/x', 'removed']]));
    expect(changes).toHaveLength(4);
    expect([...aggregateFiles(a, 1).keys()].sort()).toEqual(['etc', 'etc/a']);
  });
});
