import { mkdir } from 'node:fs/promises';
import { withFileLock } from '@tsbuild/oci-layout';
import { bridgeSubnets, defaultBridgeNetwork, HOST_NETWORK_DIR, loadConfList, networksDir, type BridgeNetwork } from './bridgeNetwork.js';
import { addConfList, delConfList } from './cniConfList.js';
import { invokePlugin } from './cniPlugin.js';
import { resultFromLeases } from './hostLocalLease.js';
import { claimedHostPorts, CLAIMS_LOCK, releaseHostPortClaim, writeHostPortClaim } from './hostPortClaims.js';
import { checkContainerId, NetworkError } from './networkError.js';
import { createNetns, isNetnsMounted, netnsPathFor, removeNetns } from './networkNamespace.js';
import { removeOrphanMasquerade } from './orphanMasquerade.js';
import { readNetworkState, removeNetworkState, writeNetworkState, type NetworkMode, type NetworkState } from './networkState.js';
import { describeNetwork, type ContainerNetwork } from './recordedNetwork.js';
import { claimHostPorts } from './portAvailability.js';
import type { PortMapping } from './portMapping.js';
import { checkSubnetFree } from './subnetCollision.js';

/** The container's side of the bridge, as podman and docker name it. */
const CONTAINER_IFNAME = 'eth0';

export interface NetworkRequest {
  root: string;
  /** The container's ID: names its netns, its IPAM lease and its iptables rules. */
  containerId: string;
  mode: NetworkMode;
  /** `-p` values (see parsePublish); only the bridge mode publishes ports. */
  ports?: readonly PortMapping[];
  /** Which bridge network; tests pass their own so they never share a bridge. */
  network?: BridgeNetwork;
  /** Called once the netns exists, before the plugins configure it: a runtime may join it from then on. */
  onNetns?: () => void;
}

/** Brings `lo` up inside the namespace through the loopback plugin, as every mode with a netns needs. */
async function loopbackUp(containerId: string, netnsPath: string): Promise<void> {
  await invokePlugin(
    { cniVersion: '1.0.0', name: 'loopback', type: 'loopback' },
    { command: 'ADD', containerId, netns: netnsPath, ifName: 'lo' },
  );
}

/**
 * Networks a container before it starts. `bridge`: a fresh netns with `lo` and
 * an `eth0` on the bridge (address, default route, NAT out) and `ports`
 * published; `none`: a fresh netns with only `lo` up; `host`: nothing (the
 * container shares the host's network). Host ports are checked first; on any
 * failure everything made so far is undone and the one-line NetworkError is
 * thrown.
 */
export async function setupNetwork(req: NetworkRequest): Promise<ContainerNetwork> {
  checkContainerId(req.containerId);
  const ports = req.ports ?? [];
  if (ports.length > 0 && req.mode !== 'bridge') {
    throw new NetworkError('invalid-publish', `ports cannot be published with --network ${req.mode}`);
  }
  if (req.mode === 'host') return { mode: 'host', ports: [] };

  const network = req.network ?? defaultBridgeNetwork;
  const netnsPath = netnsPathFor(req.root, req.containerId);
  // The directories are made while the conflist is read and checked: a container's start waits on each step.
  const [confList] = await Promise.all([
    (async () => {
      const list = req.mode === 'bridge' ? await loadConfList(req.root, network) : undefined;
      if (list) for (const { subnet, bridge } of bridgeSubnets(list)) await checkSubnetFree(subnet, bridge);
      return list;
    })(),
    mkdir(networksDir(req.root), { recursive: true }),
    mkdir(HOST_NETWORK_DIR, { recursive: true }),
  ]);

  // Under the host-wide claims lock, host ports are checked against every
  // root's containers' and recorded (claim, then state) before it is let go.
  let state: NetworkState = await withFileLock(CLAIMS_LOCK, async () => {
    if (await readNetworkState(req.root, req.containerId)) {
      throw new NetworkError('netns', `container ${req.containerId} already has a network; tear it down first`);
    }
    // Others' claims matter only to a container that publishes ports.
    const claimed = ports.length > 0 ? await claimHostPorts(ports, await claimedHostPorts()) : [];
    if (claimed.length > 0) await writeHostPortClaim({ root: req.root, containerId: req.containerId, ports: claimed });
    const initial: NetworkState = { containerId: req.containerId, mode: req.mode, netnsPath, ports: claimed, ...(confList ? { confList } : {}) };
    await writeNetworkState(req.root, initial);
    return initial;
  });
  try {
    await createNetns(req.root, req.containerId);
    req.onNetns?.();
    const target = { containerId: req.containerId, netns: netnsPath, ifName: CONTAINER_IFNAME };
    // lo and eth0 are independent: bring them up side by side to keep start time down.
    // Both settle before any rollback, so DEL never races a plugin still adding.
    const outcomes = await Promise.allSettled([
      loopbackUp(req.containerId, netnsPath),
      confList && addConfList(confList, target, { portMappings: state.ports }, async (result) => {
        state = { ...state, result };
        await writeNetworkState(req.root, state);
      }),
    ]);
    for (const outcome of outcomes) if (outcome.status === 'rejected') throw outcome.reason;
  } catch (e) {
    // Forced: the container's record must not keep a network that a retry of this DEL could
    // never undo (a plugin whose binary is missing), or the container could not be removed.
    await teardownNetwork(req.root, req.containerId, { force: true }).catch((undo: Error) => {
      throw new NetworkError('plugin', `${(e as Error).message} (undoing the network failed too: ${undo.message})`);
    });
    throw e;
  }
  return describeNetwork(state);
}

/**
 * Undoes setupNetwork: CNI DEL through the list (veth, IPAM lease, portmap
 * and firewall rules, masquerade), then the netns mount, then the state.
 * Idempotent and safe after a crash at any point of setup or teardown: what
 * is already gone is skipped, and a failed DEL keeps the state so a retry can
 * finish the job. With `force` (rm -f, podman's way) a failed DEL or a
 * damaged state drops the rest anyway, reported as 'teardown-incomplete' at
 * the end.
 */
export async function teardownNetwork(root: string, containerId: string, opts: { force?: boolean } = {}): Promise<void> {
  checkContainerId(containerId);
  let failed: NetworkError | undefined;
  const passOver = (e: unknown) => {
    if (!opts.force || !(e instanceof NetworkError)) throw e;
    failed ??= e;
  };
  const state = await readNetworkState(root, containerId).catch((e: unknown) => void passOver(e));
  const netnsPath = state?.netnsPath ?? netnsPathFor(root, containerId);
  if (state?.confList) {
    const netnsGone = !(await isNetnsMounted(netnsPath));
    const prevResult = state.result ?? await resultFromLeases(state.confList, containerId, CONTAINER_IFNAME, netnsPath);
    // A missing netns is passed as none at all, as the spec allows for DEL: the plugins then skip what lived inside it.
    const target = { containerId, netns: netnsGone ? '' : netnsPath, ifName: CONTAINER_IFNAME };
    await delConfList(state.confList, target, { portMappings: state.ports }, prevResult).catch(passOver);
    if (netnsGone) await removeOrphanMasquerade(state.confList.name, containerId);
  }
  await removeNetns(netnsPath);
  await removeNetworkState(root, containerId);
  await releaseHostPortClaim(containerId);
  if (failed) throw new NetworkError('teardown-incomplete', `${failed.message}; what its CNI plugins set up may remain`);
}
