import type { Readable } from 'node:stream';
import type { Descriptor, Digest, ImageDestination } from '@tsbuild/oci-layout';
import type { ImageTransports, RemoteManifest } from '@tsbuild/registry';
import type { CacheLocation } from './cacheManifest.js';

/**
 * A cache in a registry repository, read through the same client as pulls
 * (auth, registries.conf mirrors, --tls-verify): the first candidate of the
 * ref that answers is the one its blobs are read from.
 */
export async function openRegistryCache(transports: ImageTransports, ref: string): Promise<CacheLocation> {
  const [target] = transports.resolveDockerReference(ref);
  if (!target) throw new Error(`"${ref}" names no registry to read a cache from`);
  const reference = target.name.digest ?? target.name.tag ?? 'latest';
  let failure: unknown = new Error(`no registry is configured for ${ref}`);
  for (const candidate of target.candidates) {
    const client = transports.repository(candidate);
    let top: RemoteManifest;
    try {
      top = await client.getManifest(reference);
    } catch (e) {
      // The next mirror may have it; the last failure is the one reported.
      failure = e;
      continue;
    }
    return {
      async readManifest(digest?: Digest) {
        return digest ? client.getManifest(digest) : top;
      },
      async openBlob(descriptor: Descriptor): Promise<Readable> {
        return client.openBlob(descriptor);
      },
      fileDownload: (descriptor: Descriptor) => client.fileDownload(descriptor),
    };
  }
  throw failure;
}

/** Where `--cache-to type=registry` pushes: the same destination (HEAD skips, mounts, resumable uploads) as `tsbuild push`. */
export async function registryCacheDestination(transports: ImageTransports, ref: string): Promise<ImageDestination> {
  return (await transports.openDestination({ transport: 'docker', reference: ref })).destination;
}
