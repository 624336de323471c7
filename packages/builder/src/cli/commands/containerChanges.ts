import type { Command } from 'commander';
import { commitContainer } from '../../runtime/commitContainer.js';
import { containerDiff } from '../../runtime/containerChanges.js';
import { compressionOption } from '../compressionOption.js';
import { openContainers } from '../containerStoreOption.js';
import { withRootOption } from '../storeOption.js';

/** `diff` and `commit`: what a container changed, and that change as an image. */
export function containerChangesCommands(program: Command): void {
  withRootOption(program.command('diff'))
    .description('list the files a container added (A), changed (C) or deleted (D), as docker diff')
    .argument('<container>', 'name or ID')
    .action(async (ref: string, _opts: unknown, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      const lines = await containerDiff(store, await containers.find(ref));
      process.stdout.write(lines.map((l) => `${l.kind} ${l.path}\n`).join(''));
    });

  withRootOption(program.command('commit'))
    .description('create an image from a container\'s changes (one new layer on its image); the container is not paused')
    .argument('<container>', 'name or ID')
    .argument('[image]', 'name for the new image')
    .option('-m, --message <text>', 'commit message (the history comment)')
    .option('-a, --author <name>', 'author, e.g. "Jane <jane@example.com>"')
    .option('-c, --change <instruction>', 'apply a Dockerfile instruction (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD, STOPSIGNAL, USER, VOLUME, WORKDIR)', (v: string, all: string[]) => [...all, v], [] as string[])
    .addOption(compressionOption())
    .action(async (ref: string, image: string | undefined, opts: { message?: string; author?: string; change: string[]; compression: 'gzip' | 'zstd' | 'none' }, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      const c = await containers.find(ref);
      const { digest } = await commitContainer(store, c, image ? [image] : [], {
        changes: opts.change,
        compression: opts.compression,
        ...(opts.message ? { message: opts.message } : {}),
        ...(opts.author ? { author: opts.author } : {}),
      });
      process.stdout.write(`${digest}\n`);
    });
}
