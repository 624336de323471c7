import { writeFile, mkdir, lstat, readFile, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { beforeAll, describe, expect, test } from 'vitest';
import { applyLayer } from '@tsbuild/oci-layout';
import { rawTar, type RawMember } from '../helpers/rawLayer.js';
import { requireTools, run } from '../helpers/tools.js';
import { tempDirs } from '../helpers/tempDirs.js';
import { describeTree } from '../helpers/treeFacts.js';

const dirs = tempDirs();

beforeAll(async () => {
  await requireTools({ umoci: 'umoci' });
});

/** The same layers (bottom first) unpacked by applyLayer and by `umoci unpack`. */
async function unpackBoth(layers: RawMember[][]): Promise<{ ours: string; theirs: string }> {
  const dir = await dirs.make();
  const layout = join(dir, 'layout');
  const ours = join(dir, 'ours');
  await mkdir(ours);
  await run('umoci', ['init', '--layout', layout]);
  await run('umoci', ['new', '--image', `${layout}:t`]);
  for (const [i, members] of layers.entries()) {
    const tar = await rawTar(members);
    const file = join(dir, `layer${i}.tar`);
    await writeFile(file, tar);
    await run('umoci', ['raw', 'add-layer', '--image', `${layout}:t`, file]);
    await applyLayer(ours, Readable.from([tar]));
  }
  await run('umoci', ['unpack', '--image', `${layout}:t`, join(dir, 'bundle')]);
  return { ours, theirs: join(dir, 'bundle/rootfs') };
}

/**
 * Both trees, the root directory itself left out (umoci makes it, the layers
 * do not). `ownTimes`: directories whose time umoci loses (see the test).
 */
async function expectSameTrees({ ours, theirs }: { ours: string; theirs: string }, ownTimes: string[] = []): Promise<void> {
  const { '.': _ours, ...ourTree } = await describeTree(ours);
  const { '.': _theirs, ...theirTree } = await describeTree(theirs);
  for (const path of ownTimes) {
    expect(theirTree[path]!.mtimeMs).toBeGreaterThan(ourTree[path]!.mtimeMs);
    theirTree[path]!.mtimeMs = ourTree[path]!.mtimeMs;
  }
  expect(ourTree).toEqual(theirTree);
}

describe('OCI layer semantics, with umoci unpack as the oracle', () => {
  test('a whiteout keeps what the same layer wrote before it, and removes only what lower layers had', async () => {
    const trees = await unpackBoth([
      [
        { name: 'w', type: 'directory', mtime: 100 },
        { name: 'w/lower', content: 'lower', mtime: 100 },
        { name: 'w/sub', type: 'directory', mtime: 100 },
        { name: 'w/sub/lower', content: 'lower', mtime: 100 },
        { name: 'f', content: 'lower f', mtime: 100 },
      ],
      [
        { name: 'w', type: 'directory', mtime: 200 },
        { name: 'w/own', content: 'own', mtime: 200 },
        { name: 'w/sub', type: 'directory', mtime: 200 },
        { name: 'w/sub/own', content: 'own', mtime: 200 },
        { name: '.wh.w' },
        { name: 'f', content: 'upper f', mtime: 200 },
        { name: '.wh.f' },
        { name: 'g', content: 'gone', mtime: 200 },
      ],
    ]);
    // umoci sets a directory's time when its entry arrives, so removing w's lower children later leaves w and
    // w/sub with the time of unpacking; we set the layer's own times (200) after the last entry.
    await expectSameTrees(trees, ['w', 'w/sub']);
    expect((await lstat(join(trees.ours, 'w/sub'))).mtimeMs).toBe(200_000);
    expect((await readdir(join(trees.ours, 'w'))).sort()).toEqual(['own', 'sub']);
    expect(await readdir(join(trees.ours, 'w/sub'))).toEqual(['own']);
    expect(await readFile(join(trees.ours, 'f'), 'utf8')).toBe('upper f');
  });

  test('a directory keeps its time when a whiteout or a new entry inside it is applied', async () => {
    const trees = await unpackBoth([
      [
        { name: 'd', type: 'directory', mtime: 1000 },
        { name: 'd/f', content: 'f', mtime: 1000 },
        { name: 'd/g', content: 'g', mtime: 1000 },
        { name: 'e', type: 'directory', mtime: 1000 },
        { name: 'o', type: 'directory', mtime: 1000 },
        { name: 'o/lower', content: 'lower', mtime: 1000 },
      ],
      [{ name: 'd/.wh.f' }, { name: 'e/new', content: 'new', mtime: 2000 }, { name: 'o/.wh..wh..opq' }],
    ]);
    await expectSameTrees(trees);
    for (const dir of ['d', 'e', 'o']) expect((await lstat(join(trees.ours, dir))).mtimeMs).toBe(1_000_000);
  });

});

describe('OCI layer semantics beyond the installed umoci', () => {
  // umoci 0.4.7 (Debian) stops with ENOTDIR here; umoci's current tar_extract.go (mkdirAll) removes the
  // non-directory and goes on, and so do we.
  test('a non-directory where a layer needs a directory is replaced by one', async () => {
    const ours = await dirs.make();
    await applyLayer(ours, Readable.from([await rawTar([{ name: 'n', content: 'file' }, { name: 'm', content: 'file' }])]));
    await applyLayer(ours, Readable.from([await rawTar([{ name: 'n/x', content: 'x' }, { name: 'm/deep/er/y', content: 'y' }])]));
    expect(await readFile(join(ours, 'n/x'), 'utf8')).toBe('x');
    expect(await readFile(join(ours, 'm/deep/er/y'), 'utf8')).toBe('y');
  });

  test('a file in the way of a directory entry below it is replaced too, also below a symlink', async () => {
    const ours = await dirs.make();
    await applyLayer(ours, Readable.from([await rawTar([{ name: 'real', type: 'directory' }, { name: 'real/f', content: 'file' }, { name: 'l', type: 'symlink', linkname: '/real' }])]));
    await applyLayer(ours, Readable.from([await rawTar([{ name: 'l/f/sub', type: 'directory', mtime: 5 }, { name: 'l/f/sub/y', content: 'y' }])]));
    expect(await readFile(join(ours, 'real/f/sub/y'), 'utf8')).toBe('y');
    expect((await lstat(join(ours, 'real/f/sub'))).mtimeMs).toBe(5000);
  });
});
