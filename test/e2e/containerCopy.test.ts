import { spawnSync } from 'node:child_process';
import { chown, lstat, mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { importBusybox } from '../helpers/busyboxImage.js';
import { requireTools } from '../helpers/tools.js';
import { tsbuildOk } from '../helpers/tsbuildCli.js';
import { cliOnRoot, removeAllContainers } from '../helpers/containerRoot.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
let root: string;
let host: string;

beforeAll(async () => {
  await requireTools({ runc: 'runc', conmon: 'conmon' });
  root = await dirs.make();
  host = await dirs.make();
  await importBusybox(root);
  await mkdir(join(host, 'secret'));
  await writeFile(join(host, 'secret', 'sentinel'), 'host secret\n');
  // A stopped container with files, a tree, and symlinks that lead out if followed on the host.
  const script = [
    'mkdir -p /data/dir/sub && echo one > /data/dir/a && echo two > /data/dir/sub/b && chown 1000:1000 /data/dir/a',
    // The links' target exists in the container too, empty: a copy through them must land there.
    `mkdir -p ${join(host, 'secret')} && ln -s ${join(host, 'secret')} /data/abs && ln -s ../../../../../../../..${join(host, 'secret')} /data/up && ln -s /etc /data/etc`,
  ].join(' && ');
  await tsOk('run', '--name', 'files', '--network', 'none', 'busybox', 'sh', '-c', script);
});
afterAll(async () => {
  await removeAllContainers(root);
  await dirs.cleanup();
});

const { ts, tsOk } = cliOnRoot(() => root);

async function hostSecretUntouched(): Promise<void> {
  expect(await readdir(join(host, 'secret'))).toEqual(['sentinel']);
  expect(await readFile(join(host, 'secret', 'sentinel'), 'utf8')).toBe('host secret\n');
}

describe('cp out of a container', () => {
  it('copies a file, to a new name and into a directory', async () => {
    const out = await dirs.make();
    await tsOk('cp', 'files:/data/dir/a', join(out, 'copy'));
    expect(await readFile(join(out, 'copy'), 'utf8')).toBe('one\n');
    await tsOk('cp', 'files:/data/dir/sub/b', out);
    expect(await readFile(join(out, 'b'), 'utf8')).toBe('two\n');
  });

  it('copies a directory: to a new name, into a directory, and its contents with /.', async () => {
    const out = await dirs.make();
    await tsOk('cp', 'files:/data/dir', join(out, 'new'));
    expect(await readFile(join(out, 'new', 'sub', 'b'), 'utf8')).toBe('two\n');
    await tsOk('cp', 'files:/data/dir', out);
    expect(await readFile(join(out, 'dir', 'a'), 'utf8')).toBe('one\n');
    await mkdir(join(out, 'contents'));
    await tsOk('cp', 'files:/data/dir/.', join(out, 'contents'));
    expect((await readdir(join(out, 'contents'))).sort()).toEqual(['a', 'sub']);
  });

  it('-a keeps the owner; without it the files are the caller\'s', async () => {
    const out = await dirs.make();
    await tsOk('cp', 'files:/data/dir/a', join(out, 'plain'));
    await tsOk('cp', '-a', 'files:/data/dir/a', join(out, 'kept'));
    expect((await stat(join(out, 'plain'))).uid).toBe(process.getuid!());
    expect((await stat(join(out, 'kept'))).uid).toBe(1000);
  });

  it('never reads host files through the container\'s symlinks', async () => {
    const out = await dirs.make();
    for (const link of ['abs', 'up']) {
      const r = await ts('cp', `files:/data/${link}/sentinel`, join(out, link));
      expect(r.code).toBe(125);
      expect(r.stderr.trim().split('\n')).toHaveLength(1);
    }
    // A symlink as the source is copied as the symlink it is.
    await tsOk('cp', 'files:/data/abs', join(out, 'link'));
    expect((await lstat(join(out, 'link'))).isSymbolicLink()).toBe(true);
    // ... and -L follows it inside the container, to the container's own (empty) directory.
    await tsOk('cp', '-L', 'files:/data/abs', join(out, 'followed'));
    expect(await readdir(join(out, 'followed'))).toEqual([]);
  });

  it('- writes a tar stream to stdout', async () => {
    const { stdout } = await tsOk('cp', 'files:/data/dir', '-');
    const out = await dirs.make();
    expect(spawnSync('tar', ['-C', out, '-xf', '-'], { input: stdout }).status).toBe(0);
    expect(await readFile(join(out, 'dir', 'sub', 'b'), 'utf8')).toBe('two\n');
  });

  it('a missing path is a one-line error', async () => {
    const r = await ts('cp', 'files:/nope', await dirs.make());
    expect(r.code).toBe(125);
    expect(r.stderr).toMatch(/could not find the file \/nope in container files/);
  });
});

describe('cp into a container', () => {
  it('copies a file and a directory into a stopped container', async () => {
    const src = await dirs.make();
    await writeFile(join(src, 'f'), 'from host\n');
    await mkdir(join(src, 'tree'));
    await writeFile(join(src, 'tree', 'x'), 'x\n');
    await chown(join(src, 'f'), 1234, 1234);
    await tsOk('cp', join(src, 'f'), 'files:/data/f');
    await tsOk('cp', '-a', join(src, 'f'), 'files:/data/f-kept');
    await tsOk('cp', join(src, 'tree'), 'files:/data/');
    const out = await dirs.make();
    await tsOk('cp', '-a', 'files:/data', join(out, 'data'));
    expect(await readFile(join(out, 'data', 'f'), 'utf8')).toBe('from host\n');
    expect((await stat(join(out, 'data', 'f'))).uid).toBe(0);
    expect((await stat(join(out, 'data', 'f-kept'))).uid).toBe(1234);
    expect(await readFile(join(out, 'data', 'tree', 'x'), 'utf8')).toBe('x\n');
    // The stopped container's rootfs was mounted for the copy only.
    expect(await readFile('/proc/self/mountinfo', 'utf8')).not.toContain(join(root, 'containers'));
  });

  it('writes through a container symlink inside the container, never to the host', async () => {
    const src = await dirs.make();
    await writeFile(join(src, 'evil'), 'evil\n');
    await tsOk('cp', join(src, 'evil'), 'files:/data/abs/');
    await tsOk('cp', join(src, 'evil'), 'files:/data/up/evil2');
    await tsOk('cp', join(src, 'evil'), 'files:/data/etc/tsbuild-cp-hostile');
    await hostSecretUntouched();
    await expect(stat('/etc/tsbuild-cp-hostile')).rejects.toThrow(/ENOENT/);
    expect((await tsOk('cp', 'files:/etc/tsbuild-cp-hostile', '-')).stdout).toContain('evil\n');
    // Both landed in the container, at the path the links name there.
    await tsOk('cp', `files:${join(host, 'secret')}`, join(src, 'inside'));
    expect((await readdir(join(src, 'inside'))).sort()).toEqual(['evil', 'evil2']);
  });

  it('- reads a tar stream from stdin into a directory', async () => {
    const src = await dirs.make();
    await mkdir(join(src, 't'));
    await writeFile(join(src, 't', 'y'), 'y\n');
    const tar = spawnSync('tar', ['-C', src, '-cf', '-', 't']).stdout;
    await tsbuildOk(['--root', root, 'cp', '-', 'files:/data'], { input: tar });
    const out = await dirs.make();
    await tsOk('cp', 'files:/data/t/y', out);
    expect(await readFile(join(out, 'y'), 'utf8')).toBe('y\n');
  });

  it('works on a running container: exec sees the file', async () => {
    await tsOk('run', '-d', '--name', 'live', '--network', 'none', 'busybox', 'sleep', '600');
    const src = await dirs.make();
    await writeFile(join(src, 'hello'), 'hi there\n');
    await tsOk('cp', join(src, 'hello'), 'live:/tmp/');
    expect((await tsOk('exec', 'live', 'cat', '/tmp/hello')).stdout).toBe('hi there\n');
    await tsOk('exec', 'live', 'sh', '-c', 'echo made inside > /tmp/out');
    const out = await dirs.make();
    await tsOk('cp', 'live:/tmp/out', out);
    expect(await readFile(join(out, 'out'), 'utf8')).toBe('made inside\n');
  });
});
