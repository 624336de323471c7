import { copySource, type CopyOptions, type Descriptor, type LocalStore } from '@tsbuild/oci-layout';
import { ImageTransports, type TransportOptions } from './imageTransports.js';

export interface PullResult {
  /** The fully qualified name the image is stored under, e.g. `docker.io/library/alpine:3.20`. */
  name: string;
  descriptor: Descriptor;
}

/**
 * Pulls a registry image into the store (honouring registries.conf: aliases,
 * search registries, mirrors, blocked) and names it by its fully qualified
 * reference. Blobs the store already has are not fetched again.
 */
export async function pullImage(store: LocalStore, reference: string, opts: Omit<TransportOptions, 'openStore'> & CopyOptions = {}): Promise<PullResult> {
  const transports = await ImageTransports.create({ ...opts, openStore: async () => store });
  try {
    const ref = reference.replace(/^docker:\/\//, '');
    const source = await transports.openSource({ transport: 'docker', reference: ref });
    try {
      const name = source.name!;
      const destination = await transports.openDestination({ transport: 'store', name });
      const descriptor = await store.lease(() => copySource(source.source, destination.destination, opts));
      return { name, descriptor };
    } finally {
      await source.close();
    }
  } finally {
    await transports.close();
  }
}
