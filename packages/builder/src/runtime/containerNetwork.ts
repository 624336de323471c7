import type { ContainerRecord } from './containerRecord.js';
import { writeHostsFile } from './etcFiles.js';
import { netnsPathFor } from './network/networkNamespace.js';
import { readContainerNetwork, type ContainerNetwork } from './network/recordedNetwork.js';

/** The CNI plugins, IPAM and iptables code: loaded to connect or disconnect a container, never by ps, port or inspect (#14). */
const cni = () => import('./network/containerNetwork.js');

/**
 * Where the container lifecycle meets the CNI module: `start` (and `run`,
 * from the moment the record exists) connects a container while the runtime
 * creates it, cleanup (possibly in conmon's exit command, another process)
 * disconnects it after it exited, so nothing is kept in memory between them;
 * the network module's own state file says what to undo.
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
async function connectContainer(root: string, record: ContainerRecord, hostsFile: string, opts: { fresh: boolean; onNetns?: () => void }): Promise<void> {
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

/**
 * A connectContainer under way, begun before the runtime creates the container
 * (by startContainer, or by createContainer for `run`, while the rootfs is
 * mounted and the spec written): whoever began it hands it on and the one who
 * takes it over waits for it or undoes it.
 */
export class ContainerConnection {
  /** Resolves once the container is connected; rejects with connectContainer's error. */
  readonly done: Promise<void>;
  private readonly netnsMade: Promise<void>;
  /** Never rejects: what undo waits for, and what keeps an early failure from counting as unhandled while nobody awaits `done` yet. */
  private readonly ended: Promise<unknown>;
  private undone?: Promise<void>;

  constructor(private readonly root: string, private readonly record: ContainerRecord, hostsFile: string, opts: { fresh: boolean }) {
    let netnsReady = () => {};
    this.netnsMade = new Promise<void>((resolve) => (netnsReady = resolve));
    this.done = connectContainer(root, record, hostsFile, { fresh: opts.fresh, onNetns: netnsReady });
    this.ended = Promise.allSettled([this.done]);
  }

  /** Resolves once the netns exists (the runtime may join it by path) or the container is connected; rejects if connecting failed first. */
  netns(): Promise<void> {
    return Promise.race([this.netnsMade, this.done]);
  }

  /** Waits for connecting to end, then undoes what it made; once, however many rollbacks ask. */
  undo(): Promise<void> {
    this.undone ??= this.ended.then(() => disconnectContainer(this.root, this.record));
    return this.undone;
  }
}

/** Undoes connectContainer; idempotent, so cleanup, `rm` and a failed start may all call it. `force`: see teardownNetwork. */
export async function disconnectContainer(root: string, record: Pick<ContainerRecord, 'id' | 'network'>, opts: { force?: boolean } = {}): Promise<void> {
  if (record.network === 'bridge') await (await cni()).teardownNetwork(root, record.id, opts);
}

/** The container's network while it is connected (inspect, ps, port); undefined otherwise. */
export async function connectedNetwork(root: string, record: Pick<ContainerRecord, 'id' | 'network'>): Promise<ContainerNetwork | undefined> {
  return record.network === 'bridge' ? readContainerNetwork(root, record.id) : undefined;
}
