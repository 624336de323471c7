#!/usr/bin/env bash
# Prints the path of a real Debian base rootfs tarball (`debootstrap --variant=minbase bookworm`),
# making it first when it is not there yet. Kept in ${TSBUILD_TEST_CACHE:-/var/cache/tsbuild-test}
# between runs: debootstrap takes a minute and the network. Used by the tests and the bench.
set -euo pipefail
cache=${TSBUILD_TEST_CACHE:-/var/cache/tsbuild-test}
tarball=$cache/debian-bookworm-minbase.tar
if [ ! -f "$tarball" ]; then
  mkdir -p "$cache"
  work=$cache/build-$$
  trap 'rm -rf "$work"' EXIT
  debootstrap --variant=minbase bookworm "$work/rootfs" http://deb.debian.org/debian >&2
  tar -C "$work/rootfs" --numeric-owner --xattrs -cf "$work/rootfs.tar" .
  mv "$work/rootfs.tar" "$tarball"
fi
echo "$tarball"
