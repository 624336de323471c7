import { lstatIfExists, type Digest, type LocalStore, type ProcessIdentity } from '@tsbuild/oci-layout';
import { chooseEvictions, dropExplanations, type CacheItem, type EvictionPolicy } from '../cache/cacheEviction.js';
import { SourceListings } from '../cache/sourceListing.js';
import { StepCache } from '../cache/stepCache.js';
import { StepRecords } from '../cache/stepRecords.js';
import { ContainerStore } from '../runtime/containerStore.js';

export interface CachePruneResult {
  records: number;
  layers: number;
  bytes: number;
  busy: ProcessIdentity[];
}

const fileSize = async (path: string) => (await lstatIfExists(path))?.size ?? 0;

/**
 * `prune --cache`: removes build cache records the policy picks, with the
 * layers only they hold (never one an image or container uses) and their
 * explanation records and source listings. Nothing while a build runs: it
 * may be about to use a record's layer.
 */
export async function pruneCacheStorage(store: LocalStore, policy: EvictionPolicy): Promise<CachePruneResult> {
  return store.whileNoLeaseBegins(async (busy) => {
    if (busy.length > 0) return { records: 0, layers: 0, bytes: 0, busy };
    const roots = [...(await store.layout.readIndex()).manifests, ...(await new ContainerStore(store).list()).map((c) => c.record.image.descriptor)];
    const held = await store.layout.reachable(roots);
    const steps = new StepCache(store);
    const records = new StepRecords(store.cacheDir);
    const listings = new SourceListings(store.cacheDir);

    const explained = new Map<string, { bytes: number; sources: string[] }>();
    for await (const r of records.list()) explained.set(r.key, { bytes: await fileSize(r.file), sources: r.sources });
    const items: CacheItem[] = [];
    const entryBytes = new Map<string, number>();
    const sizes = new Map<string, number>();
    const blobs = new Map<string, Digest>();
    for await (const entry of steps.entries()) {
      const shared: string[] = [];
      const layer = entry.step.layer?.descriptor;
      if (layer && !held.has(layer.digest)) {
        shared.push(`blob:${layer.digest}`);
        sizes.set(`blob:${layer.digest}`, layer.size);
        blobs.set(`blob:${layer.digest}`, layer.digest);
      }
      const record = explained.get(entry.key);
      for (const digest of record?.sources ?? []) {
        shared.push(`listing:${digest}`);
        if (!sizes.has(`listing:${digest}`)) sizes.set(`listing:${digest}`, await fileSize(listings.path(digest)));
      }
      entryBytes.set(entry.key, entry.bytes);
      items.push({ key: entry.key, lastUsed: entry.lastUsed, bytes: entry.bytes + (record?.bytes ?? 0), shared });
    }

    const doomed = chooseEvictions(items, sizes, policy);
    let bytes = 0;
    const stillShared = new Set<string>();
    for (const item of items) {
      if (!doomed.has(item.key)) {
        for (const id of item.shared) stillShared.add(id);
        continue;
      }
      await steps.remove(item.key);
      bytes += entryBytes.get(item.key)!;
    }
    let layers = 0;
    for (const [id, digest] of blobs) {
      if (stillShared.has(id)) continue;
      await store.layout.removeBlob(digest);
      bytes += sizes.get(id)!;
      layers++;
    }
    // Explanation records and listings go with their entries (and any left by entries removed before).
    bytes += await dropExplanations(store.cacheDir, (key) => entryBytes.has(key) && !doomed.has(key));
    return { records: doomed.size, layers, bytes, busy };
  });
}
