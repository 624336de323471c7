import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { promisify } from 'node:util';
import { fsNative, MNT_DETACH } from '@tsbuild/oci-layout';
import { mountOverlay, mountReadOnlyOverlay, unmount } from '@tsbuild/builder';
import { tempDirs } from '../helpers/tempDirs.js';

const exec = promisify(execFile);
const temp = tempDirs();
afterAll(() => temp.cleanup());

async function mounted(dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => line.split(' ')[4] === dir);
}

/** Two lower directories: `a` below holds a and shared, `b` above holds b and its own shared. */
async function lowers(root: string): Promise<string[]> {
  const a = join(root, 'a');
  const b = join(root, 'b');
  await mkdir(a);
  await mkdir(b);
  await writeFile(join(a, 'a'), 'from a');
  await writeFile(join(a, 'shared'), 'from a');
  await writeFile(join(b, 'b'), 'from b');
  await writeFile(join(b, 'shared'), 'from b');
  return [a, b];
}

describe('overlay mounts through mount(2) and umount2(2), no mount(8)', () => {
  it('stacks the lowers bottom first, writes land in the upper directory, unmount leaves nothing mounted', async () => {
    const root = await temp.make();
    const mount = await mountOverlay(await lowers(root), join(root, 'rw'));
    expect(await mounted(mount.merged)).toBe(true);
    expect((await readdir(mount.merged)).sort()).toEqual(['a', 'b', 'shared']);
    expect(await readFile(join(mount.merged, 'shared'), 'utf8')).toBe('from b');
    await writeFile(join(mount.merged, 'new'), 'written');
    expect(await readFile(join(mount.upper, 'new'), 'utf8')).toBe('written');
    await mount.unmount();
    expect(await mounted(mount.merged)).toBe(false);
    expect(await readdir(mount.merged)).toEqual([]);
  });

  it('mounts read-only stacks that refuse writes', async () => {
    const root = await temp.make();
    const merged = join(root, 'ro');
    await mkdir(merged);
    await mountReadOnlyOverlay(await lowers(root), merged);
    try {
      expect(await readFile(join(merged, 'a'), 'utf8')).toBe('from a');
      await expect(writeFile(join(merged, 'new'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
    } finally {
      await unmount(merged);
    }
    expect(await mounted(merged)).toBe(false);
  });

  it('detaches a mount a process still uses, as `umount -l` does', async () => {
    const root = await temp.make();
    const mount = await mountOverlay(await lowers(root), join(root, 'busy'));
    const holder = spawn('sleep', ['600'], { cwd: mount.merged, stdio: 'ignore' });
    await new Promise((resolve) => holder.once('spawn', resolve));
    try {
      await mount.unmount();
      expect(await mounted(mount.merged)).toBe(false);
    } finally {
      holder.kill('SIGKILL');
    }
  });

  it('refuses options longer than a page in one line (the kernel would mount what fits), and mounts nothing', async () => {
    const root = await temp.make();
    const many = Array.from({ length: 60 }, (_, i) => join(root, `${'layer-with-a-long-snapshot-name-'.repeat(2)}${i}`));
    await Promise.all(many.map((d) => mkdir(d)));
    const attempt = mountOverlay(many, join(root, 'long'));
    await expect(attempt).rejects.toThrow(/^cannot mount the build's overlay filesystem: the paths of its 60 layers are longer than mount\(2\) takes \(a page\)$/);
    expect(await mounted(join(root, 'long', 'merged'))).toBe(false);
  });

  it('reports a missing lower directory in one line and mounts nothing', async () => {
    const root = await temp.make();
    const attempt = mountOverlay([join(root, 'missing')], join(root, 'x'));
    await expect(attempt).rejects.toThrow(/^cannot mount the build's overlay filesystem \(are we root, with overlayfs\?\): [^\n]*mount '[^\n]*merged'$/);
    expect(await mounted(join(root, 'x', 'merged'))).toBe(false);
  });

  it('reports an unmount of something not mounted as the kernel does (EINVAL)', async () => {
    const root = await temp.make();
    await expect(unmount(root)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'umount', path: root });
  });

  it('throws a usage error for calls that lack arguments', () => {
    const native = fsNative() as unknown as { mount: (...args: unknown[]) => unknown; unmount: (...args: unknown[]) => unknown };
    expect(() => native.mount('overlay', '/x')).toThrow(TypeError);
    expect(() => native.mount('overlay', '/x', 'overlay', 'not a number', '')).toThrow(/flags must be a number/);
    expect(() => native.unmount(7, 0)).toThrow(/target must be a string/);
    expect(() => native.unmount('/tmp\0/etc', 0)).toThrow(/without NUL bytes/);
    expect(() => native.mount('overlay', '/x', 'overlay', 0, 'lowerdir=/a\0,upperdir=/b')).toThrow(/without NUL bytes/);
  });
});

describe('a network namespace pinned on a file, no unshare(1)', () => {
  it('holds only a down lo, and leaves every thread of this process in its own namespace', async () => {
    const root = await temp.make();
    const ours = await readlink('/proc/self/ns/net');
    const pins = [0, 1, 2, 3].map((i) => join(root, `ns${i}`));
    await Promise.all(pins.map((p) => writeFile(p, '')));
    await Promise.all(pins.map((p) => fsNative().mountNewNetns(p)));
    try {
      const devices = await Promise.all([root, ...pins].map(async (p) => (await stat(p)).dev));
      expect(new Set(devices.slice(1)).has(devices[0]!)).toBe(false);
      const { stdout } = await exec('nsenter', [`--net=${pins[0]}`, 'ip', '-o', 'link']);
      expect(stdout.trim().split('\n')).toHaveLength(1);
      expect(stdout).toMatch(/^1: lo: <LOOPBACK> .* state DOWN /);
      const threads = await readdir('/proc/self/task');
      const namespaces = await Promise.all(threads.map((t) => readlink(`/proc/self/task/${t}/ns/net`)));
      expect(new Set(namespaces)).toEqual(new Set([ours]));
    } finally {
      for (const p of pins) await fsNative().unmount(p, MNT_DETACH);
    }
    for (const p of pins) await rm(p);
  });

  it('fails in one line on a path that is not there', async () => {
    const root = await temp.make();
    await expect(fsNative().mountNewNetns(join(root, 'missing'))).rejects.toMatchObject({ code: 'ENOENT', syscall: 'unshare' });
  });
});
