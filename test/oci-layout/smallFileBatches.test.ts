import { execFileSync } from 'node:child_process';
import { lstat, mkdir, mkdtemp, readFile, readdir, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { applyLayer, LayerApplyError } from '@tsbuild/oci-layout';
import { pathExists } from '../helpers/pathExists.js';
import { rawLayer, type RawMember } from '../helpers/rawLayer.js';

// Small files are created in batches on the thread pool while the layer is parsed on
// (applyLayer.ts, smallFileBatches.ts). Enough files that several batches are on the pool when
// the entry that matters arrives.
const MANY = 400;

let base: string;
let rootfs: string;
let outside: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'tsbuild-batches-'));
  rootfs = join(base, 'rootfs');
  outside = join(base, 'outside');
  await mkdir(rootfs);
  await mkdir(outside);
  await writeFile(join(outside, 'file'), 'secret');
});

afterEach(async () => {
  await rm(base, { recursive: true, force: true });
});

function files(dir: string, prefix: string, count = MANY): RawMember[] {
  return Array.from({ length: count }, (_, i) => ({ name: `${dir}/${prefix}${i}`, content: `${prefix}${i}`, mtime: 1_000 + i }));
}

describe('batched small files', () => {
  test('a directory replaced by a symlink to outside while its files are on the pool: nothing lands outside', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'a', type: 'directory' },
        ...files('a', 'f'),
        { name: 'a', type: 'symlink', linkname: outside },
        ...files('a', 'g', 50),
        { name: 'b', type: 'directory' },
        ...files('b', 'f'),
        { name: 'b', type: 'symlink', linkname: '../../outside' },
      ]),
    );
    expect(await readdir(outside)).toEqual(['file']);
    expect(await readFile(join(outside, 'file'), 'utf8')).toBe('secret');
    expect((await lstat(join(rootfs, 'a'))).isSymbolicLink()).toBe(true);
    // Through the symlink, resolved as if the rootfs were `/`.
    expect((await readdir(join(rootfs, outside))).length).toBe(50);
    expect(await readFile(join(rootfs, outside, 'g49'), 'utf8')).toBe('g49');
  });

  test('a later entry of the same path wins, in the same batch or many files later', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'd', type: 'directory' },
        { name: 'd/x', content: 'one', mode: 0o755, mtime: 1 },
        { name: 'd/y', content: 'one' },
        { name: 'd/y', content: 'two', mode: 0o600, mtime: 2 },
        ...files('d', 'f'),
        { name: 'd/x', content: 'three', mode: 0o640, mtime: 3 },
      ]),
    );
    const x = await lstat(join(rootfs, 'd/x'));
    expect([await readFile(join(rootfs, 'd/x'), 'utf8'), x.mode & 0o7777, x.mtimeMs]).toEqual(['three', 0o640, 3000]);
    const y = await lstat(join(rootfs, 'd/y'));
    expect([await readFile(join(rootfs, 'd/y'), 'utf8'), y.mode & 0o7777, y.mtimeMs]).toEqual(['two', 0o600, 2000]);
    expect((await readdir(join(rootfs, 'd'))).length).toBe(MANY + 2);
  });

  test('files replace what lower layers left at their paths: a directory, a file, a symlink to outside', async () => {
    await mkdir(join(rootfs, 'd/x/deep'), { recursive: true });
    await writeFile(join(rootfs, 'd/x/deep/child'), 'lower');
    await writeFile(join(rootfs, 'd/y'), 'lower');
    await symlink(join(outside, 'file'), join(rootfs, 'd/z'));
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'd', type: 'directory' },
        { name: 'd/a', content: 'a' },
        { name: 'd/x', content: 'x' },
        { name: 'd/y', content: 'y' },
        { name: 'd/z', content: 'z' },
        ...files('d', 'f'),
      ]),
    );
    for (const name of ['a', 'x', 'y', 'z']) {
      expect((await lstat(join(rootfs, 'd', name))).isFile()).toBe(true);
      expect(await readFile(join(rootfs, 'd', name), 'utf8')).toBe(name);
    }
    expect(await readFile(join(outside, 'file'), 'utf8')).toBe('secret');
    expect(await readFile(join(rootfs, 'd/f399'), 'utf8')).toBe('f399');
  });

  test('a file replaced later by a directory, and a directory of files replaced later by a file', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'd', type: 'directory' },
        ...files('d', 'f'),
        { name: 'd/f7', type: 'directory' },
        { name: 'd/f7/inner', content: 'inner' },
        { name: 'd/late', content: 'a file first' },
        { name: 'd/late', type: 'directory' },
        { name: 'd/late/inner', content: 'late' },
        { name: 'e', type: 'directory' },
        ...files('e', 'f'),
        { name: 'e', content: 'now a file' },
      ]),
    );
    expect(await readFile(join(rootfs, 'd/f7/inner'), 'utf8')).toBe('inner');
    expect(await readFile(join(rootfs, 'd/late/inner'), 'utf8')).toBe('late');
    expect(await readFile(join(rootfs, 'e'), 'utf8')).toBe('now a file');
  });

  test('a whiteout later in the layer keeps the files this layer wrote before it', async () => {
    await mkdir(join(rootfs, 'd'));
    await writeFile(join(rootfs, 'd/lower'), 'lower');
    await applyLayer(rootfs, await rawLayer([...files('d', 'f'), { name: 'd/.wh..wh..opq' }, { name: 'd/.wh.f3' }]));
    const names = await readdir(join(rootfs, 'd'));
    expect(names).not.toContain('lower');
    expect(names.length).toBe(MANY);
  });
});

