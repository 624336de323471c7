import type { Command } from 'commander';
import { ContainerError } from '../../runtime/containerError.js';
import { copyFromContainer, copyIntoContainer, parseCopyEndpoint } from '../../runtime/containerCopy.js';
import { openContainers } from '../containerStoreOption.js';
import { withRootOption } from '../storeOption.js';

/** `tsbuild cp`: files between a container (running or stopped) and the host, docker cp's rules. */
export function copyFilesCommand(program: Command): void {
  withRootOption(program.command('cp'))
    .description('copy files between a container and the host (CTR:PATH DEST, SRC CTR:PATH; - is a tar stream on stdout/stdin)')
    .argument('<src>', 'CONTAINER:PATH, a host path, or - (a tar stream on stdin)')
    .argument('<dest>', 'CONTAINER:PATH, a host path, or - (a tar stream on stdout)')
    .option('-a, --archive', 'keep uid/gid of the files (otherwise they belong to whoever receives them)', false)
    .option('-L, --follow-link', 'follow a symlink given as the source', false)
    .action(async (srcArg: string, destArg: string, opts: { archive: boolean; followLink: boolean }, cmd: Command) => {
      const src = parseCopyEndpoint(srcArg);
      const dest = parseCopyEndpoint(destArg);
      const copyOpts = { archive: opts.archive, followLink: opts.followLink };
      const { store, containers } = await openContainers(cmd);
      if (src.kind === 'container' && dest.kind !== 'container') {
        await copyFromContainer(store, await containers.find(src.container), src.path, dest, process.stdout, copyOpts);
      } else if (dest.kind === 'container' && src.kind !== 'container') {
        await copyIntoContainer(store, await containers.find(dest.container), src, dest.path, process.stdin, copyOpts);
      } else {
        throw new ContainerError('invalid-option', 'cp needs exactly one CONTAINER:PATH, the other side a host path or -');
      }
    });
}
