import type { Command } from 'commander';
import { ToolError } from '@tsbuild/oci-layout';
import { cleanupContainer } from '../../runtime/cleanupContainer.js';
import { ContainerError } from '../../runtime/containerError.js';
import { connectedNetwork } from '../../runtime/containerNetwork.js';
import { observeState } from '../../runtime/containerStatus.js';
import { removeContainer } from '../../runtime/stopContainer.js';
import { openContainers } from '../containerStoreOption.js';
import { inspectView } from '../containerView.js';
import { withRootOption } from '../storeOption.js';

export async function inspectContainers(cmd: Command, refs: string[]): Promise<void> {
  const { store, containers } = await openContainers(cmd);
  const out = [];
  for (const ref of refs) {
    const c = await containers.find(ref);
    const state = await observeState(containers, c);
    // As docker: a container that is not running has no address or bindings, even before its cleanup ran.
    out.push(await inspectView(c, state, state.status === 'running' ? await connectedNetwork(store.root, c.record) : undefined));
  }
  process.stdout.write(`${JSON.stringify(out, null, 2)}\n`);
}

/** `tsbuild container ...`: inspect, prune, and the cleanup conmon calls when a container exits. */
export function containerCommand(program: Command): void {
  const group = withRootOption(program.command('container')).description('manage containers');

  withRootOption(group.command('inspect'))
    .description('show containers as JSON, in docker inspect\'s shape')
    .argument('<container...>', 'names or IDs')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => inspectContainers(cmd, refs));

  withRootOption(group.command('prune'))
    .description('remove every container that is not running')
    .action(async (_opts: unknown, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      for (const c of await containers.list()) {
        if ((await observeState(containers, c)).status === 'running') continue;
        await removeContainer(store, containers, c, { force: false });
        process.stdout.write(`${c.record.id}\n`);
      }
    });

  withRootOption(group.command('cleanup'))
    .description('(internal) conmon\'s exit command: unmount, record the exit, apply --rm and --restart')
    .argument('<id>', 'container ID')
    .action(async (id: string, _opts: unknown, cmd: Command) => {
      // Never makes a store: conmon runs this after the container exits, and by then its whole
      // store may be going (`rm -f`, then the root deleted), which a store made anew would undo.
      let opened;
      try {
        opened = await openContainers(cmd, { create: false });
      } catch (e) {
        if (e instanceof ToolError && e.kind === 'not-an-oci-layout') return;
        throw e;
      }
      const { store, containers } = opened;
      let c;
      try {
        c = await containers.find(id);
      } catch (e) {
        // Already removed by the foreground `run` or `rm`: nothing left to clean.
        if (e instanceof ContainerError && e.kind === 'not-found') return;
        throw e;
      }
      await cleanupContainer(store, containers, c, { fromExitCommand: true });
    });

  for (const sub of group.commands) sub.exitOverride();
}
