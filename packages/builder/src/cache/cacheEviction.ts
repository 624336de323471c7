import { lstatIfExists } from '@tsbuild/oci-layout';
import { SourceListings } from './sourceListing.js';
import { StepRecords } from './stepRecords.js';

/** A build cache record as prune sees it: when it was last used, what it alone takes, and what it shares with others. */
export interface CacheItem {
  key: string;
  /** ms since the epoch. */
  lastUsed: number;
  /** Its own files. */
  bytes: number;
  /** What it holds with other records (a layer blob no image uses, a source listing), by id; sizes apart. */
  shared: string[];
}

/** `prune --cache`: `--filter until=` (records last used before `usedBefore`) and `--keep-storage` (then least recently used first, down to `keepBytes`). */
export interface EvictionPolicy {
  usedBefore?: number;
  keepBytes?: number;
}

/**
 * The keys to remove, as `buildx prune` chooses them: with no limit, every
 * record; else those unused since `usedBefore`, then the least recently used
 * until what is left (own bytes plus each shared thing once) fits `keepBytes`.
 */
export function chooseEvictions(items: CacheItem[], sharedSizes: Map<string, number>, policy: EvictionPolicy): Set<string> {
  if (policy.usedBefore === undefined && policy.keepBytes === undefined) return new Set(items.map((i) => i.key));
  const doomed = new Set<string>();
  const kept = items.filter((i) => {
    if (policy.usedBefore !== undefined && i.lastUsed < policy.usedBefore) doomed.add(i.key);
    return !doomed.has(i.key);
  });
  if (policy.keepBytes === undefined) return doomed;
  const refs = new Map<string, number>();
  let total = 0;
  for (const item of kept) {
    total += item.bytes;
    for (const id of item.shared) {
      const n = refs.get(id) ?? 0;
      if (n === 0) total += sharedSizes.get(id) ?? 0;
      refs.set(id, n + 1);
    }
  }
  for (const item of kept.sort((a, b) => a.lastUsed - b.lastUsed)) {
    if (total <= policy.keepBytes) break;
    doomed.add(item.key);
    total -= item.bytes;
    for (const id of item.shared) {
      const n = refs.get(id)! - 1;
      refs.set(id, n);
      if (n === 0) total -= sharedSizes.get(id) ?? 0;
    }
  }
  return doomed;
}

/**
 * Removes the explanation records of steps the cache no longer holds, and
 * the source listings no record names any more; returns the bytes freed.
 */
export async function dropExplanations(cacheDir: string, live: (key: string) => boolean): Promise<number> {
  const records = new StepRecords(cacheDir);
  const listings = new SourceListings(cacheDir);
  let bytes = 0;
  const named = new Set<string>();
  for await (const r of records.list()) {
    if (live(r.key)) {
      for (const digest of r.sources) named.add(digest);
      continue;
    }
    bytes += (await lstatIfExists(r.file))?.size ?? 0;
    await records.remove(r.parent, r.key);
  }
  for (const digest of await listings.digests()) {
    if (named.has(digest)) continue;
    bytes += (await lstatIfExists(listings.path(digest)))?.size ?? 0;
    await listings.remove(digest);
  }
  return bytes;
}
