import type { Command } from 'commander';
import type { LocalStore } from '@tsbuild/oci-layout';
import { ContainerStore } from '../runtime/containerStore.js';
import { openStore, type OpenStoreOptions } from './storeOption.js';

export async function openContainers(cmd: Command, opts: OpenStoreOptions = {}): Promise<{ store: LocalStore; containers: ContainerStore }> {
  const store = await openStore(cmd, opts);
  return { store, containers: new ContainerStore(store) };
}
