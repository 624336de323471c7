import type { Command } from 'commander';
import { openStore, withRootOption } from '../storeOption.js';

export function tagCommand(program: Command): void {
  withRootOption(program.command('tag'))
    .description('give an image one or more additional names')
    .argument('<source>', 'name or ID of an image in the store')
    .argument('<target...>', 'new names (short names become localhost/NAME:latest)')
    .action(async (source: string, targets: string[], _opts: unknown, cmd: Command) => {
      const store = await openStore(cmd);
      const { descriptor } = await store.resolve(source);
      await store.tag(descriptor, targets);
    });
}
