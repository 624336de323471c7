import {
  explicitTransport, formatImageLocation, hostPlatform, InvalidImageNameError, LocalStore, openDockerArchive, openOciArchiveSource,
  openOciDirSource, parseImageLocation, storeRoot, type CopySource, type Image, type ImageLocation,
} from '@tsbuild/oci-layout';
import { TsdiveError } from '../tsdiveError.js';

export interface ImageSource {
  image: Image;
  /** dive's layer ids when the source has its own (docker-save directories). */
  layerIds?: string[];
  /** Releases what reading the image needs (an unpacked archive); layers cannot be read after it. */
  close(): Promise<void>;
}

const nothingToClose = async () => undefined;

export interface ImageSourceOptions {
  /** dive's `--source`: how to read an IMAGE that has no `transport:` prefix. */
  source?: string;
  /** Local store root (`--root`). */
  root?: string;
}

/** IMAGE as the one image-location parser reads it, with dive's `--source` deciding what a bare IMAGE is. */
function locationOf(text: string, source: string | undefined): ImageLocation {
  if (explicitTransport(text) !== undefined || source === undefined || source === 'store') return parseImageLocation(text);
  if (source === 'docker-archive' || source === 'oci' || source === 'oci-archive') return parseImageLocation(`${source}:${text}`);
  if (source === 'docker' || source === 'podman') {
    throw new TsdiveError('image-source', `--source ${source}: tsdive reads images without a daemon; save the image (${source} save -o image.tar ${text}) and run tsdive docker-archive:image.tar`);
  }
  throw new TsdiveError('image-source', `unknown --source "${source}" (use docker-archive, oci or store)`);
}

/** The one image of a source read without `all`; an index here means the platform choice found several. */
function singleImage(source: CopySource, loc: ImageLocation): Image {
  if (source.kind !== 'image') throw new TsdiveError('image-source', `${formatImageLocation(loc)} holds an index of several images; name one as ${loc.transport}:PATH:REF`);
  return source.image;
}

/**
 * Pulls a registry image into the store as `tsbuild pull` does (the registry
 * package's transports, registries.conf honoured), and names it by its
 * fully qualified reference. The registry client loads only for docker://.
 */
async function pullIntoStore(store: LocalStore, reference: string): Promise<Image> {
  const registry = await import('@tsbuild/registry');
  process.stderr.write(`Pulling ${reference}\n`);
  try {
    const { descriptor } = await registry.pullImage(store, reference, { platform: hostPlatform() });
    return await store.layout.readImage(descriptor, hostPlatform());
  } catch (e) {
    // The registry's refusals and a reference no registry can be asked for; a store that cannot take the image surfaces as it is.
    const refused = e instanceof registry.RegistryError || e instanceof registry.TransferError || e instanceof registry.RegistriesConfError || e instanceof InvalidImageNameError;
    if (!refused) throw e;
    throw new TsdiveError('image-source', `cannot pull ${reference}: ${e.message.replace(/:?\n\s*/g, '; ')}`, { cause: e });
  }
}

/**
 * Resolves the IMAGE argument to an image: `docker-archive:FILE[:REF]`,
 * `oci:DIR[:REF]`, `oci-archive:FILE[:REF]`, `docker://REF`, or a name in the local store.
 */
export async function openImageSource(text: string, opts: ImageSourceOptions = {}): Promise<ImageSource> {
  const loc = locationOf(text, opts.source);
  switch (loc.transport) {
    case 'docker-archive': {
      const image = await openDockerArchive(loc.path, loc.ref);
      return { image, layerIds: image.layerPaths.map((p) => p.split('/')[0]!), close: nothingToClose };
    }
    case 'oci':
      return { image: singleImage(await openOciDirSource(loc.path, loc.ref, { platform: hostPlatform() }), loc), close: nothingToClose };
    case 'oci-archive': {
      const archive = await openOciArchiveSource(loc.path, loc.ref, { platform: hostPlatform() });
      if (archive.source.kind !== 'image') await archive.close();
      return { image: singleImage(archive.source, loc), close: archive.close };
    }
    case 'store': {
      const store = await LocalStore.open(storeRoot(opts.root));
      return { image: await store.readImage(loc.name), close: nothingToClose };
    }
    case 'docker':
      return { image: await pullIntoStore(await LocalStore.open(storeRoot(opts.root)), loc.reference), close: nothingToClose };
  }
}
