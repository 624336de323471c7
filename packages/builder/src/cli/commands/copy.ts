import type { Command } from 'commander';
import { parseImageLocation } from '@tsbuild/oci-layout';
import { transfer, withTransferOptions, type TransferOptions } from '../imageTransfer.js';

export function copyCommand(program: Command): void {
  withTransferOptions(program.command('copy'))
    .description('copy an image between registries (docker://), OCI layouts (oci:DIR[:REF]), archives (oci-archive:, docker-archive:) and the store (plain names)')
    .argument('<source>', 'where the image is')
    .argument('<destination>', 'where to write it')
    .option('--src-creds <USERNAME[:PASSWORD]>', 'credentials for the source registry, instead of stored ones (asks for the password when missing)')
    .option('--dest-creds <USERNAME[:PASSWORD]>', 'credentials for the destination registry, instead of stored ones (asks for the password when missing)')
    .action(async (src: string, dst: string, opts: TransferOptions, cmd: Command) => {
      await transfer(cmd, opts, parseImageLocation(src), parseImageLocation(dst));
    });
}
