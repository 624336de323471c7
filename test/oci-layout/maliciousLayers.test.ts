import { createHash } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { applyLayer, fsNative, resolveInRoot } from '@tsbuild/oci-layout';
import { rawLayer, type RawMember } from '../helpers/rawLayer.js';
import { pathExists } from '../helpers/pathExists.js';

/** Everything observable about a tree: names, types, modes, owners, times, contents, link targets. */
async function snapshot(root: string, skip: string): Promise<string[]> {
  const lines: string[] = [];
  async function walk(dir: string): Promise<void> {
    for (const name of (await readdir(dir)).sort()) {
      const path = join(dir, name);
      if (path === skip) continue;
      const st = await lstat(path);
      let detail = '';
      if (st.isFile()) detail = createHash('sha256').update(await readFile(path)).digest('hex');
      if (st.isSymbolicLink()) detail = `-> ${await readlink(path)}`;
      const xattrs = fsNative().llistxattr(path).sort().join(',');
      lines.push(`${path} ${st.mode.toString(8)} ${st.uid}:${st.gid} n${st.nlink} ${st.mtimeMs} ${detail} [${xattrs}]`);
      if (st.isDirectory()) await walk(path);
    }
  }
  await walk(root);
  return lines;
}

let base: string;
let rootfs: string;
let outside: string;
let before: string[];
let hostPasswd: string;

beforeEach(async () => {
  base = await mkdtemp(join(tmpdir(), 'tsbuild-malicious-'));
  rootfs = join(base, 'rootfs');
  outside = join(base, 'outside');
  await mkdir(rootfs);
  await mkdir(join(outside, 'dir'), { recursive: true });
  await mkdir(join(outside, 'etc'));
  await writeFile(join(outside, 'file'), 'secret');
  await chmod(join(outside, 'file'), 0o600);
  await writeFile(join(outside, 'etc/passwd'), 'root:x:0:0::/root:/bin/sh\n');
  before = await snapshot(base, rootfs);
  hostPasswd = JSON.stringify(await stat('/etc/passwd'));
});

afterEach(async () => {
  // Nothing outside the rootfs changed, whatever the layer did.
  expect(await snapshot(base, rootfs)).toEqual(before);
  expect(JSON.stringify(await stat('/etc/passwd'))).toBe(hostPasswd);
  await rm(base, { recursive: true, force: true });
});

