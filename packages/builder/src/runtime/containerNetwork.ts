import type { ContainerRecord } from './containerRecord.js';
import { writeHostsFile } from './etcFiles.js';
import { netnsPathFor } from './network/networkNamespace.js';
import { readContainerNetwork, type ContainerNetwork } from './network/recordedNetwork.js';

/** The CNI plugins, IPAM and iptables code: loaded to connect or disconnect a container, never by ps, port or inspect (#14). */
const cni = () => import('./network/containerNetwork.js');

/**
 * Where the container lifecycle meets the CNI module: `start` connects a
 * container before the runtime creates it, cleanup (possibly in conmon's exit
 * command, another process) disconnects it after it exited, so nothing is
 * kept in memory between them; the network module's own state file says
 * what to undo.
 *
 * Only `bridge` has work here: `none` gets a fresh namespace from runc
 * (loopback only) and `host` shares ours.
 */

/** The netns the spec joins: `<root>/netns/<id>`, made at each start (it does not survive a stop). */
export function networkNamespacePath(root: string, record: Pick<ContainerRecord, 'id' | 'network'>): string | undefined {
  return record.network === 'bridge' ? netnsPathFor(root, record.id) : undefined;
}

/**
 * Puts a container on the bridge with its published ports and names its
 * address in its /etc/hosts. A network a crash or an unfinished cleanup left
 * behind is torn down first, as `start` deletes a leftover runtime container,
 * unless the container is `fresh` (made a moment ago: it never had one).
 * `onNetns` hears when the namespace exists, before its interfaces do.
 * On failure nothing is left and the NetworkError (exit 125) is thrown.
 */
export async function connectContainer(root: string, record: ContainerRecord, hostsFile: string, opts: { fresh: boolean; onNetns?: () => void }): Promise<void> {
  if (record.network !== 'bridge') return;
  const { setupNetwork, teardownNetwork } = await cni();
  if (!opts.fresh) await teardownNetwork(root, record.id);
  const net = await setupNetwork({ root, containerId: record.id, mode: 'bridge', ports: record.ports, ...(opts.onNetns ? { onNetns: opts.onNetns } : {}) });
  try {
    await writeHostsFile(hostsFile, record.config.Hostname, net.ipAddress);
  } catch (e) {
    await teardownNetwork(root, record.id);
    throw e;
  }
}

/** Undoes connectContainer; idempotent, so cleanup, `rm` and a failed start may all call it. */
export async function disconnectContainer(root: string, record: Pick<ContainerRecord, 'id' | 'network'>): Promise<void> {
  if (record.network === 'bridge') await (await cni()).teardownNetwork(root, record.id);
}

/** The container's network while it is connected (inspect, ps, port); undefined otherwise. */
export async function connectedNetwork(root: string, record: Pick<ContainerRecord, 'id' | 'network'>): Promise<ContainerNetwork | undefined> {
  return record.network === 'bridge' ? readContainerNetwork(root, record.id) : undefined;
}
