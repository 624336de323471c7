import type { Command } from 'commander';
import type { LocalStore } from '@tsbuild/oci-layout';
import type { ContainerStore, StoredContainer } from '../../runtime/containerStore.js';
import { removeAnonymousVolumes, VolumeStore } from '../../runtime/volumeStore.js';
import { ContainerError } from '../../runtime/containerError.js';
import { observeState, waitForExit } from '../../runtime/containerStatus.js';
import { parseSignal } from '../../runtime/runOptions.js';
import { runtimeProcesses } from '../../runtime/ociRuntime.js';
import { startContainer } from '../../runtime/startContainer.js';
import { killContainer, removeContainer, restartContainer, stopContainer } from '../../runtime/stopContainer.js';
import { openContainers } from '../containerStoreOption.js';
import { ExitStatus } from '../exitStatus.js';
import { startAttached } from '../startAttached.js';
import { withRootOption } from '../storeOption.js';

function parseSeconds(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0) throw new ContainerError('invalid-option', `invalid --time ${JSON.stringify(text)}: expected whole seconds`);
  return n;
}

/** `stop` and `restart`: the same arguments and stop timeout (-t, else the container's own), a different act per container. */
function stoppingCommand(program: Command, name: string, description: string, act: (store: LocalStore, containers: ContainerStore, c: StoredContainer, timeoutSeconds: number) => Promise<unknown>): void {
  withRootOption(program.command(name))
    .description(description)
    .argument('<container...>', 'names or IDs')
    .option(STOP_TIME_FLAGS, STOP_TIME_HELP)
    .action(async (refs: string[], opts: { time?: string }, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      await forEachRef(refs, async (ref) => {
        const c = await containers.find(ref);
        await act(store, containers, c, opts.time !== undefined ? parseSeconds(opts.time) : c.record.stopTimeout);
      });
    });
}

/**
 * Acts on each named container in turn and prints its name, as docker does. With several, one
 * that fails is reported in one line and the others are still acted on; the exit status is then 1.
 */
async function forEachRef(refs: string[], act: (ref: string) => Promise<void>): Promise<void> {
  let failed = 0;
  for (const ref of refs) {
    try {
      await act(ref);
      process.stdout.write(`${ref}\n`);
    } catch (e) {
      if (refs.length === 1) throw e;
      process.stderr.write(`tsbuild: error: ${(e as Error).message}\n`);
      failed++;
    }
  }
  if (failed > 0) throw new ExitStatus(1);
}

const STOP_TIME_FLAGS = '-t, --time <seconds>';
const STOP_TIME_HELP = "seconds to wait before SIGKILL (default: the container's --stop-timeout)";

/** start, stop, restart, kill, top, wait and rm: each takes containers by name or ID and prints what it acted on, as docker does. */
export function lifecycleCommands(program: Command): void {
  withRootOption(program.command('start'))
    .description('start created or exited containers in the background (with -a: in the foreground, exiting with its code)')
    .argument('<container...>', 'names or IDs')
    .option('-a, --attach', 'attach our stdout and stderr and exit with the container\'s code')
    .option('-i, --interactive', 'with -a: pass our stdin on (the container must have been run with -i)')
    .option('--detach-keys <keys>', 'key sequence that detaches from a terminal', 'ctrl-p,ctrl-q')
    .action(async (refs: string[], opts: { attach?: boolean; interactive?: boolean; detachKeys: string }, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      if (opts.attach || opts.interactive) {
        if (refs.length !== 1) throw new ContainerError('invalid-option', 'start -a/-i takes exactly one container');
        await startAttached(store, containers, await containers.find(refs[0]!), { stdin: opts.interactive ?? false, detachKeys: opts.detachKeys });
        return;
      }
      for (const ref of refs) {
        const c = await containers.find(ref);
        await containers.withContainerLock(c.record.id, async () => {
          const state = await observeState(containers, c);
          if (state.status !== 'running') await startContainer(store, containers, c, { ...state, stoppedByUser: false });
        });
        process.stdout.write(`${ref}\n`);
      }
    });

  stoppingCommand(program, 'stop', 'stop running containers: their stop signal, then SIGKILL after the timeout', stopContainer);
  stoppingCommand(program, 'restart', 'stop (if running) and start containers again', restartContainer);

  withRootOption(program.command('kill'))
    .description('send a signal to running containers')
    .argument('<container...>', 'names or IDs')
    .option('-s, --signal <signal>', 'signal name or number', 'KILL')
    .action(async (refs: string[], opts: { signal: string }, cmd: Command) => {
      const { containers } = await openContainers(cmd);
      const sig = parseSignal(opts.signal);
      await forEachRef(refs, async (ref) => killContainer(containers, await containers.find(ref), sig.name));
    });

  withRootOption(program.command('top'))
    .description('list the processes of a running container (ps -ef, or the ps options given)')
    .passThroughOptions()
    .argument('<container>', 'name or ID')
    .argument('[ps-options...]', 'options for ps (default: -ef)')
    .action(async (ref: string, psOptions: string[], _opts: unknown, cmd: Command) => {
      const { containers } = await openContainers(cmd);
      const c = await containers.find(ref);
      if ((await observeState(containers, c)).status !== 'running') throw new ContainerError('bad-state', `container ${c.record.name} is not running`);
      process.stdout.write(await runtimeProcesses(c.record.runtime, c.record.id, psOptions.length ? psOptions : ['-ef']));
    });

  withRootOption(program.command('wait'))
    .description('wait until containers exit and print their exit codes')
    .argument('<container...>', 'names or IDs')
    .action(async (refs: string[], _opts: unknown, cmd: Command) => {
      const { containers } = await openContainers(cmd);
      for (const ref of refs) {
        const state = await waitForExit(containers, await containers.find(ref));
        process.stdout.write(`${state!.exitCode}\n`);
      }
    });

  withRootOption(program.command('rm'))
    .description('remove containers: their state, logs, rootfs changes and runtime leftovers')
    .argument('<container...>', 'names or IDs')
    .option('-f, --force', 'kill running ones first')
    .option('-v, --volumes', 'remove their anonymous volumes too')
    .action(async (refs: string[], opts: { force?: boolean; volumes?: boolean }, cmd: Command) => {
      const { store, containers } = await openContainers(cmd);
      await forEachRef(refs, async (ref) => {
        const c = await containers.find(ref);
        await removeContainer(store, containers, c, { force: opts.force ?? false, warn: (line) => process.stderr.write(`WARNING: ${line}\n`) });
        if (opts.volumes) await removeAnonymousVolumes(new VolumeStore(store), containers, c.record);
      });
    });
}
