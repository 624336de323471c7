import type { Command } from 'commander';
import { withCredsOption } from '../credsOption.js';
import { transfer, withTransferOptions, type TransferOptions } from './copy.js';

export function pullCommand(program: Command): void {
  withCredsOption(withTransferOptions(program.command('pull')))
    .description('pull an image from a registry into the store, named by its fully qualified reference')
    .argument('<reference>', 'REGISTRY/REPO[:TAG|@DIGEST] (short names go through registries.conf)')
    .action(async (reference: string, opts: TransferOptions, cmd: Command) => {
      await transfer(cmd, opts, { transport: 'docker', reference: reference.replace(/^docker:\/\//, '') }, (name) => ({ transport: 'store', name: name! }));
    });
}