describe('a hostile layer stays inside the rootfs', () => {
  test('../escape lands at the root', async () => {
    await applyLayer(rootfs, await rawLayer([{ name: '../escape', content: 'x' }]));
    expect(await readFile(join(rootfs, 'escape'), 'utf8')).toBe('x');
    expect(await pathExists(join(base, 'escape'))).toBe(false);
  });

  test('/abs/file is taken relative to the root', async () => {
    await applyLayer(rootfs, await rawLayer([{ name: '/abs/file', content: 'x' }]));
    expect(await readFile(join(rootfs, 'abs/file'), 'utf8')).toBe('x');
  });

  test('a/../../escape cannot climb out', async () => {
    await applyLayer(rootfs, await rawLayer([{ name: 'a/../../escape', content: 'x' }]));
    expect(await readFile(join(rootfs, 'escape'), 'utf8')).toBe('x');
  });

  test('writing through a symlink to / lands in the rootfs', async () => {
    const name = `tsbuild-escape-${process.pid}`;
    await applyLayer(rootfs, await rawLayer([{ name: 'evil', type: 'symlink', linkname: '/' }, { name: `evil/etc/${name}`, content: 'x' }]));
    expect(await readFile(join(rootfs, 'etc', name), 'utf8')).toBe('x');
    expect(await pathExists(join('/etc', name))).toBe(false);
  });

  test('writing through a symlink to .. or ../outside stays inside', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'up/outside/file', content: 'overwritten?' },
        { name: 'sib', type: 'symlink', linkname: '../outside' },
        { name: 'sib/etc/passwd', content: 'evil' },
        { name: 'abs', type: 'symlink', linkname: outside },
        { name: 'abs/file', content: 'evil' },
      ]),
    );
    expect(await readFile(join(rootfs, 'outside/file'), 'utf8')).toBe('overwritten?');
    expect(await readFile(join(rootfs, 'outside/etc/passwd'), 'utf8')).toBe('evil');
    expect(await readFile(join(rootfs, outside, 'file'), 'utf8')).toBe('evil');
  });

  test('a symlink named . is ignored and a symlink to . loops back to the root', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: '.', type: 'symlink', linkname: outside },
        { name: '/', content: 'not a directory' },
        { name: 'dot', type: 'symlink', linkname: '.' },
        { name: 'dot/dot/file', content: 'x' },
      ]),
    );
    expect((await lstat(rootfs)).isDirectory()).toBe(true);
    expect(await readFile(join(rootfs, 'file'), 'utf8')).toBe('x');
  });

  test('a whiteout below a symlink that points outside deletes nothing outside', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'abs', type: 'symlink', linkname: outside },
        { name: 'abs/.wh.file' },
        { name: 'rel', type: 'symlink', linkname: '../outside' },
        { name: 'rel/.wh.etc' },
        { name: 'up', type: 'symlink', linkname: '..' },
        { name: 'up/.wh.outside' },
      ]),
    );
    expect(await pathExists(join(rootfs, 'abs'))).toBe(true);
  });

  test('a bare .wh. is rejected and deletes nothing', async () => {
    await applyLayer(rootfs, await rawLayer([{ name: 'dir', type: 'directory' }, { name: 'dir/keep', content: 'k' }]));
    await expect(applyLayer(rootfs, await rawLayer([{ name: 'dir/.wh.' }]))).rejects.toThrow(/invalid whiteout/);
    await expect(applyLayer(rootfs, await rawLayer([{ name: 'dir/.wh...' }]))).rejects.toThrow(/invalid whiteout/);
    expect(await readFile(join(rootfs, 'dir/keep'), 'utf8')).toBe('k');
  });

  test('a hard link to a file outside is refused', async () => {
    await expect(
      applyLayer(rootfs, await rawLayer([{ name: 'passwd', type: 'link', linkname: '../../../../../../etc/passwd' }])),
    ).rejects.toThrow(/hard link target .* does not exist/);
    await expect(applyLayer(rootfs, await rawLayer([{ name: 'f', type: 'link', linkname: '../outside/file' }]))).rejects.toThrow(
      /does not exist/,
    );
    expect(await pathExists(join(rootfs, 'passwd'))).toBe(false);
  });

  test('a hard link through a symlink that points outside is refused', async () => {
    await expect(
      applyLayer(
        rootfs,
        await rawLayer([
          { name: 'abs', type: 'symlink', linkname: outside },
          { name: 'rel', type: 'symlink', linkname: '../outside' },
          { name: 'h', type: 'link', linkname: 'abs/file' },
        ]),
      ),
    ).rejects.toThrow(/does not exist/);
    await expect(applyLayer(rootfs, await rawLayer([{ name: 'h2', type: 'link', linkname: 'rel/file' }]))).rejects.toThrow(
      /does not exist/,
    );
  });

  test('metadata of an entry never goes through a symlink of the same name', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'x', type: 'symlink', linkname: join(outside, 'file') },
        { name: 'y', type: 'symlink', linkname: join(outside, 'dir') },
        { name: 'rel', type: 'symlink', linkname: '../outside/file' },
      ]),
    );
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'x', type: 'file', mode: 0o777, content: 'mine' },
        { name: 'y', type: 'directory', mode: 0o777 },
        { name: 'rel', type: 'directory', mode: 0o777 },
      ]),
    );
    expect(await readFile(join(rootfs, 'x'), 'utf8')).toBe('mine');
    expect((await lstat(join(rootfs, 'x'))).mode & 0o7777).toBe(0o777);
    expect((await lstat(join(rootfs, 'y'))).isDirectory()).toBe(true);
    expect((await lstat(join(rootfs, 'rel'))).isDirectory()).toBe(true);
  });

  test('a file entry replaces a symlink to outside instead of writing through it', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'link', type: 'symlink', linkname: join(outside, 'file') },
        { name: 'link', content: 'replaced' },
      ]),
    );
    const st = await lstat(join(rootfs, 'link'));
    expect(st.isFile()).toBe(true);
    expect(await readFile(join(rootfs, 'link'), 'utf8')).toBe('replaced');
  });

  test('a directory the layer already wrote into, then replaced by a symlink, does not lead out', async () => {
    const many = (dir: string) => Array.from({ length: 40 }, (_, i) => ({ name: `${dir}/f${i}`, content: `${dir} ${i}` }));
    await applyLayer(
      rootfs,
      await rawLayer([
        // Replaced by a symlink entry.
        { name: 'd', type: 'directory' },
        ...many('d'),
        { name: 'd', type: 'symlink', linkname: outside },
        { name: 'd/file', content: 'evil' },
        { name: 'd/dir/new', content: 'evil' },
        // Removed by a whiteout, then a symlink of the same name.
        { name: 'e/sub', type: 'directory' },
        ...many('e/sub'),
        { name: '.wh.e' },
        { name: 'e', type: 'symlink', linkname: '../outside' },
        { name: 'e/etc/passwd', content: 'evil' },
        // A parent of the written directory replaced, by a file and then by a symlink.
        ...many('p/q'),
        { name: 'p', content: 'a file now' },
        { name: 'p', type: 'symlink', linkname: '..' },
        { name: 'p/q/x', content: 'inside' },
        // A symlink among known directories is followed inside the root, never taken for one.
        { name: 'o/keep', content: 'k' },
        { name: 'o/link', type: 'symlink', linkname: outside },
        { name: 'o/link/file', content: 'evil' },
      ]),
    );
    expect((await lstat(join(rootfs, 'd'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(rootfs, outside, 'file'), 'utf8')).toBe('evil');
    expect(await readFile(join(rootfs, outside, 'dir/new'), 'utf8')).toBe('evil');
    expect((await lstat(join(rootfs, 'e'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(rootfs, 'outside/etc/passwd'), 'utf8')).toBe('evil');
    expect((await lstat(join(rootfs, 'p'))).isSymbolicLink()).toBe(true);
    expect(await readFile(join(rootfs, 'q/x'), 'utf8')).toBe('inside');
    expect(await pathExists(join(base, 'q'))).toBe(false);
  });

  test('a file replaces a directory the layer wrote into, and a file written twice keeps its second content', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        ...Array.from({ length: 40 }, (_, i) => ({ name: `d/sub/f${i}`, content: `${i}` })),
        { name: 'd', content: 'now a file' },
        { name: 'twice', content: 'first' },
        { name: 'twice', content: 'second' },
      ]),
    );
    expect(await readFile(join(rootfs, 'd'), 'utf8')).toBe('now a file');
    expect(await readFile(join(rootfs, 'twice'), 'utf8')).toBe('second');
  });

  test('a symlink loop fails with a clear error', async () => {
    await expect(
      applyLayer(
        rootfs,
        await rawLayer([
          { name: 'a', type: 'symlink', linkname: 'b' },
          { name: 'b', type: 'symlink', linkname: 'a' },
          { name: 'a/file', content: 'x' },
        ]),
      ),
    ).rejects.toThrow(/too many levels of symbolic links/);
  });
});

