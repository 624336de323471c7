import type { Command } from 'commander';
import { attachToConmon } from '../../runtime/attachClient.js';
import { ContainerError } from '../../runtime/containerError.js';
import { observeState, waitForExit } from '../../runtime/containerStatus.js';
import { openContainers } from '../containerStoreOption.js';
import { ExitStatus } from '../exitStatus.js';
import { proxySignals } from '../signalProxy.js';
import { withRootOption } from '../storeOption.js';
import { parseDetachKeys, TerminalSession } from '../terminalSession.js';

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
      const terminal = c.record.tty ? new TerminalSession(c.paths.ctlFifo, parseDetachKeys(opts.detachKeys)) : undefined;
      // With a terminal, ctrl-c is a byte to the container's tty driver, not a signal to us.
      const stopProxy = terminal ? () => {} : proxySignals(c);
      let how: 'exited' | 'detached';
      try {
        await terminal?.sendSize();
        const attachment = await attachToConmon(c.paths.attachSocket, {
          ...(opts.stdin && c.record.openStdin ? { stdin: process.stdin } : {}),
          onOutput: (stream, data) => (stream === 'stdout' ? process.stdout : process.stderr).write(data),
          ...(terminal ? { detachOn: (chunk: Buffer) => terminal.sawDetach(chunk) } : {}),
        });
        how = await attachment.done;
      } finally {
        stopProxy();
        terminal?.end();
      }
      if (how === 'detached') {
        process.stderr.write(`\nDetached from ${c.record.name}; it runs on\n`);
        return;
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
