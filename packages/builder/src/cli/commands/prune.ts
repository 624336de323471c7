import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';
import { humanSize } from '../humanSize.js';
import { ContainerStore } from '../../runtime/containerStore.js';

export function pruneCommand(program: Command): void {
  withRootOption(program.command('prune'))
    .description('delete blobs no image uses, dead build cache and leftovers of interrupted writes and killed builds')
    .action(async (_opts: unknown, cmd: Command) => {
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
