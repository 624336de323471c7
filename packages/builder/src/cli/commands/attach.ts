import type { Command } from 'commander';
import { attachToConmon } from '../../runtime/attachClient.js';
import { ContainerError } from '../../runtime/containerError.js';
import { observeState, waitForExit } from '../../runtime/containerStatus.js';
import { openContainers } from '../containerStoreOption.js';
import { ExitStatus } from '../exitStatus.js';
import { proxySignals } from '../signalProxy.js';
import { withRootOption } from '../storeOption.js';

export function attachCommand(program: Command): void {
  withRootOption(program.command('attach'))
    .description('attach to a running container: its output from now on, our stdin to it (when started with -i)')
    .argument('<container>', 'name or ID')
    .option('--no-stdin', 'do not pass stdin on')
    .action(async (ref: string, opts: { stdin: boolean }, cmd: Command) => {
      const { containers } = await openContainers(cmd);
      const c = await containers.find(ref);
      if ((await observeState(containers, c)).status !== 'running') throw new ContainerError('bad-state', `container ${c.record.name} is not running`);
      const attachment = await attachToConmon(c.paths.attachSocket, {
        ...(opts.stdin && c.record.openStdin ? { stdin: process.stdin } : {}),
        onOutput: (stream, data) => (stream === 'stdout' ? process.stdout : process.stderr).write(data),
      });
      const stopProxy = proxySignals(c);
      try {
        await attachment.done;
      } finally {
        stopProxy();
      }
      let state;
      try {
        state = await waitForExit(containers, c);
      } catch (e) {
        // Removed as it exited (`--rm`): its exit code went with it.
        if (!(e instanceof ContainerError && e.kind === 'not-found')) throw e;
      }
      if (state && state.exitCode !== 0) throw new ExitStatus(state.exitCode < 0 ? 125 : state.exitCode);
    });
}
