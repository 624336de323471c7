import type { Command } from 'commander';
import type { LocalStore } from '@tsbuild/oci-layout';
import { ContainerStore } from '../runtime/containerStore.js';
import { openStore } from './storeOption.js';

export async function openContainers(cmd: Command): Promise<{ store: LocalStore; containers: ContainerStore }> {
  const store = await openStore(cmd);
  return { store, containers: new ContainerStore(store) };
}
