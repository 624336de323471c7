import type { LocalStore } from '@tsbuild/oci-layout';
import { cleanupContainer } from './cleanupContainer.js';
import { ContainerError } from './containerError.js';
import { NetworkError } from './network/networkError.js';
import type { ContainerState } from './containerRecord.js';
import { observeState, waitForExit } from './containerStatus.js';
import type { ContainerStore, StoredContainer } from './containerStore.js';
import { runtimeKill } from './ociRuntime.js';
import { startContainer } from './startContainer.js';

/** Records that the user, not the container, ended it, so no restart policy brings it back (and, for `restart`, that `--rm` waits). */
async function markStoppedByUser(containers: ContainerStore, c: StoredContainer, restarting = false): Promise<void> {
  const state = await containers.readState(c);
  await containers.writeState(c, { ...state, stoppedByUser: true, restarting });
}

/** A signal to a container that may exit meanwhile: the runtime's "not running" then is no error. */
async function signal(containers: ContainerStore, c: StoredContainer, sig: string, all: boolean): Promise<void> {
  try {
    await runtimeKill(c.record.runtime, c.record.id, sig, all);
  } catch (e) {
    if (!(e instanceof ContainerError) || (await observeState(containers, c)).status === 'running') throw e;
  }
}

/**
 * docker stop: the container's StopSignal, then SIGKILL to every process in
 * it after `timeoutSeconds`; returns once it has exited and been cleaned up.
 */
export async function stopContainer(store: LocalStore, containers: ContainerStore, c: StoredContainer, timeoutSeconds: number, opts: { restarting?: boolean } = {}): Promise<ContainerState | undefined> {
  const state = await observeState(containers, c);
  if (state.status !== 'running') return cleanupContainer(store, containers, c, { fromExitCommand: false });
  await markStoppedByUser(containers, c, opts.restarting ?? false);
  await signal(containers, c, c.record.stopSignal, false);
  if (!(await waitForExit(containers, c, timeoutSeconds * 1000))) {
    await signal(containers, c, 'KILL', true);
    await waitForExit(containers, c);
  }
  return cleanupContainer(store, containers, c, { fromExitCommand: false });
}

/**
 * docker restart: stop (if running), then start again. A `--rm` container
 * is not removed by the stop, as docker keeps it; it keeps `--rm` for its
 * next exit.
 */
export async function restartContainer(store: LocalStore, containers: ContainerStore, c: StoredContainer, timeoutSeconds: number): Promise<void> {
  await stopContainer(store, containers, c, timeoutSeconds, { restarting: true });
  await containers.withContainerLock(c.record.id, async () => {
    const state = await observeState(containers, c);
    await startContainer(store, containers, c, { ...state, stoppedByUser: false, restarting: false });
  });
}

/** docker kill: one signal, no waiting. */
export async function killContainer(containers: ContainerStore, c: StoredContainer, sig: string): Promise<void> {
  const state = await observeState(containers, c);
  if (state.status !== 'running') throw new ContainerError('bad-state', `container ${c.record.name} is not running`);
  await markStoppedByUser(containers, c);
  await signal(containers, c, sig, false);
}

/**
 * docker rm [-f]: a running container only with force (killed first); nothing
 * of it is left. With force, a network its CNI plugins cannot undo does not
 * keep it (podman's way): it is removed and `warn` hears what may remain.
 */
export async function removeContainer(store: LocalStore, containers: ContainerStore, c: StoredContainer, opts: { force: boolean; warn?: (line: string) => void }): Promise<void> {
  const state = await observeState(containers, c);
  if (state.status === 'running') {
    if (!opts.force) throw new ContainerError('bad-state', `container ${c.record.name} is running: stop it first, or use rm -f`);
    await markStoppedByUser(containers, c);
    await signal(containers, c, 'KILL', true);
    await waitForExit(containers, c);
  }
  try {
    await cleanupContainer(store, containers, c, { fromExitCommand: false, forceNetwork: opts.force });
  } catch (e) {
    if (!(e instanceof NetworkError)) throw e;
    if (e.kind !== 'teardown-incomplete') throw opts.force ? e : new NetworkError(e.kind, `${e.message} (rm -f removes the container anyway)`);
    opts.warn?.(`container ${c.record.name} removed, but its network teardown failed: ${e.message}`);
  }
  await containers.remove(c);
}
