import { copyFile, mkdir, readdir, stat, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { requireTools, run } from '../helpers/tools.js';
import { tsbuildOk } from '../helpers/tsbuildCli.js';
import { tempDirs } from '../helpers/tempDirs.js';

const dirs = tempDirs();
const GiB = 1024 ** 3;
const latin1 = (text: string) => Buffer.from(text, 'latin1');
const names = async (dir: string) => (await readdir(dir, { encoding: 'buffer' })).map((n) => n.toString('latin1')).sort();
let root: string;

/**
 * A base image made by GNU tar (`--sparse --posix`, PAX sparse 1.0) from a
 * tree holding names that are not UTF-8 and a 1 GiB file with 4 KiB of data.
 */
beforeAll(async () => {
  await requireTools({ busybox: 'busybox-static', tar: 'tar' });
  root = await dirs.make();
  const work = await dirs.make();
  const rootfs = join(work, 'rootfs');
  await mkdir(join(rootfs, 'bin'), { recursive: true });
  await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
  for (const applet of ['sh', 'touch', 'printf', 'dd', 'truncate']) await symlink('busybox', join(rootfs, 'bin', applet));
  await writeFile(latin1(`${rootfs}/hi\x80\x81\x82\x83bye`), 'one');
  await writeFile(latin1(`${rootfs}/hi\x80\x81\x82\x84bye`), 'two');
  await run('truncate', ['-s', '1G', join(rootfs, 'sparse')]);
  await run('sh', ['-c', `printf data | dd of=${join(rootfs, 'sparse')} bs=1 seek=500000000 conv=notrunc status=none`]);
  await run('tar', ['--sparse', '--posix', '-C', rootfs, '-cf', join(work, 'base.tar'), '.']);
  await tsbuildOk(['--root', root, 'import', join(work, 'base.tar'), 'bytes-base']);
}, 120_000);

describe('names as bytes and files with holes, from tar to disk to tar and back', () => {
  it('survive import, a RUN step that makes more of them, and bundle', async () => {
    const context = await dirs.make();
    await writeFile(
      join(context, 'Dockerfile'),
      [
        'FROM bytes-base',
        `RUN touch "$(printf 'run\\200\\201')" && truncate -s 2G /run-sparse && printf x | dd of=/run-sparse bs=1 seek=1000000 conv=notrunc`,
      ].join('\n'),
    );
    await tsbuildOk(['--root', root, '-q', '-t', 'bytes', context]);
    const bundle = join(await dirs.make(), 'bundle');
    await tsbuildOk(['--root', root, 'bundle', 'bytes', bundle]);
    const rootfs = join(bundle, 'rootfs');

    expect(await names(rootfs)).toEqual(['bin', 'hi\x80\x81\x82\x83bye', 'hi\x80\x81\x82\x84bye', 'run-sparse', 'run\x80\x81', 'sparse']);
    const imported = await stat(join(rootfs, 'sparse'));
    const ran = await stat(join(rootfs, 'run-sparse'));
    expect([imported.size, ran.size]).toEqual([GiB, 2 * GiB]);
    // Holes stay holes: a few blocks of data each, not gigabytes.
    expect(imported.blocks * 512).toBeLessThanOrEqual(64 * 1024);
    expect(ran.blocks * 512).toBeLessThanOrEqual(64 * 1024);
    const at = async (file: string, offset: number) =>
      (await run('dd', [`if=${join(rootfs, file)}`, 'bs=1', `skip=${offset}`, 'count=6', 'status=none'], { encoding: 'latin1' })).stdout;
    expect(await at('sparse', 499_999_999)).toBe('\0data\0');
    expect(await at('run-sparse', 999_999)).toBe('\0x\0\0\0\0');
  });
});
