import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { isConfList, networksDir, type ConfList } from './bridgeNetwork.js';
import type { CniResult } from './cniPlugin.js';
import { NetworkError } from './networkError.js';
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

/** The container's network state, checked: a damaged file is a NetworkError ('damaged-state'), never a wrong teardown. */
export async function readNetworkState(root: string, containerId: string): Promise<NetworkState | undefined> {
  const file = stateFile(root, containerId);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw e;
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    if (!(e instanceof SyntaxError)) throw e;
  }
  if (!isNetworkState(value, containerId)) throw new NetworkError('damaged-state', `network state ${file} is damaged`);
  return value;
}

const MODES: readonly unknown[] = ['bridge', 'none', 'host'] satisfies NetworkMode[];

function isNetworkState(value: unknown, containerId: string): value is NetworkState {
  const state = value as Partial<NetworkState> | null;
  return typeof state === 'object' && state !== null && state.containerId === containerId && MODES.includes(state.mode)
    && (state.netnsPath === undefined || typeof state.netnsPath === 'string')
    && (state.confList === undefined || isConfList(state.confList))
    && Array.isArray(state.ports) && (state.result === undefined || (typeof state.result === 'object' && state.result !== null));
}

export async function removeNetworkState(root: string, containerId: string): Promise<void> {
  await rm(stateFile(root, containerId), { force: true });
}
