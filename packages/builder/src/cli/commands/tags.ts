import type { Command } from 'commander';
import type { RegistryOptions } from '../registryOptions.js';
import { withRemoteOptions, withRepository } from '../remoteRepository.js';

export function tagsCommand(program: Command): void {
  withRemoteOptions(program.command('tags'))
    .description('list the tags of a registry repository')
    .argument('<repository>', 'docker://REGISTRY/REPO')
    .action(async (repository: string, opts: RegistryOptions) => {
      const tags = await withRepository(repository, opts, false, (client) => client.listTags());
      process.stdout.write(tags.map((t) => `${t}\n`).join(''));
    });
}
