import type { Command } from 'commander';
import { ContainerError } from '../../runtime/containerError.js';
import { observeState } from '../../runtime/containerStatus.js';
import { openContainers } from '../containerStoreOption.js';
import { withRootOption } from '../storeOption.js';
import { attachStdio, followAttachment } from '../stdioAttachment.js';

export function attachCommand(program: Command): void {
  withRootOption(program.command('attach'))
    .description('attach to a running container: its output from now on, our stdin to it (when started with -i)')
    .argument('<container>', 'name or ID')
    .option('--no-stdin', 'do not pass stdin on')
    .option('--detach-keys <keys>', 'key sequence that detaches from a terminal', 'ctrl-p,ctrl-q')
    .action(async (ref: string, opts: { stdin: boolean; detachKeys: string }, cmd: Command) => {
      const { containers } = await openContainers(cmd);
      const c = await containers.find(ref);
      if ((await observeState(containers, c)).status !== 'running') throw new ContainerError('bad-state', `container ${c.record.name} is not running`);
      const attachment = await attachStdio(c, { stdin: opts.stdin && c.record.openStdin, detachKeys: opts.detachKeys });
      await followAttachment(containers, c, attachment);
    });
}
