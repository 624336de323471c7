import { execFileSync } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import { applyLayer, fsNative } from '@tsbuild/oci-layout';
import { rawLayer } from '../helpers/rawLayer.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
const mounts: string[] = [];

afterEach(() => {
  for (const merged of mounts.splice(0)) execFileSync('umount', [merged]);
});

/** An overlay mount of `lowers` (top first), read-only like a RUN step's view of its base. */
async function mountLowers(lowers: string[]): Promise<string> {
  const merged = join(await dirs.make(), 'merged');
  await mkdir(merged);
  execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${lowers.join(':')}`, merged]);
  mounts.push(merged);
  return merged;
}

describe('trusted.overlay.* xattrs of a layer', () => {
  test('are escaped on disk, so they cannot hide, redirect or fake files in an overlay mount over the unpacked tree', async () => {
    const below = await dirs.make();
    await mkdir(join(below, 'd'));
    await writeFile(join(below, 'd/lower'), 'from below');
    await writeFile(join(below, 'secret'), 'only reachable by redirect');
    const layer = await dirs.make();
    await applyLayer(
      layer,
      await rawLayer([
        { name: 'd', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } },
        { name: 'r', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.redirect': '/secret' } },
        { name: 'm', content: '', pax: { 'SCHILY.xattr.trusted.overlay.metacopy': '', 'SCHILY.xattr.user.kept': 'k' } },
      ]),
    );
    const onDisk = fsNative().llistxattr(join(layer, 'd'));
    expect(onDisk).toContain('trusted.overlay.overlay.opaque');
    expect(onDisk).not.toContain('trusted.overlay.opaque');
    expect(fsNative().llistxattr(join(layer, 'm')).sort()).toEqual(['trusted.overlay.overlay.metacopy', 'user.kept']);

    const merged = await mountLowers([layer, below]);
    expect(await readdir(join(merged, 'd'))).toEqual(['lower']);
    expect(await readdir(join(merged, 'r'))).toEqual([]);
    // The mount shows the image's own names again.
    expect(fsNative().lgetxattr(join(merged, 'd'), 'trusted.overlay.opaque')?.toString()).toBe('y');
  });

  test('written through an overlay mount are left to the kernel, which escapes them itself', async () => {
    const root = await dirs.make();
    for (const dir of ['lower', 'upper', 'work', 'merged']) await mkdir(join(root, dir));
    execFileSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${root}/lower,upperdir=${root}/upper,workdir=${root}/work`, join(root, 'merged')]);
    mounts.push(join(root, 'merged'));
    await applyLayer(join(root, 'merged'), await rawLayer([{ name: 'd', type: 'directory', pax: { 'SCHILY.xattr.trusted.overlay.opaque': 'y' } }]), {
      throughOverlayMount: true,
    });
    expect(fsNative().llistxattr(join(root, 'upper/d'))).toContain('trusted.overlay.overlay.opaque');
    expect(fsNative().lgetxattr(join(root, 'merged/d'), 'trusted.overlay.opaque')?.toString()).toBe('y');
  });
});
