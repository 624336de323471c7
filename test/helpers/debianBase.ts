import { join } from 'node:path';
import { requireTools, run } from './tools.js';
import { REPO_ROOT, tsbuild } from './tsbuildCli.js';

/** A real Debian base rootfs tarball, made once by scripts/debian-base.sh and cached. */
async function debianRootfsTarball(): Promise<string> {
  await requireTools({ debootstrap: 'debootstrap' });
  const { stdout } = await run('bash', [join(REPO_ROOT, 'scripts/debian-base.sh')], { maxBuffer: 64 * 1024 * 1024 });
  return stdout.trim();
}

/** Imports the cached Debian base into a store as `debian:bookworm`. */
export async function importDebian(root: string): Promise<void> {
  const out = await tsbuild(['--root', root, 'import', '--compression', 'zstd', await debianRootfsTarball(), 'debian:bookworm']);
  if (out.code !== 0) throw new Error(`import of the Debian base failed: ${out.stderr}`);
}
