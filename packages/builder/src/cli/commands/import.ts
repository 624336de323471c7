import { Option, type Command } from 'commander';
import { compressionOption } from '../compressionOption.js';
import { parseEpoch } from '../sourceDateEpoch.js';
import { openStore, withRootOption } from '../storeOption.js';

export function importCommand(program: Command): void {
  withRootOption(program.command('import'))
    .description('create a one-layer base image from a root filesystem tarball (like `docker import`)')
    .argument('<tarball>', 'rootfs tar (plain, gzip or zstd), or - for standard input')
    .argument('<name...>', 'image names')
    .addOption(compressionOption())
    .option('-m, --message <text>', 'history comment')
    .addOption(new Option('--source-date-epoch <seconds>', 'creation time of the image, for reproducible imports').env('SOURCE_DATE_EPOCH'))
    .action(async (tarball: string, names: string[], opts: { compression: 'gzip' | 'zstd' | 'none'; message?: string; sourceDateEpoch?: string }, cmd: Command) => {
      const store = await openStore(cmd);
      const created = parseEpoch(opts.sourceDateEpoch);
      const { importRootfs } = await import('../../executor/importRootfs.js');
      const { digest } = await importRootfs(store, tarball, names, {
        compression: opts.compression,
        ...(opts.message ? { message: opts.message } : {}),
        ...(created !== undefined ? { created } : {}),
      });
      process.stdout.write(`${digest}\n`);
    });
}
