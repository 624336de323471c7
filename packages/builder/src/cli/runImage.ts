import { hostPlatform, ImageNotFoundError, type LocalStore, type StoredImage } from '@tsbuild/oci-layout';
import { ContainerError } from '../runtime/containerError.js';

export type PullPolicy = 'missing' | 'always' | 'never';

export function parsePullPolicy(text: string): PullPolicy {
  if (text === 'missing' || text === 'always' || text === 'never') return text;
  throw new ContainerError('invalid-option', `invalid --pull ${JSON.stringify(text)}: expected missing, always or never`);
}

/**
 * The image `run` starts: from the store, or pulled through the registry
 * client (registries.conf honoured) when it is missing or `--pull always`
 * says so. Either failure is tsbuild's (exit 125).
 */
export async function imageForRun(store: LocalStore, ref: string, policy: PullPolicy, tlsVerify: boolean): Promise<StoredImage> {
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
    return await pullImage(store, ref, { platform: hostPlatform(), tlsVerify });
  } catch (e) {
    throw new ContainerError('not-found', `image ${ref} is not in the store and cannot be pulled: ${(e as Error).message}`);
  }
}