describe('a failure inside a batch names its entry', () => {
  const mounted: string[] = [];

  afterEach(() => {
    for (const dir of mounted.splice(0)) execFileSync('umount', [dir]);
  });

  /** A rootfs on a tmpfs that holds `inodes` inodes, its root's included. */
  function smallRootfs(inodes: number): string {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `nr_inodes=${inodes},size=16m`, 'tmpfs', rootfs]);
    mounted.push(rootfs);
    return rootfs;
  }

  test('ENOSPC when the filesystem runs out of inodes: a LayerApplyError naming the first file that did not fit', async () => {
    smallRootfs(100);
    const error = await applyLayer(rootfs, await rawLayer([{ name: 'd', type: 'directory' }, ...files('d', 'f')])).then(
      () => expect.unreachable('the filesystem holds 100 inodes'),
      (e: unknown) => e as LayerApplyError,
    );
    expect(error).toBeInstanceOf(LayerApplyError);
    // The root and d take two inodes.
    expect(error.message).toMatch(/^cannot apply entry "d\/f98" of layer: ENOSPC: /);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
    expect(await readFile(join(rootfs, 'd/f97'), 'utf8')).toBe('f97');
    expect(await pathExists(join(rootfs, 'd/f99'))).toBe(false);
  });

  test('ENOSPC when the data does not fit: the entry whose bytes did not fit', async () => {
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=64k', 'tmpfs', rootfs]);
    mounted.push(rootfs);
    const big = Buffer.alloc(20 * 1024, 'b');
    const members: RawMember[] = [{ name: 'd', type: 'directory' }, ...Array.from({ length: 8 }, (_, i) => ({ name: `d/big${i}`, content: big }))];
    const error = await applyLayer(rootfs, await rawLayer(members)).then(
      () => expect.unreachable('64 KiB hold three of them'),
      (e: unknown) => e as LayerApplyError,
    );
    expect(error).toBeInstanceOf(LayerApplyError);
    expect(error.message).toMatch(/^cannot apply entry "d\/big3" of layer: ENOSPC: .*, write '/);
    expect((error.cause as NodeJS.ErrnoException).code).toBe('ENOSPC');
  });

  test('EPERM in an immutable directory: the first file, and no file of the layer lands', async () => {
    await mkdir(join(rootfs, 'd'));
    execFileSync('chattr', ['+i', join(rootfs, 'd')]);
    try {
      const error = await applyLayer(rootfs, await rawLayer([{ name: 'top', content: 'top' }, ...files('d', 'f')])).then(
        () => expect.unreachable('d is immutable'),
        (e: unknown) => e as LayerApplyError,
      );
      expect(error).toBeInstanceOf(LayerApplyError);
      expect(error.message).toMatch(/^cannot apply entry "d\/f0" of layer: EPERM: .*, open '/);
      expect((error.cause as NodeJS.ErrnoException).code).toBe('EPERM');
      expect(await readdir(join(rootfs, 'd'))).toEqual([]);
    } finally {
      execFileSync('chattr', ['-i', join(rootfs, 'd')]);
    }
  });
});
