import type { Command } from 'commander';
import { Option } from 'commander';
import type { RepositoryClient } from '@tsbuild/registry';
import { parseCreds, withCredsOption } from '../credsOption.js';

export interface RemoteOptions {
  tlsVerify: string;
  registriesConf?: string;
  creds?: string;
}

export function withRemoteOptions(cmd: Command): Command {
  return withCredsOption(cmd)
    .addOption(new Option('--tls-verify <bool>', 'require HTTPS with verified certificates (false also allows plain HTTP)').choices(['true', 'false']).default('true'))
    .option('--registries-conf <file>', 'registries.conf to use instead of the standard ones');
}

/** Runs `work` with a client for the repository a docker:// reference names (registries.conf applied, mirrors not used). */
export async function withRepository<T>(reference: string, opts: RemoteOptions, push: boolean, work: (client: RepositoryClient, tagOrDigest: string) => Promise<T>): Promise<T> {
  const { ImageTransports } = await import('@tsbuild/registry');
  const transports = await ImageTransports.create({
    tlsVerify: opts.tlsVerify !== 'false',
    ...(opts.registriesConf ? { registriesConf: opts.registriesConf } : {}),
    ...(opts.creds !== undefined ? { credentials: await parseCreds(opts.creds, '--creds') } : {}),
  });
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
    .action(async (repository: string, opts: RemoteOptions) => {
      const tags = await withRepository(repository, opts, false, (client) => client.listTags());
      process.stdout.write(tags.map((t) => `${t}\n`).join(''));
    });
}
