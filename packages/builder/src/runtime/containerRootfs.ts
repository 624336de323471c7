import { readFile } from 'node:fs/promises';
import type { Image, LocalStore } from '@tsbuild/oci-layout';
import type { ContainerRecord } from './containerRecord.js';
import type { ContainerPaths } from './containerStore.js';
import { ContainerError } from './containerError.js';
import { mountOverlay, OverlayMountError, unmount } from './overlayMount.js';
import { Snapshotter } from './snapshotter.js';

/** Whether `dir` is a mount point in our mount namespace. */
export async function isMounted(dir: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  // mountinfo escapes spaces, tabs, newlines and backslashes in octal.
  const escaped = dir.replace(/[ \t\n\\]/g, (c) => `\\${c.charCodeAt(0).toString(8).padStart(3, '0')}`);
  return info.split('\n').some((line) => line.split(' ')[4] === escaped);
}

/**
 * The container's root filesystem: the image's shared snapshots (unpacked
 * once per chain ID, the builder's) under an overlay whose upper directory
 * is the container's own. Nothing is copied, so a big image starts as fast
 * as a small one; the upper directory survives stop and start. A `--rm`
 * container's is volatile: nothing of it outlives the container.
 */
export async function mountContainerRootfs(store: LocalStore, record: ContainerRecord, paths: ContainerPaths): Promise<string> {
  if (await isMounted(paths.merged)) return paths.merged;
  return mountNewRootfs(store, await store.layout.readImage(record.image.descriptor), record, paths);
}

/** mountContainerRootfs for a container made a moment ago, whose image is at hand and whose rootfs cannot be mounted yet. */
export async function mountNewRootfs(store: LocalStore, image: Image, record: ContainerRecord, paths: ContainerPaths): Promise<string> {
  try {
    const lowers = await new Snapshotter(store).prepare(image.layers);
    return (await mountOverlay(lowers, paths.rootfsDir, { volatile: record.autoRemove })).merged;
  } catch (e) {
    // A root filesystem we cannot mount is our failure, as podman's is (125), not the container's.
    if (e instanceof OverlayMountError) throw new ContainerError('runtime', e.message);
    throw e;
  }
}

export async function unmountContainerRootfs(paths: ContainerPaths): Promise<void> {
  if (await isMounted(paths.merged)) await unmount(paths.merged);
}