describe('resolveInRoot', () => {
  test('follows symlinks as if the rootfs were /', async () => {
    await mkdir(join(rootfs, 'usr/lib'), { recursive: true });
    await symlink('usr/lib', join(rootfs, 'lib'));
    await symlink('/usr', join(rootfs, 'abs'));
    await symlink('../../../..', join(rootfs, 'usr/lib/up'));
    await symlink(outside, join(rootfs, 'out'));
    expect(await resolveInRoot(rootfs, '/lib/x', { followFinal: true })).toBe(join(rootfs, 'usr/lib/x'));
    expect(await resolveInRoot(rootfs, 'abs/lib/up/etc', { followFinal: true })).toBe(join(rootfs, 'etc'));
    expect(await resolveInRoot(rootfs, '../../../etc/passwd', { followFinal: true })).toBe(join(rootfs, 'etc/passwd'));
    expect(await resolveInRoot(rootfs, 'out/file', { followFinal: true })).toBe(join(rootfs, outside, 'file'));
    expect(await resolveInRoot(rootfs, 'out', { followFinal: true })).toBe(join(rootfs, outside));
    expect(await resolveInRoot(rootfs, 'out', { followFinal: false })).toBe(join(rootfs, 'out'));
    expect(await resolveInRoot(rootfs, 'usr/lib/up', { followFinal: true })).toBe(rootfs);
  });
});

