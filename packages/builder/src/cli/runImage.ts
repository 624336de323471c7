import { formatImageLocation, hostPlatform, ImageLocationError, ImageNotFoundError, parseImageLocation, type ImageLocation, type LocalStore, type StoredImage } from '@tsbuild/oci-layout';
import type { TransportOptions } from '@tsbuild/registry';
import { ContainerError } from '../runtime/containerError.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export function parsePullPolicy(text: string): PullPolicy {
  if (text === 'missing' || text === 'always' || text === 'never') return text;
  throw new ContainerError('invalid-option', `invalid --pull ${JSON.stringify(text)}: expected missing, always or never`);
}

/** The name `run` looks up and pulls: a store name or ID, or `docker://REF` (podman's spelling for "from a registry"). */
function runReference(text: string): string {
  let loc: ImageLocation;
  try {
    loc = parseImageLocation(text);
  } catch (e) {
    // run's bad input is tsbuild's failure (125), as its failed pulls are.
    if (!(e instanceof ImageLocationError)) throw e;
    throw new ContainerError('invalid-option', e.message);
  }
  if (loc.transport === 'store') return loc.name;
  if (loc.transport === 'docker') return loc.reference;
  throw new ContainerError('invalid-option', `run starts an image from the store or a registry, not ${formatImageLocation(loc)} (tsbuild copy ${text} NAME first)`);
}

/**
 * The image `run` starts: from the store, or pulled through the registry
 * client (registries.conf honoured) when it is missing or `--pull always`
 * says so. Either failure is tsbuild's (exit 125).
 */
export async function imageForRun(store: LocalStore, text: string, policy: PullPolicy, registry: TransportOptions): Promise<StoredImage> {
  const ref = runReference(text);
  if (policy !== 'always') {
    try {
      return await store.resolve(ref);
    } catch (e) {
      if (!(e instanceof ImageNotFoundError)) throw e;
      if (policy === 'never') throw new ContainerError('not-found', e.message);
    }
  }
  // The registry client (undici and all) is only loaded when an image has to come from a registry.
  const { pullImage } = await import('@tsbuild/registry');
  process.stderr.write(`Pulling ${ref}\n`);
  try {
    return await pullImage(store, ref, { ...registry, platform: hostPlatform() });
  } catch (e) {
    throw new ContainerError('not-found', `image ${ref} is not in the store and cannot be pulled: ${(e as Error).message}`);
  }
}
