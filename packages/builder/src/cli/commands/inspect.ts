import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';

export function inspectCommand(program: Command): void {
  withRootOption(program.command('inspect'))
    .description('show an image\'s manifest and config as JSON')
    .argument('<image>', 'name or ID of an image in the store')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const store = await openStore(cmd);
      const { name, descriptor } = await store.resolve(ref);
      const image = await store.layout.readImage(descriptor);
      const out = { name, digest: image.manifestDigest, manifest: image.manifest, config: image.config };
      process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
    });
}
