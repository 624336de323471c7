import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';
import { humanSize } from '../humanSize.js';

export function pruneCommand(program: Command): void {
  withRootOption(program.command('prune'))
    .description('delete blobs no image uses, dead build cache and leftovers of interrupted writes and killed builds')
    .action(async (_opts: unknown, cmd: Command) => {
      const store = await openStore(cmd);
      const { blobs, bytes, busy } = await store.prune();
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
