import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { networksDir, type ConfList } from './bridgeNetwork.js';
import type { CniResult } from './cniPlugin.js';
import type { PortMapping } from './portMapping.js';

export type NetworkMode = 'bridge' | 'none' | 'host';

/**
 * What teardown needs, written before anything is created and updated after
 * each plugin, so teardown works after a crash at any point: the conflist as
 * it was used (a later edit of the file must not change what DEL undoes), the
 * ports given to portmap, and the newest CNI result.
 */
export interface NetworkState {
  containerId: string;
  mode: NetworkMode;
  netnsPath?: string;
  confList?: ConfList;
  ports: PortMapping[];
  result?: CniResult;
}

function statesDir(root: string): string {
  return join(networksDir(root), 'containers');
}

function stateFile(root: string, containerId: string): string {
  return join(statesDir(root), `${containerId}.json`);
}

export async function writeNetworkState(root: string, state: NetworkState): Promise<void> {
  await mkdir(statesDir(root), { recursive: true });
  const tmp = join(statesDir(root), `.${state.containerId}.${randomBytes(4).toString('hex')}`);
  await writeFile(tmp, JSON.stringify(state));
  await rename(tmp, stateFile(root, state.containerId));
}

export async function readNetworkState(root: string, containerId: string): Promise<NetworkState | undefined> {
  try {
    return JSON.parse(await readFile(stateFile(root, containerId), 'utf8')) as NetworkState;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
}

export async function removeNetworkState(root: string, containerId: string): Promise<void> {
  await rm(stateFile(root, containerId), { force: true });
}
