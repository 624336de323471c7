import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { batchedMap } from '../batchedMap.js';
import { HOST_NETWORK_DIR } from './bridgeNetwork.js';
import { readNetworkState } from './networkState.js';
import { NetworkError } from './networkError.js';
import type { PortMapping } from './portMapping.js';

/**
 * Host ports published by the containers of every root on this host. portmap
 * publishes by DNAT, which holds no socket a bind probe would find, and
 * roots keep their network state apart: without this, a second root could
 * publish a port the first already forwards and one of them would silently
 * lose its traffic. One file per container, taken under CLAIMS_LOCK.
 */
const CLAIMS_DIR = join(HOST_NETWORK_DIR, 'ports');
/** How many claims are read side by side. */
const CLAIMS_AT_ONCE = 64;
export const CLAIMS_LOCK = join(HOST_NETWORK_DIR, 'ports.lock');

interface HostPortClaim {
  root: string;
  containerId: string;
  ports: PortMapping[];
}

const claimFile = (containerId: string) => join(CLAIMS_DIR, `${containerId}.json`);

/**
 * Every live claim's ports. A claim whose root no longer records that
 * container's network (the root was deleted, or a crash came between the
 * claim and the state) holds nothing.
 */
export async function claimedHostPorts(): Promise<PortMapping[]> {
  let names: string[];
  try {
    names = await readdir(CLAIMS_DIR);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw e;
  }
  // Side by side: under the host-wide lock, one after another grew with every container that publishes ports.
  const held = await batchedMap(names.filter((n) => n.endsWith('.json') && !n.startsWith('.')), CLAIMS_AT_ONCE, async (name) => {
    let claim: HostPortClaim;
    try {
      claim = JSON.parse(await readFile(join(CLAIMS_DIR, name), 'utf8')) as HostPortClaim;
    } catch (e) {
      // Released by its container's teardown since the listing.
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
      throw e;
    }
    // A damaged state still names a container that may hold its ports: they stay taken until it is removed.
    const live = await readNetworkState(claim.root, claim.containerId).catch((e: unknown) => {
      if (e instanceof NetworkError && e.kind === 'damaged-state') return true;
      throw e;
    });
    return live ? claim.ports : [];
  });
  return held.flat();
}

/** Records a container's host ports; call under CLAIMS_LOCK, after checking them against claimedHostPorts. */
export async function writeHostPortClaim(claim: HostPortClaim): Promise<void> {
  await mkdir(CLAIMS_DIR, { recursive: true });
  const tmp = join(CLAIMS_DIR, `.${claim.containerId}.${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, JSON.stringify(claim));
  await rename(tmp, claimFile(claim.containerId));
}

export async function releaseHostPortClaim(containerId: string): Promise<void> {
  await rm(claimFile(containerId), { force: true });
}
