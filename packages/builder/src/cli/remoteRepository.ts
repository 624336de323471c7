import type { Command } from 'commander';
import { formatImageLocation, ImageLocationError, parseImageLocation } from '@tsbuild/oci-layout';
import type { RepositoryClient } from '@tsbuild/registry';
import { withCredsOption } from './credsOption.js';
import { registryTransportOptions, withRegistryOptions, type RegistryOptions } from './registryOptions.js';

/** The options of the commands that talk to one registry repository (tags, delete). */
export function withRemoteOptions(cmd: Command): Command {
  return withRegistryOptions(withCredsOption(cmd));
}

/** The registry reference `text` names: `docker://REF`, or a plain reference. */
function dockerReference(text: string): string {
  const loc = parseImageLocation(text);
  if (loc.transport === 'docker') return loc.reference;
  if (loc.transport === 'store') return loc.name;
  throw new ImageLocationError('invalid-location', `${formatImageLocation(loc)} is not a registry repository (docker://REGISTRY/REPO)`);
}

/** Runs `work` with a client for the repository a docker:// reference names (registries.conf applied, mirrors not used). */
export async function withRepository<T>(reference: string, opts: RegistryOptions, push: boolean, work: (client: RepositoryClient, tagOrDigest: string) => Promise<T>): Promise<T> {
  const ref = dockerReference(reference);
  const { ImageTransports } = await import('@tsbuild/registry');
  const transports = await ImageTransports.create(await registryTransportOptions(opts));
  try {
    const [target, ...more] = transports.resolveDockerReference(ref, true);
    if (!target || more.length > 0) throw new Error(`"${reference}" must name its registry (registry/repository)`);
    return await work(transports.repository(target.candidates[0]!, push), target.name.digest ?? target.name.tag ?? 'latest');
  } finally {
    await transports.close();
  }
}
