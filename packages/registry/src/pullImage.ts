import type { CopyOptions, Descriptor, LocalStore } from '@tsbuild/oci-layout';
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
    let name = '';
    const { descriptor } = await transports.copy({ transport: 'docker', reference: reference.replace(/^docker:\/\//, '') }, (sourceName) => ({ transport: 'store', name: (name = sourceName!) }), opts);
    return { name, descriptor };
  } finally {
    await transports.close();
  }
}
