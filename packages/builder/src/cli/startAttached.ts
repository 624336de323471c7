import type { LocalStore } from '@tsbuild/oci-layout';
import { observeState } from '../runtime/containerStatus.js';
import type { ContainerStore, StoredContainer } from '../runtime/containerStore.js';
import { startContainer } from '../runtime/startContainer.js';
import { attachStdio, followAttachment, type StdioAttachment } from './stdioAttachment.js';

/**
 * `start -a [-i]`: attached before the process starts, so all its output
 * arrives (a running one: attached, as docker does); ends with the container's exit code (or on the detach keys).
 */
export async function startAttached(store: LocalStore, containers: ContainerStore, c: StoredContainer, opts: { stdin: boolean; detachKeys: string }): Promise<void> {
  // As docker: -i passes stdin on only to a container run with -i.
  const attachOpts = { stdin: opts.stdin && c.record.openStdin, detachKeys: opts.detachKeys };
  let attachment: StdioAttachment | undefined;
  const attach = async () => {
    attachment = await attachStdio(c, attachOpts);
  };
  try {
    await containers.withContainerLock(c.record.id, async () => {
      const state = await observeState(containers, c);
      // Already running: docker's start -a just attaches.
      if (state.status === 'running') await attach();
      else await startContainer(store, containers, c, { ...state, stoppedByUser: false }, { beforeStart: attach });
    });
  } catch (e) {
    attachment?.end();
    throw e;
  }
  await followAttachment(containers, c, attachment!);
}
