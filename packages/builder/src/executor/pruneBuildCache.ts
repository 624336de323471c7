import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { readdirIfExists, type LocalStore, type ProcessIdentity } from '@tsbuild/oci-layout';
import { chainIds, Snapshotter } from '../runtime/snapshotter.js';
import { StepCache } from '../cache/stepCache.js';
import { dropExplanations } from '../cache/cacheEviction.js';
import { ContainerStore } from '../runtime/containerStore.js';

/**
 * After blobs are pruned: drops build-cache entries whose layers are gone
 * (with their explanation records) and unpacked snapshots (with their records) that no image in the store is
 * made of. Snapshots stay while a build runs: they are its lower layers.
 */
export async function pruneBuildCache(store: LocalStore): Promise<{ cacheEntries: number; snapshots: number; busy: ProcessIdentity[] }> {
  const cache = new StepCache(store);
  const cacheEntries = await cache.prune();
  return store.whileNoLeaseBegins(async (busy) => {
    if (busy.length > 0) return { cacheEntries, snapshots: 0, busy };
    // A running build files records and listings of entries it has yet to write: only while none runs.
    const entries = new Set<string>();
    for await (const entry of cache.entries()) entries.add(entry.key);
    await dropExplanations(store.cacheDir, (key) => entries.has(key));
    const snapshotter = new Snapshotter(store);
    const live = new Set<string>();
    for (const descriptor of (await store.layout.readIndex()).manifests) {
      const image = await store.layout.readImageIfAny(descriptor);
      for (const chain of chainIds(image?.config.rootfs.diff_ids ?? [])) live.add(snapshotter.pathOf(chain));
    }
    // Containers' lower directories, whether or not their image still has a name.
    for (const c of await new ContainerStore(store).list()) {
      for (const chain of chainIds(c.record.image.diffIds)) live.add(snapshotter.pathOf(chain));
    }
    let snapshots = 0;
    for (const name of await readdirIfExists(snapshotter.dir)) {
      const path = join(snapshotter.dir, name);
      if (live.has(path)) continue;
      await rm(path, { recursive: true, force: true });
      snapshots++;
    }
    for (const name of await readdirIfExists(snapshotter.recordsDir)) {
      if (live.has(join(snapshotter.dir, name.replace(/\.json$/, '')))) continue;
      await rm(join(snapshotter.recordsDir, name), { force: true });
    }
    return { cacheEntries, snapshots, busy };
  });
}
