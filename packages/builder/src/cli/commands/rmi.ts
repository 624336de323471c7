import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';

export function rmiCommand(program: Command): void {
  withRootOption(program.command('rmi'))
    .description('remove image names from the store (blobs go with `prune`)')
    .argument('<image...>', 'names or IDs')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      const store = await openStore(cmd);
      for (const ref of refs) {
        const removed = await store.untag(ref);
        process.stdout.write(removed.name === undefined ? `Deleted: ${removed.descriptor.digest}\n` : `Untagged: ${removed.name}\n`);
      }
    });
}
