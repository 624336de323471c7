import type { Command } from 'commander';
import { formatImageLocation, ImageLocationError, parseImageLocation } from '@tsbuild/oci-layout';
import { withCredsOption } from '../credsOption.js';
import { transfer, withTransferOptions, type TransferOptions } from '../imageTransfer.js';

/** The registry reference `pull` reads: `docker://REF`, or a plain reference (podman's and docker's spelling). */
function pulledReference(text: string): string {
  const loc = parseImageLocation(text);
  if (loc.transport === 'docker') return loc.reference;
  if (loc.transport === 'store') return loc.name;
  throw new ImageLocationError('invalid-location', `pull reads from a registry, not ${formatImageLocation(loc)} (use tsbuild copy ${text} NAME)`);
}

export function pullCommand(program: Command): void {
  withCredsOption(withTransferOptions(program.command('pull')))
    .description('pull an image from a registry into the store, named by its fully qualified reference')
    .argument('<reference>', 'REGISTRY/REPO[:TAG|@DIGEST] (short names go through registries.conf)')
    .action(async (reference: string, opts: TransferOptions, cmd: Command) => {
      await transfer(cmd, opts, { transport: 'docker', reference: pulledReference(reference) }, (name) => ({ transport: 'store', name: name! }));
    });
}
