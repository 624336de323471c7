import { execFile, spawn } from 'node:child_process';
import { mkdir, readFile, readdir, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { promisify } from 'node:util';
import { fsNative, MNT_DETACH, MS_RDONLY } from '@tsbuild/oci-layout';
import { checkOverlayDepth, mountOverlay, mountReadOnlyOverlay, OverlayMountError, unmount } from '@tsbuild/builder';
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

  it('stacks 150 lowers whose absolute paths overflow a page, named relative to their directory, and no thread of ours changes directory', async () => {
    const root = await temp.make();
    // As deep below a long store root as snapshots are: absolute, these lowerdirs are ~18 KB.
    const snapshots = join(root, 'a-store-root-as-long-as-they-come-'.repeat(3), 'cache', 'snapshots');
    const many = Array.from({ length: 150 }, (_, i) => join(snapshots, i.toString(16).padStart(24, '0')));
    await Promise.all(many.map(async (d, i) => {
      await mkdir(d, { recursive: true });
      await writeFile(join(d, `only-${i}`), '');
      await writeFile(join(d, 'shared'), `from ${i}`);
    }));
    const cwd = process.cwd();
    const mount = await mountOverlay(many, join(root, 'rw'));
    try {
      expect(await readFile(join(mount.merged, 'shared'), 'utf8')).toBe('from 149');
      expect((await readdir(mount.merged)).filter((n) => n.startsWith('only-'))).toHaveLength(150);
      await writeFile(join(mount.merged, 'only-0'), 'changed');
      expect(await readFile(join(mount.upper, 'only-0'), 'utf8')).toBe('changed');
      const threads = await readdir('/proc/self/task');
      const dirs = await Promise.all(threads.map((t) => readlink(`/proc/self/task/${t}/cwd`)));
      expect({ process: process.cwd(), threads: new Set(dirs) }).toEqual({ process: cwd, threads: new Set([cwd]) });
    } finally {
      await mount.unmount();
    }
    const merged = join(root, 'ro');
    await mkdir(merged);
    await mountReadOnlyOverlay(many, merged);
    try {
      expect(await readFile(join(merged, 'shared'), 'utf8')).toBe('from 149');
      expect(await readFile(join(merged, 'only-0'), 'utf8')).toBe('');
    } finally {
      await unmount(merged);
    }
  });

  it('refuses, in one line and before any mount, a stack too deep for a page even as relative names', async () => {
    const root = await temp.make();
    const many = Array.from({ length: 600 }, (_, i) => join(root, 'snapshots', i.toString(16).padStart(24, '0')));
    await Promise.all(many.map((d) => mkdir(d, { recursive: true })));
    const tooDeep = /^cannot mount an overlay of 600 layers: their paths, even as short relative names, are longer than mount\(2\) takes \(a page; about 150 layers fit\)$/;
    expect(() => checkOverlayDepth(many, join(root, 'rw'))).toThrow(tooDeep);
    expect(() => checkOverlayDepth(many.slice(0, 150), join(root, 'rw'))).not.toThrow();
    await expect(mountOverlay(many, join(root, 'deep'))).rejects.toThrow(tooDeep);
    expect(await mounted(join(root, 'deep', 'merged'))).toBe(false);
    await mkdir(join(root, 'ro'));
    await expect(mountReadOnlyOverlay(many, join(root, 'ro'))).rejects.toThrow(tooDeep);
    expect(await mounted(join(root, 'ro'))).toBe(false);
  });

  it('whatever depth the early check lets through mounts beside the widest upper and work directories it was given', async () => {
    const root = await temp.make();
    const snapshots = join(root, 'cache', 'snapshots');
    const many = Array.from({ length: 200 }, (_, i) => join(snapshots, i.toString(16).padStart(24, '0')));
    await Promise.all(many.map((d) => mkdir(d, { recursive: true })));
    // A container's rootfs directory, as deep below the store root as one gets.
    const widest = join(root, 'containers', 'f'.repeat(64), 'rootfs');
    const deepest = many.findIndex((_, i) => {
      try {
        checkOverlayDepth(many.slice(0, i + 1), widest);
        return false;
      } catch (e) {
        if (!(e instanceof OverlayMountError)) throw e;
        return true;
      }
    });
    expect(deepest).toBeGreaterThan(140);
    const mount = await mountOverlay(many.slice(0, deepest), widest, { volatile: true });
    try {
      expect(await mounted(mount.merged)).toBe(true);
    } finally {
      await mount.unmount();
    }
  });

  it('reports a missing lower directory in one line and mounts nothing', async () => {
    const root = await temp.make();
    const attempt = mountOverlay([join(root, 'missing')], join(root, 'x'));
    await expect(attempt).rejects.toThrow(/^cannot mount an overlay of 1 layer \(are we root, with overlayfs\?\): [^\n]*mount '[^\n]*merged'$/);
    expect(await mounted(join(root, 'x', 'merged'))).toBe(false);
  });

  it('reports an unmount of something not mounted as the kernel does (EINVAL)', async () => {
    const root = await temp.make();
    await expect(unmount(root)).rejects.toMatchObject({ code: 'EINVAL', syscall: 'umount', path: root });
  });

  it('mounts from a directory: relative paths resolve there; a directory that is not there fails at chdir', async () => {
    const root = await temp.make();
    await lowers(root);
    const merged = join(root, 'from');
    await mkdir(merged);
    await fsNative().mountFrom(root, 'overlay', merged, 'overlay', MS_RDONLY, 'lowerdir=b:a');
    try {
      expect(await readFile(join(merged, 'shared'), 'utf8')).toBe('from b');
    } finally {
      await unmount(merged);
    }
    const attempt = fsNative().mountFrom(join(root, 'missing'), 'overlay', merged, 'overlay', MS_RDONLY, 'lowerdir=b:a');
    await expect(attempt).rejects.toMatchObject({ code: 'ENOENT', syscall: 'chdir', path: join(root, 'missing') });
    expect(await mounted(merged)).toBe(false);
  });

  it('throws a usage error for calls that lack arguments', () => {
    const native = fsNative() as unknown as Record<'mount' | 'mountFrom' | 'unmount', (...args: unknown[]) => unknown>;
    expect(() => native.mount('overlay', '/x')).toThrow(TypeError);
    expect(() => native.mount('overlay', '/x', 'overlay', 'not a number', '')).toThrow(/flags must be a number/);
    expect(() => native.unmount(7, 0)).toThrow(/target must be a string/);
    expect(() => native.unmount('/tmp\0/etc', 0)).toThrow(/without NUL bytes/);
    expect(() => native.mount('overlay', '/x', 'overlay', 0, 'lowerdir=/a\0,upperdir=/b')).toThrow(/without NUL bytes/);
    expect(() => native.mountFrom('/tmp', 'overlay', '/x', 'overlay', 0)).toThrow(/^mountFrom\(dir, source, target, fstype, flags, data\)/);
    expect(() => native.mountFrom('/tmp\0', 'overlay', '/x', 'overlay', 0, '')).toThrow(/dir must be a string without NUL bytes/);
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
