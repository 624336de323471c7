import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';
import { ContainerError } from '../../runtime/containerError.js';
import { ContainerStore } from '../../runtime/containerStore.js';

export function rmiCommand(program: Command): void {
  withRootOption(program.command('rmi'))
    .description('remove image names from the store (blobs go with `prune`)')
    .argument('<image...>', 'names or IDs')
    .option('-f, --force', 'remove the name even when a container uses the image')
    .action(async (refs: string[], opts: { force?: boolean }, cmd: Command) => {
      const store = await openStore(cmd);
      const containers = await new ContainerStore(store).list();
      for (const ref of refs) {
        const image = await store.resolve(ref);
        const otherNames = (await store.list()).filter((i) => i.descriptor.digest === image.descriptor.digest && i.name !== image.name);
        const user = containers.find((c) => c.record.image.descriptor.digest === image.descriptor.digest);
        if (user && otherNames.length === 0 && !opts.force) {
          throw new ContainerError('bad-state', `image ${image.name} is used by container ${user.record.name} (${user.record.id.slice(0, 12)}): remove the container first, or use rmi -f`);
        }
        const removed = await store.untag(ref);
        process.stdout.write(removed.name === undefined ? `Deleted: ${removed.descriptor.digest}\n` : `Untagged: ${removed.name}\n`);
      }
    });
}
