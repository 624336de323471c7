// The Debian base both builders start FROM: the debootstrap tarball scripts/debian-base.sh caches
// (the tests use it too), imported once into a tsbuild store and handed to buildah
// from that store's OCI layout, so both build on the very same layer.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { checkedOutput } from './checkedOutput.mjs';
import { emptyOutput, removeTree } from './runRounds.mjs';

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
  // Made (debootstrap, about a minute) unless the tests or an earlier bench left it in the cache.
  const tarball = checkedOutput(['bash', join(ctx.repo, 'scripts/debian-base.sh')]);
  const store = join(ctx.work, 'debian-base');
  ctx.progress(`importing ${tarball} as ${DEBIAN_BASE}`);
  checkedOutput(['node', ctx.tsbuildBin, '--root', store, 'import', '-m', 'debootstrap --variant=minbase bookworm', tarball, DEBIAN_BASE]);
  const warmContext = join(ctx.work, 'debian-warm-context');
  mkdirSync(warmContext, { recursive: true });
  writeFileSync(join(warmContext, 'Dockerfile'), `FROM ${DEBIAN_BASE}\nRUN true\n`);
  checkedOutput(['node', ctx.tsbuildBin, '--root', store, 'build', '-q', warmContext]);
  return {
    store,
    /** The base as the image the registry and tsdive groups use when no nginx image was built. */
    image: { store, name: DEBIAN_BASE, label: 'Debian base image (gzip)' },
    /** A fresh tsbuild store holding only the base. */
    intoTsbuildStore(root) {
      emptyOutput(root);
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
