import type { Command } from 'commander';
import type { RepositoryClient } from '@tsbuild/registry';
import { withCredsOption } from '../credsOption.js';
import { registryTransportOptions, withRegistryOptions, type RegistryOptions } from '../registryOptions.js';

export function withRemoteOptions(cmd: Command): Command {
  return withRegistryOptions(withCredsOption(cmd));
}

/** Runs `work` with a client for the repository a docker:// reference names (registries.conf applied, mirrors not used). */
export async function withRepository<T>(reference: string, opts: RegistryOptions, push: boolean, work: (client: RepositoryClient, tagOrDigest: string) => Promise<T>): Promise<T> {
  const { ImageTransports } = await import('@tsbuild/registry');
  const transports = await ImageTransports.create(await registryTransportOptions(opts));
  try {
    const ref = reference.replace(/^docker:\/\//, '');
    const [target, ...more] = transports.resolveDockerReference(ref, true);
    if (!target || more.length > 0) throw new Error(`"${reference}" must name its registry (registry/repository)`);
    return await work(transports.repository(target.candidates[0]!, push), target.name.digest ?? target.name.tag ?? 'latest');
  } finally {
    await transports.close();
  }
}

export function tagsCommand(program: Command): void {
  withRemoteOptions(program.command('tags'))
    .description('list the tags of a registry repository')
    .argument('<repository>', 'docker://REGISTRY/REPO')
    .action(async (repository: string, opts: RegistryOptions) => {
      const tags = await withRepository(repository, opts, false, (client) => client.listTags());
      process.stdout.write(tags.map((t) => `${t}\n`).join(''));
    });
}
