import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';
import { humanSize } from '../humanSize.js';

export function pruneCommand(program: Command): void {
  withRootOption(program.command('prune'))
    .description('delete blobs no image uses and leftovers of interrupted writes')
    .action(async (_opts: unknown, cmd: Command) => {
      const store = await openStore(cmd);
      const { blobs, bytes } = await store.prune();
      process.stdout.write(`Deleted ${blobs} blob${blobs === 1 ? '' : 's'}\nTotal reclaimed space: ${humanSize(bytes)}\n`);
    });
}
