import { readFile, mkdir, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { NetworkError } from './networkError.js';

/** A bridge network: a Linux bridge on the host, one IPv4 subnet, NAT out, ports published by DNAT. */
export interface BridgeNetwork {
  /** CNI network name: names the conflist and appears in the plugins' iptables comments and chains. */
  name: string;
  /** Host bridge device (at most 15 characters). */
  bridge: string;
  /** IPv4 CIDR the containers' addresses come from. */
  subnet: string;
  /** The bridge's own address inside `subnet`: the containers' default route. */
  gateway: string;
}

/**
 * The default network. 10.99/16 rather than podman's 10.88/16, so tsbuild and
 * podman (or docker's 172.17/16) can run side by side on one host. Every root
 * shares it, and its leases (see IPAM_LEASES_DIR).
 */
export const defaultBridgeNetwork: BridgeNetwork = {
  name: 'tsbuild',
  bridge: 'tsbuild0',
  subnet: '10.99.0.0/16',
  gateway: '10.99.0.1',
};

/** What every root shares on this host: the bridge's leases and the published host ports. */
export const HOST_NETWORK_DIR = '/run/tsbuild/cni';

/**
 * host-local's lease files, one directory per network name, for every root:
 * a bridge is one device on the host, so two roots (a user's and a test's
 * temp root) putting containers on tsbuild0 must draw from one pool or they
 * would hand out the same address. Under /run (tmpfs), as podman keeps its
 * IPAM database there: a lease means nothing after a reboot, when no netns
 * survives, and a stale one would leak an address forever.
 */
export const IPAM_LEASES_DIR = join(HOST_NETWORK_DIR, 'networks');

/** A CNI network configuration list (the `.conflist` file), as the spec defines it. */
export interface ConfList {
  cniVersion: string;
  name: string;
  plugins: ({ type: string } & Record<string, unknown>)[];
}

/** Where a root keeps its network configuration and per-container network state. */
export function networksDir(root: string): string {
  return join(root, 'networks');
}

/**
 * The conflist podman 4 and nerdctl write for a bridge network: bridge (with
 * host-local IPAM, gateway and masquerade), portmap (takes `portMappings`
 * from runtimeConfig) and firewall. host-local keeps its leases host-wide
 * (IPAM_LEASES_DIR): the bridge is shared by every root.
 */
function bridgeConfList(network: BridgeNetwork): ConfList {
  return {
    cniVersion: '1.0.0',
    name: network.name,
    plugins: [
      {
        type: 'bridge',
        bridge: network.bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: {
          type: 'host-local',
          routes: [{ dst: '0.0.0.0/0' }],
          ranges: [[{ subnet: network.subnet, gateway: network.gateway }]],
          dataDir: IPAM_LEASES_DIR,
        },
      },
      { type: 'portmap', capabilities: { portMappings: true } },
      { type: 'firewall', backend: 'iptables' },
    ],
  };
}

function parseConfList(text: string, file: string): ConfList {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    throw new NetworkError('plugin', `invalid CNI network configuration ${file}: ${(e as SyntaxError).message}`);
  }
  if (!isConfList(value)) throw new NetworkError('plugin', `invalid CNI network configuration ${file}: needs cniVersion, name and plugins with a type each`);
  return value;
}

/** A conflist's shape, with plugin types that name a file in the plugin directory and nothing outside it. */
export function isConfList(value: unknown): value is ConfList {
  const list = value as Partial<ConfList> | null;
  return typeof list === 'object' && list !== null && typeof list.cniVersion === 'string' && typeof list.name === 'string' && Array.isArray(list.plugins)
    && list.plugins.every((p) => typeof p === 'object' && p !== null && typeof p.type === 'string' && /^[A-Za-z0-9_-]+$/.test(p.type));
}

/**
 * The network's conflist from `<root>/networks/<name>.conflist`, written from
 * `network` the first time so a person can read (and edit) what tsbuild uses.
 */
export async function loadConfList(root: string, network: BridgeNetwork): Promise<ConfList> {
  const file = join(networksDir(root), `${network.name}.conflist`);
  try {
    return parseConfList(await readFile(file, 'utf8'), file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  const list = bridgeConfList(network);
  await mkdir(networksDir(root), { recursive: true });
  const tmp = `${file}.${randomBytes(4).toString('hex')}`;
  await writeFile(tmp, `${JSON.stringify(list, null, 2)}\n`);
  await rename(tmp, file);
  return list;
}

/** The subnets a conflist's bridge plugins hand out, with their bridge: what must not collide with host routes. */
export function bridgeSubnets(list: ConfList): { subnet: string; bridge: string }[] {
  return list.plugins.filter((p) => p.type === 'bridge').flatMap((p) => {
    const ranges = ((p.ipam as { ranges?: { subnet?: unknown }[][] } | undefined)?.ranges ?? []).flat();
    return ranges.flatMap((r) => (typeof r.subnet === 'string' ? [{ subnet: r.subnet, bridge: String(p.bridge ?? 'cni0') }] : []));
  });
}
