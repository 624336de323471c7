import type { Command } from 'commander';
import { parseImageLocation } from '@tsbuild/oci-layout';
import { withCredsOption } from '../credsOption.js';
import { transfer, withTransferOptions, type TransferOptions } from '../imageTransfer.js';

export function pushCommand(program: Command): void {
  withCredsOption(withTransferOptions(program.command('push')))
    .description('push an image from the store to a registry (default destination: docker://<its name>)')
    .argument('<image>', 'name or ID of an image in the store')
    .argument('[destination]', 'docker://REGISTRY/REPO[:TAG], or any copy destination')
    .action(async (image: string, destination: string | undefined, opts: TransferOptions, cmd: Command) => {
      // Parsed before anything is read, so a bad destination is refused first.
      const target = destination === undefined ? undefined : parseImageLocation(destination);
      await transfer(cmd, opts, { transport: 'store', name: image }, (name) => {
        if (target) return target;
        if (!name) throw new Error(`image ${image} has no name to push it under; give a destination (docker://REGISTRY/REPO:TAG)`);
        return { transport: 'docker', reference: name };
      });
    });
}
