import { chmod, chown, copyFile, mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { requireTools, run } from './tools.js';
import { tsbuild } from './tsbuildCli.js';

const APPLETS = ['sh', 'ls', 'cat', 'echo', 'mkdir', 'rm', 'touch', 'chmod', 'chown', 'id', 'sleep', 'ln', 'mv', 'cp', 'true', 'false',
  'env', 'stat', 'pwd', 'test', 'ip', 'wc', 'find', 'mknod', 'readlink', 'head', 'grep', 'sed', 'printf', 'whoami', 'kill', 'ps'];

/**
 * A tiny base image with a shell: Debian's static busybox plus its applet
 * links, a root user and an `app` user, imported into the store as NAME.
 */
export async function importBusybox(root: string, name = 'busybox'): Promise<void> {
  await requireTools({ busybox: 'busybox-static' });
  const dir = await mkdtemp(join(tmpdir(), 'tsbuild-busybox-'));
  try {
    const rootfs = join(dir, 'rootfs');
    for (const d of ['bin', 'etc', 'tmp', 'root', 'home/app']) await mkdir(join(rootfs, d), { recursive: true });
    await copyFile('/bin/busybox', join(rootfs, 'bin/busybox'));
    for (const applet of APPLETS) await symlink('busybox', join(rootfs, 'bin', applet));
    await writeFile(join(rootfs, 'etc/passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    await writeFile(join(rootfs, 'etc/group'), 'root:x:0:\napp:x:1000:\n');
    await chmod(join(rootfs, 'tmp'), 0o1777);
    await chown(join(rootfs, 'home/app'), 1000, 1000);
    const tarball = join(dir, 'rootfs.tar');
    // Fixed mtimes, order and import time: every store gets the very same base image.
    await run('tar', ['-C', rootfs, '--numeric-owner', '--sort=name', '--mtime=@1600000000', '-cf', tarball, '.']);
    const out = await tsbuild(['--root', root, 'import', '--source-date-epoch', '1600000000', tarball, name]);
    if (out.code !== 0) throw new Error(`import of busybox failed: ${out.stderr}`);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
