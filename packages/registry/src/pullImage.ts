import type { CopyOptions, CopySource, Descriptor, LocalStore } from '@tsbuild/oci-layout';
import { awaitedElsewhere } from '@tsbuild/oci-layout';
import { ImageTransports, type TransportOptions } from './imageTransports.js';

export interface PullResult {
  /** The fully qualified name the image is stored under, e.g. `docker.io/library/alpine:3.20`. */
  name: string;
  descriptor: Descriptor;
}

export interface StartedPull {
  /** The fully qualified name the image will be stored under. */
  name: string;
  /** What the registry gave: manifests and config are read; blobs are still on their way (`stored`). */
  source: CopySource;
  /** Settles once every blob is in the store and the image is named. */
  stored: Promise<PullResult>;
}

type PullOptions = Omit<TransportOptions, 'openStore'> & CopyOptions;

/**
 * A pull in two halves: it returns once the registry has answered with the
 * image's manifest and config, so a build can work out its cache keys while
 * the layers download (`stored`), as BuildKit resolves a base before pulling it.
 */
export async function startPull(store: LocalStore, reference: string, opts: PullOptions = {}): Promise<StartedPull> {
  const transports = await ImageTransports.create({ ...opts, openStore: async () => store });
  let opened;
  try {
    opened = await transports.openSource({ transport: 'docker', reference: reference.replace(/^docker:\/\//, '') });
  } catch (e) {
    await transports.close();
    throw e;
  }
  const name = opened.name!;
  const copied = transports.copyOpened(opened, { transport: 'store', name }, opts).finally(() => transports.close());
  // Whoever starts a pull awaits `stored` at some point, but maybe only after other work that can fail first.
  const stored = awaitedElsewhere(copied.then(({ descriptor }) => ({ name, descriptor })));
  return { name, source: opened.source, stored };
}

/**
 * Pulls a registry image into the store (honouring registries.conf: aliases,
 * search registries, mirrors, blocked) and names it by its fully qualified
 * reference. Blobs the store already has are not fetched again.
 */
export async function pullImage(store: LocalStore, reference: string, opts: PullOptions = {}): Promise<PullResult> {
  return (await startPull(store, reference, opts)).stored;
}
