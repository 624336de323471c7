import { readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { LocalStore } from '@tsbuild/oci-layout';
import { chainIds, Snapshotter } from '../runtime/snapshotter.js';
import { StepCache } from './stepCache.js';
import { ContainerStore } from '../runtime/containerStore.js';

/**
 * After blobs are pruned: drops build-cache entries whose layers are gone
 * and unpacked snapshots that no image in the store is made of.
 */
export async function pruneBuildCache(store: LocalStore): Promise<{ cacheEntries: number; snapshots: number }> {
  const cacheEntries = await new StepCache(store).prune();
  const snapshotter = new Snapshotter(store);
  const live = new Set<string>();
  for (const descriptor of (await store.layout.readIndex()).manifests) {
    const image = await store.layout.readImage(descriptor).catch(() => undefined);
    for (const chain of chainIds(image?.config.rootfs.diff_ids ?? [])) live.add(snapshotter.pathOf(chain));
  }
  // Containers' lower directories, whether or not their image still has a name.
  for (const c of await new ContainerStore(store).list()) {
    for (const chain of chainIds(c.record.image.diffIds)) live.add(snapshotter.pathOf(chain));
  }
  let snapshots = 0;
  for (const name of await readdir(snapshotter.dir).catch(() => [] as string[])) {
    const path = join(snapshotter.dir, name);
    if (live.has(path)) continue;
    await rm(path, { recursive: true, force: true });
    snapshots++;
  }
  return { cacheEntries, snapshots };
}
