import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';
import { humanSize } from '../humanSize.js';

export function pruneCommand(program: Command): void {
  withRootOption(program.command('prune'))
    .description('delete blobs no image uses, dead build cache and leftovers of interrupted writes')
    .action(async (_opts: unknown, cmd: Command) => {
      const store = await openStore(cmd);
      const { blobs, bytes } = await store.prune();
      const { pruneBuildCache } = await import('../../executor/pruneBuildCache.js');
      const { cacheEntries, snapshots } = await pruneBuildCache(store);
      process.stdout.write(`Deleted ${blobs} blob${blobs === 1 ? '' : 's'}\n`);
      if (cacheEntries + snapshots > 0) process.stdout.write(`Deleted ${cacheEntries} build cache entries and ${snapshots} unpacked layers\n`);
      process.stdout.write(`Total reclaimed space: ${humanSize(bytes)}\n`);
    });
}
