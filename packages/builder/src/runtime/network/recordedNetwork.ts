import { checkContainerId } from './networkError.js';
import { readNetworkState, type NetworkMode, type NetworkState } from './networkState.js';
import type { PortMapping } from './portMapping.js';

/**
 * What inspect, ps and port read of a container's network, apart from the CNI plugins, IPAM
 * and iptables code that sets it up and tears it down: listing containers loads none of that (#14).
 */

/** A container's network as set up: what the runtime spec, inspect, ps and port need. */
export interface ContainerNetwork {
  mode: NetworkMode;
  /** The netns to put in the runtime spec's network namespace path; undefined for host. */
  netnsPath?: string;
  ipAddress?: string;
  prefixLength?: number;
  gateway?: string;
  macAddress?: string;
  /** Host ports as published (host port 0 replaced by the one chosen). */
  ports: PortMapping[];
}

/** The network a recorded state describes. */
export function describeNetwork(state: NetworkState): ContainerNetwork {
  const ip = state.result?.ips?.find((i) => !i.address.includes(':'));
  const [address, prefix] = ip ? ip.address.split('/') : [];
  const iface = ip?.interface === undefined ? undefined : state.result?.interfaces?.[ip.interface];
  return {
    mode: state.mode,
    ...(state.netnsPath ? { netnsPath: state.netnsPath } : {}),
    ...(address ? { ipAddress: address, prefixLength: Number(prefix) } : {}),
    ...(ip?.gateway ? { gateway: ip.gateway } : {}),
    ...(iface?.mac ? { macAddress: iface.mac } : {}),
    ports: state.ports,
  };
}

/** The container's network as recorded, for inspect/ps/port; undefined when none was set up. */
export async function readContainerNetwork(root: string, containerId: string): Promise<ContainerNetwork | undefined> {
  checkContainerId(containerId);
  const state = await readNetworkState(root, containerId);
  return state && describeNetwork(state);
}