/**
 * Metadata a layer sets on a directory must land on that directory or
 * nowhere, whatever later entries of the same layer do to its parents: the
 * afterEach sentinel compares everything outside (times, modes, owners,
 * xattrs, contents) before and after.
 */
describe('a parent replaced later in the layer leads nowhere', () => {
  const replaceParent = (target: string): RawMember[] => [
    { name: 'a', type: 'directory' },
    { name: 'a/dir', type: 'directory', mtime: 123_456 },
    { name: 'a', type: 'symlink', linkname: target },
  ];

  test('directory times set at the end do not follow a parent replaced by a symlink to outside', async () => {
    await applyLayer(rootfs, await rawLayer([...replaceParent(outside), { name: 'b/c/d', type: 'directory', mtime: 99 }, { name: 'b', type: 'symlink', linkname: outside }]));
    expect((await lstat(join(rootfs, 'a'))).isSymbolicLink()).toBe(true);
  });

  test('directory times do not land on another directory of the rootfs the new symlink points to', async () => {
    await mkdir(join(rootfs, 'x/dir'), { recursive: true });
    await utimes(join(rootfs, 'x/dir'), 5, 5);
    await applyLayer(rootfs, await rawLayer(replaceParent('x')));
    expect((await stat(join(rootfs, 'x/dir'))).mtimeMs).toBe(5000);
  });

  test('relative, absolute and dot-dot symlinks over a parent, several levels deep', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'p/q/r', type: 'directory', mtime: 1 },
        { name: 'p/q/r/dir', type: 'directory', mtime: 2 },
        { name: 'p/q', type: 'symlink', linkname: '../../outside' },
        { name: 'm/n', type: 'directory', mtime: 3 },
        { name: 'm/n/etc', type: 'directory', mtime: 4 },
        { name: 'm', type: 'symlink', linkname: '/' },
        { name: 'k/dir', type: 'directory', mtime: 5 },
        { name: 'k', type: 'symlink', linkname: join('..', '..', '..', '..', '..', '..', outside) },
      ]),
    );
  });

  test('mode, owner and xattrs of a directory written again through the replaced parent stay inside', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        ...replaceParent(outside),
        { name: 'a/dir', type: 'directory', mode: 0o700, uid: 1234, gid: 1234, mtime: 7, pax: { 'SCHILY.xattr.user.evil': 'x' } },
        { name: 'a/etc', type: 'directory', mode: 0o777, mtime: 8 },
        { name: 'a/file', mode: 0o777, uid: 1234, content: 'evil' },
      ]),
    );
    const landed = await lstat(join(rootfs, outside, 'dir'));
    expect([landed.mode & 0o7777, landed.uid, landed.mtimeMs]).toEqual([0o700, 1234, 7000]);
    expect(fsNative().lgetxattr(join(rootfs, outside, 'dir'), 'user.evil')?.toString()).toBe('x');
  });

  test('a parent replaced by a file and then by a symlink', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'a/dir', type: 'directory', mtime: 11 },
        { name: 'a', content: 'now a file' },
        { name: 'a', type: 'symlink', linkname: outside },
      ]),
    );
  });

  test('whiteouts and opaque markers below a replaced parent delete nothing outside', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        ...replaceParent(outside),
        { name: 'a/.wh.dir' },
        { name: 'a/.wh.file' },
        { name: 'a/etc/.wh..wh..opq' },
        { name: 'a/.wh..wh..opq' },
      ]),
    );
  });

  test('hard links through a replaced parent neither read nor write outside', async () => {
    await applyLayer(
      rootfs,
      await rawLayer([
        { name: 'a', type: 'directory' },
        { name: 'a/own', content: 'own' },
        { name: 'a', type: 'symlink', linkname: outside },
        { name: 'b', type: 'link', linkname: 'a/own' },
      ]),
    ).then(
      () => expect.unreachable('the link target went away with the directory'),
      (error: Error) => expect(error.message).toMatch(/hard link target "a\/own" does not exist/),
    );
    await applyLayer(rootfs, await rawLayer([{ name: 'f', content: 'inside' }, { name: 'a/new', type: 'link', linkname: 'f' }]));
    expect(await readFile(join(rootfs, outside, 'new'), 'utf8')).toBe('inside');
  });
});

