// The Debian base both builders start FROM: the debootstrap tarball the tests cache
// (test/helpers/debianBase.ts), imported once into a tsbuild store and handed to buildah
// from that store's OCI layout, so both build on the very same layer.
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { checkedOutput } from './checkedOutput.mjs';
import { removeTree } from './runRounds.mjs';

const TARBALL = join(process.env.TSBUILD_TEST_CACHE ?? '/var/cache/tsbuild-test', 'debian-bookworm-minbase.tar');
export const DEBIAN_BASE = 'localhost/debian:bookworm';

export function buildahStorage(root) {
  return ['buildah', '--root', join(root, 'storage'), '--runroot', join(root, 'run'), '--storage-driver', 'vfs'];
}

/**
 * Imports the base (gzip, the default compression) into a store of its own. Returns how to
 * give a fresh tsbuild store or a fresh buildah root the base, ready to build on.
 * `buildah pull` unpacks the base into its storage; tsbuild unpacks a base into a snapshot
 * the first time a RUN needs it. So that neither tool's timed build pays for unpacking the
 * base, one untimed `RUN true` build leaves that snapshot in the store every run copies.
 */
export function debianBase(ctx) {
  if (!existsSync(TARBALL)) {
    throw new Error(`${TARBALL} is missing; the builder tests create it (debootstrap --variant=minbase bookworm), `
      + 'e.g. npx vitest run test/builder/buildahParity.test.ts');
  }
  const store = join(ctx.work, 'debian-base');
  ctx.progress(`importing ${TARBALL} as ${DEBIAN_BASE}`);
  checkedOutput(['node', ctx.tsbuildBin, '--root', store, 'import', '-m', 'debootstrap --variant=minbase bookworm', TARBALL, DEBIAN_BASE]);
  const warmContext = join(ctx.work, 'debian-warm-context');
  mkdirSync(warmContext, { recursive: true });
  writeFileSync(join(warmContext, 'Dockerfile'), `FROM ${DEBIAN_BASE}\nRUN true\n`);
  checkedOutput(['node', ctx.tsbuildBin, '--root', store, 'build', '-q', warmContext]);
  return {
    store,
    /** A fresh tsbuild store holding only the base. */
    intoTsbuildStore(root) {
      removeTree(root);
      mkdirSync(dirname(root), { recursive: true });
      checkedOutput(['cp', '-a', store, root]);
    },
    /** A fresh buildah root holding only the base, under the same name. */
    intoBuildahRoot(root) {
      removeTree(root);
      mkdirSync(root, { recursive: true });
      const id = checkedOutput([...buildahStorage(root), 'pull', '-q', `oci:${ctx.lowercase(join(store, 'oci'))}:${DEBIAN_BASE}`]);
      checkedOutput([...buildahStorage(root), 'tag', id, DEBIAN_BASE]);
    },
  };
}
