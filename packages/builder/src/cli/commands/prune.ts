import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';
import { humanSize } from '../humanSize.js';
import { ContainerStore } from '../../runtime/containerStore.js';
import { invalid, parseSize } from '../../runtime/runOptions.js';
import { parseDuration } from '../../runtime/logTime.js';
import type { EvictionPolicy } from '../../cache/cacheEviction.js';

interface PruneOptions {
  cache?: boolean;
  keepStorage?: string;
  filter: string[];
}

const collect = (value: string, previous: string[]) => [...previous, value];

/** `--keep-storage` and `--filter until=` (buildx prune's), as a policy; `now` in ms. */
function cachePolicy(opts: PruneOptions, now: number): EvictionPolicy {
  const policy: EvictionPolicy = {};
  if (opts.keepStorage !== undefined) policy.keepBytes = parseSize(opts.keepStorage);
  for (const filter of opts.filter) {
    const eq = filter.indexOf('=');
    const nanos = filter.slice(0, eq) === 'until' ? parseDuration(filter.slice(eq + 1)) : undefined;
    if (nanos === undefined) throw invalid(`invalid --filter ${JSON.stringify(filter)}: expected until=DURATION (a Go duration such as 24h or 30m)`);
    policy.usedBefore = now - nanos / 1e6;
  }
  return policy;
}

async function pruneCache(cmd: Command, opts: PruneOptions): Promise<void> {
  const policy = cachePolicy(opts, Date.now());
  const store = await openStore(cmd);
  const { pruneCacheStorage } = await import('../../executor/pruneCacheStorage.js');
  const { records, layers, bytes, busy } = await pruneCacheStorage(store, policy);
  if (busy.length > 0) process.stdout.write(`Kept the build cache: the store is in use by process ${busy.map((p) => p.pid).join(', ')}\n`);
  process.stdout.write(`Deleted ${records} build cache record${records === 1 ? '' : 's'} and ${layers} layer${layers === 1 ? '' : 's'}\n`);
  process.stdout.write(`Total reclaimed space: ${humanSize(bytes)}\n`);
}

export function pruneCommand(program: Command): void {
  withRootOption(program.command('prune'))
    .description('delete blobs no image uses, dead build cache and leftovers of interrupted writes and killed builds; --cache: only build cache records, as buildx prune')
    .option('--cache', 'remove build cache records (all, or those the filters pick) and the layers only they hold')
    .option('--keep-storage <size>', 'with --cache: remove least recently used records until the cache takes at most SIZE (e.g. 500m, 10g)')
    .option('--filter <until=duration>', 'with --cache: remove records last used longer ago than DURATION (e.g. until=24h, until=30m)', collect, [])
    .action(async (opts: PruneOptions, cmd: Command) => {
      if (opts.cache) return pruneCache(cmd, opts);
      if (opts.keepStorage !== undefined || opts.filter.length > 0) throw invalid('--keep-storage and --filter apply to the build cache: add --cache');
      const store = await openStore(cmd);
      // A container's image stays whole while the container exists, named or not.
      const inUse = (await new ContainerStore(store).list()).map((c) => c.record.image.descriptor);
      const { blobs, bytes, busy } = await store.prune(inUse);
      const { pruneBuildCache } = await import('../../executor/pruneBuildCache.js');
      const { cacheEntries, snapshots } = await pruneBuildCache(store);
      if (busy.length > 0) {
        process.stdout.write(`Kept every blob: the store is in use by process ${busy.map((p) => p.pid).join(', ')}\n`);
      }
      process.stdout.write(`Deleted ${blobs} blob${blobs === 1 ? '' : 's'}\n`);
      if (cacheEntries + snapshots > 0) process.stdout.write(`Deleted ${cacheEntries} build cache entries and ${snapshots} unpacked layers\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(bytes)}\n`);
    });
}
