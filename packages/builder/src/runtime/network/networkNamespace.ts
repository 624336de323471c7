import { mkdir, open, rm, stat } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fsNative, MNT_DETACH } from '@tsbuild/oci-layout';
import { checkContainerId, NetworkError } from './networkError.js';

/** Where a container's named network namespace is bind-mounted: `<root>/netns/<id>`, as podman keeps `/run/netns/<name>`. */
export function netnsPathFor(root: string, containerId: string): string {
  checkContainerId(containerId);
  return join(root, 'netns', containerId);
}

/** A bind-mounted nsfs file lives on another device than the directory that holds it. */
async function isMounted(path: string): Promise<boolean> {
  const [file, dir] = await Promise.all([stat(path), stat(dirname(path))]);
  return file.dev !== dir.dev;
}

/** Whether the namespace at `path` is still pinned there (gone after a reboot, or never made). */
export async function isNetnsMounted(path: string): Promise<boolean> {
  try {
    return await isMounted(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

/**
 * Creates a fresh network namespace (only a down `lo` in it) and pins it by
 * bind-mounting it on `<root>/netns/<id>`, so it outlives every process and
 * runc can join it by path. Node cannot unshare: the native addon does.
 */
export async function createNetns(root: string, containerId: string): Promise<string> {
  const path = netnsPathFor(root, containerId);
  await mkdir(dirname(path), { recursive: true });
  try {
    await (await open(path, 'wx')).close();
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new NetworkError('netns', `network namespace ${path} already exists`);
    throw e;
  }
  try {
    await fsNative().mountNewNetns(path);
  } catch (e) {
    await rm(path, { force: true });
    throw new NetworkError('netns', `cannot create network namespace ${path}: ${(e as Error).message}`);
  }
  return path;
}

/** Unmounts and deletes a namespace made by createNetns; a missing one is fine (teardown may run twice). */
export async function removeNetns(path: string): Promise<void> {
  if (await isNetnsMounted(path)) {
    try {
      await fsNative().unmount(path, MNT_DETACH);
    } catch (e) {
      throw new NetworkError('netns', `cannot unmount network namespace ${path}: ${(e as Error).message}`);
    }
  }
  await rm(path, { force: true });
}
