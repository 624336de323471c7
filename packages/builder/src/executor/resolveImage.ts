import {
  copySource, formatImageLocation, ImageNotFoundError, InvalidImageNameError, normalizeImageName, OciLayoutDestination,
  type Image, type ImageLocation, type LocalStore, type Platform, type StoredImage,
} from '@tsbuild/oci-layout';
import { nearestName } from '../nearestName.js';

export interface ImageSourceOptions {
  platform: Platform;
  registriesConf?: string;
  tlsVerify?: boolean;
  /** Ask the registry even when the store has the name (`build --pull`). */
  pull?: boolean;
}

/** A name the store does not hold and no registry gave: the pull's own error, and the nearest stored name. */
export class ImageUnavailableError extends Error {
  constructor(
    readonly ref: string,
    readonly pullError: string,
    readonly nearest: string | undefined,
  ) {
    super(`neither in the store nor in a reachable registry (pull: ${pullError})${nearest ? `; did you mean "${nearest}"?` : ''}`);
  }
}

/** The stored name closest to what `ref` means, for a typo in FROM or COPY --from. */
async function nearestStoredName(store: LocalStore, ref: string): Promise<string | undefined> {
  const names = (await store.list()).flatMap((i) => i.name ?? []);
  let full = ref;
  try {
    full = normalizeImageName(ref);
  } catch (e) {
    // Not a valid name at all (the pull said so too): compare the text as written.
    if (!(e instanceof InvalidImageNameError)) throw e;
  }
  return nearestName(full, names);
}

/** The stored image `ref` names, or undefined when the store has no such name (a registry may have it). */
async function storedImage(store: LocalStore, ref: string): Promise<StoredImage | undefined> {
  try {
    return await store.resolve(ref);
  } catch (e) {
    // Only "not in the store" sends the name to a registry: an ambiguous ID prefix or a broken store is the user's to see.
    if (e instanceof ImageNotFoundError) return undefined;
    throw e;
  }
}

/** An image a build starts from or copies from; a registry image's layers may still be arriving. */
export interface ResolvedImage {
  image: Image;
  /** A pull: from where (as written), and its blobs, which are all in the store once `stored` gives the name it is kept under. */
  pull?: { from: string; stored: Promise<string> };
}

/**
 * The image a `FROM` or `COPY --from` names: a name already in the store is
 * used as it is; any other name is pulled from its registry (honouring
 * registries.conf) and kept in the store under its full name, as docker
 * keeps pulled base images; `docker://` always asks the registry; `oci:`,
 * `oci-archive:` and `docker-archive:` sources are read directly, their
 * blobs copied into the store. A pull returns as soon as the registry has
 * given the manifest and config: the build's cache keys need no more.
 */
export async function resolveImage(store: LocalStore, location: ImageLocation, opts: ImageSourceOptions): Promise<ResolvedImage> {
  if (location.transport === 'store' && !opts.pull) {
    const local = await storedImage(store, location.name);
    if (local) return { image: await store.layout.readImage(local.descriptor, opts.platform) };
  }
  // The registry client (undici and all) is only loaded when an image has to come from elsewhere.
  const registry = await import('@tsbuild/registry');
  const sourceOptions = {
    platform: opts.platform,
    ...(opts.registriesConf ? { registriesConf: opts.registriesConf } : {}),
    ...(opts.tlsVerify !== undefined ? { tlsVerify: opts.tlsVerify } : {}),
  };
  if (location.transport === 'store' || location.transport === 'docker') {
    const ref = location.transport === 'store' ? location.name : location.reference;
    const pull = await registry.startPull(store, ref, sourceOptions).catch(async (e: unknown) => {
      // Only "no registry gives it" (refused, unreachable, not a name registries.conf lets us pull) makes the name unavailable;
      // a store that cannot take the image or bad credentials are the user's to see as they are.
      const unavailable = e instanceof registry.RegistryError || e instanceof registry.TransferError || e instanceof registry.RegistriesConfError || e instanceof InvalidImageNameError;
      if (!unavailable) throw e;
      throw new ImageUnavailableError(ref, e.message.replace(/:?\n\s*/g, '; '), await nearestStoredName(store, ref));
    });
    // A platform was asked for, so the registry's index (if any) was resolved to one image.
    if (pull.source.kind !== 'image') throw new Error(`${ref}: the registry gave an image index where an image was expected`);
    const remote = pull.source.image;
    const layers = remote.layers.map((l) => store.layout.storedLayer(l.descriptor, l.diffId));
    return { image: { ...remote, layers }, pull: { from: formatImageLocation(location), stored: pull.stored.then(({ name }) => name) } };
  }
  const transports = await registry.ImageTransports.create({ ...sourceOptions, openStore: async () => store });
  try {
    const opened = await transports.openSource(location);
    try {
      // Unnamed in the store: the image built on it names these blobs; the build's lease protects them meanwhile.
      const descriptor = await copySource(opened.source, new OciLayoutDestination(store.layout, async () => undefined));
      return { image: await store.layout.readImage(descriptor, opts.platform) };
    } finally {
      await opened.close();
    }
  } finally {
    await transports.close();
  }
}
