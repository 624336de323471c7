import type { Command } from 'commander';
import { parseDigest } from '@tsbuild/oci-layout';
import type { RegistryOptions } from '../registryOptions.js';
import { withRemoteOptions, withRepository } from '../remoteRepository.js';

export function deleteCommand(program: Command): void {
  withRemoteOptions(program.command('delete'))
    .description('delete an image (its manifest, with every tag pointing at it) from a registry')
    .argument('<reference>', 'docker://REGISTRY/REPO:TAG or @DIGEST')
    .action(async (reference: string, opts: RegistryOptions) => {
      await withRepository(reference, opts, true, async (client, tagOrDigest) => {
        const digest = tagOrDigest.includes(':') ? parseDigest(tagOrDigest) : (await client.headManifest(tagOrDigest))?.digest;
        if (!digest) throw new Error(`${reference} not found in the registry`);
        await client.deleteManifest(digest);
        process.stdout.write(`Deleted ${digest}\n`);
      });
    });
}
