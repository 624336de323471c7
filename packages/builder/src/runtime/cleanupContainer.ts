import { readFile } from 'node:fs/promises';
import { processExists, type LocalStore } from '@tsbuild/oci-layout';
import { allDone } from './allDone.js';
import { disconnectContainer } from './containerNetwork.js';
import type { ContainerState } from './containerRecord.js';
import { unmountContainerRootfs } from './containerRootfs.js';
import { observeIfPresent } from './containerStatus.js';
import type { ContainerStore, StoredContainer } from './containerStore.js';
import { runtimeDelete } from './ociRuntime.js';
import { startContainer } from './startContainer.js';
import { removeAnonymousVolumes, VolumeStore } from './volumeStore.js';

export interface CleanupOptions {
  /** Called as conmon's exit command: apply `--rm` unless a foreground `run` will, and the restart policy. */
  fromExitCommand: boolean;
  /** For `rm -f`: a network the CNI plugins fail to undo is dropped anyway (see teardownNetwork). */
  forceNetwork?: boolean;
}

async function foregroundRunAlive(c: StoredContainer): Promise<boolean> {
  try {
    const pid = Number.parseInt(await readFile(c.paths.attachedFile, 'utf8'), 10);
    return pid > 0 && pid !== process.pid && processExists(pid);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}

function shouldRestart(state: ContainerState, c: StoredContainer): boolean {
  if (state.stoppedByUser) return false;
  const policy = c.record.restart;
  switch (policy.kind) {
    case 'no':
      return false;
    case 'always':
    case 'unless-stopped':
      return true;
    case 'on-failure':
      return state.exitCode !== 0 && (policy.maxRetries === 0 || state.restartCount < policy.maxRetries);
  }
}

/**
 * After a container exited: the runtime's container (and its cgroup),
 * network and rootfs mount go, the final state is recorded; then `--rm`
 * removes it or the restart policy starts it again. Idempotent and
 * serialised per container, since conmon's exit command and the CLI may
 * both get here. Returns the final state, or undefined once removed.
 */
export async function cleanupContainer(store: LocalStore, containers: ContainerStore, c: StoredContainer, opts: CleanupOptions): Promise<ContainerState | undefined> {
  // A foreground `run` still attached cleans up after its container itself: the exit command would
  // only do the same work twice, holding the lock the CLI waits on. It has a restart policy to apply at most.
  if (opts.fromExitCommand && (await foregroundRunAlive(c))) {
    const state = await observeIfPresent(containers, c);
    if (!state || state.status === 'running' || (c.record.autoRemove && !state.restarting) || !shouldRestart(state, c)) return state;
  }
  return containers.withContainerLock(c.record.id, async () => {
    const state = await observeIfPresent(containers, c);
    if (!state) return undefined;
    if (state.status === 'running') return state;
    await allDone([runtimeDelete(c.record.runtime, c.record.id), disconnectContainer(store.root, c.record, { force: opts.forceNetwork ?? false }), unmountContainerRootfs(c.paths)]);
    if (c.record.autoRemove && !state.restarting) {
      await containers.remove(c);
      await removeAnonymousVolumes(new VolumeStore(store), containers, c.record);
      return undefined;
    }
    await containers.writeState(c, state);
    if (opts.fromExitCommand && shouldRestart(state, c)) {
      return startContainer(store, containers, c, { ...state, restartCount: state.restartCount + 1 });
    }
    return state;
  });
}
