import { mkdir, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { requireTools, run } from './tools.js';
import { tsbuild } from './tsbuildCli.js';

/** Kept between test runs on this machine: debootstrap takes a minute and the network. */
const CACHE_DIR = process.env.TSBUILD_TEST_CACHE ?? '/var/cache/tsbuild-test';
const TARBALL = join(CACHE_DIR, 'debian-bookworm-minbase.tar');

/** A real Debian base: `debootstrap --variant=minbase bookworm`, made once and cached as a tarball. */
export async function debianRootfsTarball(): Promise<string> {
  if (await stat(TARBALL).then(() => true, () => false)) return TARBALL;
  await requireTools({ debootstrap: 'debootstrap' });
  await mkdir(CACHE_DIR, { recursive: true });
  const work = join(CACHE_DIR, `build-${process.pid}`);
  try {
    await run('debootstrap', ['--variant=minbase', 'bookworm', join(work, 'rootfs'), 'http://deb.debian.org/debian'], { maxBuffer: 64 * 1024 * 1024 });
    await run('tar', ['-C', join(work, 'rootfs'), '--numeric-owner', '--xattrs', '-cf', join(work, 'rootfs.tar'), '.']);
    await rename(join(work, 'rootfs.tar'), TARBALL);
  } finally {
    await rm(work, { recursive: true, force: true });
  }
  return TARBALL;
}

/** Imports the cached Debian base into a store as `debian:bookworm`. */
export async function importDebian(root: string): Promise<void> {
  const out = await tsbuild(['--root', root, 'import', '--compression', 'zstd', await debianRootfsTarball(), 'debian:bookworm']);
  if (out.code !== 0) throw new Error(`import of the Debian base failed: ${out.stderr}`);
}
