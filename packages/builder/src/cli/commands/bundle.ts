import type { Command } from 'commander';
import { createBundle } from '@tsbuild/oci-layout';
import { openStore, withRootOption } from '../storeOption.js';

export function bundleCommand(program: Command): void {
  withRootOption(program.command('bundle'))
    .description('write an OCI runtime bundle (DIR/rootfs + DIR/config.json) that `runc run -b DIR` runs')
    .argument('<image>', 'name or ID of an image in the store')
    .argument('<dir>', 'bundle directory (must not exist or be empty)')
    .action(async (ref: string, dir: string, _opts: unknown, cmd: Command) => {
      const store = await openStore(cmd);
      const image = await store.readImage(ref);
      const bundle = await createBundle(image, dir);
      process.stdout.write(`${bundle.configPath}\n`);
    });
}
