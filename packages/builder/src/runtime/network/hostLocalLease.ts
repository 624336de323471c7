import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { ConfList } from './bridgeNetwork.js';
import type { CniResult } from './cniPlugin.js';

interface HostLocalIpam {
  type: 'host-local';
  dataDir?: string;
  ranges?: { subnet: string; gateway?: string }[][];
}

/** host-local's default store when the conflist names none. */
const HOST_LOCAL_DEFAULT_DIR = '/var/lib/cni/networks';

/**
 * Rebuilds the part of an ADD result that DEL needs from host-local's lease
 * files (one file per address, named by it, holding "<containerId>\r\n<ifname>").
 * Used when a setup died after the bridge plugin leased an address but before
 * its result was recorded: without a prevResult the firewall plugin cannot
 * find the rules it made for that address.
 */
export async function resultFromLeases(list: ConfList, containerId: string, ifName: string, netnsPath: string): Promise<CniResult | undefined> {
  const ipam = list.plugins.find((p) => (p.ipam as HostLocalIpam | undefined)?.type === 'host-local')?.ipam as HostLocalIpam | undefined;
  const range = ipam?.ranges?.[0]?.[0];
  if (!ipam || !range) return undefined;
  const dir = join(ipam.dataDir ?? HOST_LOCAL_DEFAULT_DIR, list.name);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  const prefix = range.subnet.split('/')[1];
  const ips: NonNullable<CniResult['ips']> = [];
  for (const name of names.filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n))) {
    const [owner, iface] = (await readFile(join(dir, name), 'utf8')).split(/\r?\n/);
    if (owner === containerId && iface === ifName) ips.push({ interface: 0, address: `${name}/${prefix}`, ...(range.gateway ? { gateway: range.gateway } : {}) });
  }
  if (ips.length === 0) return undefined;
  return { cniVersion: list.cniVersion, interfaces: [{ name: ifName, sandbox: netnsPath }], ips };
}
